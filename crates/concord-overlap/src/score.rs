//! Judging one pair of passages: the signals (embedding similarity relative to each
//! passage's own neighbourhood, IDF-weighted lexical overlap on folded text, shared rare
//! phrases and anchors, clashing figures, negation and opposed direction words, an
//! alignment of the folded texts) and the label they earn.
//!
//! Two labels follow from the text alone: `duplicate` (the same text, possibly in the
//! other script: long common runs, same figures, nothing moved) and `boilerplate` (both
//! sides are notices, see [`concord_text::is_boilerplate`]; a notice never agrees with
//! reporting). Every other pair is labelled by the trained judge ([`crate::judge`]):
//! its most probable class, with `related` for a pair it calls `none` that is still
//! unusually close for its neighbourhood.

use crate::features::{figure_agreement, name_gram, Features, Lexicon, OPPOSED};
use crate::judge::{PairFeatures, PairJudge, Probabilities};
use serde::{Deserialize, Serialize};
use similar::{capture_diff_slices, Algorithm, DiffOp};

/// What two passages share. The order (weakest first) is the order of `min_label`;
/// `boilerplate` sits below everything and is reported apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Both sides are notices, disclaimers or prompts, not reporting.
    Boilerplate,
    /// Semantically close for their neighbourhood, without a shared claim.
    Related,
    /// The same claim or judgement in other words.
    Agree,
    /// The same point, opposed or contradictory: other figures for the same thing,
    /// one denies what the other affirms, opposite judgements.
    Conflict,
    /// The same specific fact, number, quote or event.
    Overlap,
    /// The same text, possibly in the other Chinese script or width.
    Duplicate,
}

impl Label {
    pub const ALL: [Label; 6] = [
        Label::Duplicate,
        Label::Overlap,
        Label::Conflict,
        Label::Agree,
        Label::Related,
        Label::Boilerplate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Boilerplate => "boilerplate",
            Label::Related => "related",
            Label::Agree => "agree",
            Label::Conflict => "conflict",
            Label::Overlap => "overlap",
            Label::Duplicate => "duplicate",
        }
    }

    /// Whether the pair is a finding: the passages share or dispute a claim.
    pub fn is_finding(self) -> bool {
        self >= Label::Agree
    }
}

impl std::str::FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Label::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            format!(
                "unknown label {s:?} (expected duplicate, overlap, conflict, agree, related or boilerplate)"
            )
        })
    }
}

/// Folded text shorter than this is never called a duplicate (too little to tell).
const DUPLICATE_MIN_CHARS: usize = 8;
/// Share of the longer passage covered by long common runs for `duplicate`.
const DUPLICATE_RATIO: f32 = 0.8;
/// Share of the shorter passage for `duplicate` when one contains the other.
const CONTAINED_RATIO: f32 = 0.9;
const CONTAINED_MIN_CHARS: usize = 30;
/// Text that differs between the two sides but reappears elsewhere on the other side
/// (moved, not changed) with at least this many characters means the passages say the
/// same words in another order, which can change what they say: not a duplicate.
const MOVED_MIN_CHARS: usize = 2;
/// Common runs shorter than this are not counted as copied text.
const RUN_MIN_CHARS: usize = 4;
/// A gram is rare when at most this share of passages (and at least 2) contain it.
const RARE_SHARE: f32 = 0.02;
/// Shared numbers count from two digits up (a lone digit is too common to pin a fact).
const NUMBER_MIN_DIGITS: usize = 2;
/// ... and for `related`.
const RELATED_MIN_Z: f32 = 2.0;

/// A span of the original passage text, in characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The same folded text found in both passages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedSpan {
    pub a: Span,
    pub b: Span,
}

/// Why a pair got its label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Cosine similarity of the embeddings.
    pub cosine: f32,
    /// Cosine in standard deviations above the two passages' background similarity.
    pub z: f32,
    /// Cosine over the mean similarity of each side's nearest other-article passages.
    pub margin: f32,
    /// Whether each side is among the other's two nearest other-article passages.
    pub mutual: bool,
    /// IDF-weighted share of the shorter passage's grams found in the other.
    pub lexical: f32,
    /// Share of the longer passage covered by common runs of folded text.
    pub copied: f32,
    /// Characters of text that differs in place but appears moved on the other side.
    pub moved: usize,
    /// Shared rare grams (a Latin word or number is one gram on its own).
    pub rare_shared: f32,
    /// Numbers and Latin names both passages mention.
    pub anchors: Vec<String>,
    /// Longest common runs of text, longest first.
    pub shared: Vec<SharedSpan>,
    /// Numbers (two digits and up) each side has and the other lacks.
    #[serde(default)]
    pub numbers_clash: usize,
    /// Units both sides count with figures, only with other values (`11人` and `13人`).
    #[serde(default)]
    pub figures_clash: usize,
    /// One side negates and the other does not.
    #[serde(default)]
    pub negation_differs: bool,
    /// The sides take opposite poles of one concept (rise/fall, confirm/deny...).
    #[serde(default)]
    pub opposed: bool,
    /// How much the two passages' articles share as a whole (0 to 1).
    #[serde(default)]
    pub affinity: f32,
    /// What the trained judge gives each class (absent for rule labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Probabilities>,
}

/// The verdict on one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub label: Option<Label>,
    /// Strength of the correspondence in [0, 1], for ranking: the judge's probability
    /// that the pair is a finding, or the copied share for rule labels.
    pub score: f32,
    /// The signals the judge read (for training and inspection).
    #[serde(skip)]
    pub features: PairFeatures,
    pub evidence: Evidence,
}

/// The embedding signals of a pair.
#[derive(Debug, Clone, Copy)]
pub struct Semantic {
    pub cosine: f32,
    /// Cosine in standard deviations above the two passages' background similarity.
    pub z: f32,
    /// Cosine over the mean similarity of each side's nearest passages of other articles.
    pub margin: f32,
    /// Whether each side is among the other's two nearest passages of other articles.
    pub mutual: bool,
    /// How much the two passages' articles share as a whole (see
    /// [`crate::Neighbourhoods::affinity`]): one event or only one topic.
    pub affinity: f32,
    /// How many sides (0-2) find the other the closest passage of its article.
    pub best_in_article: f32,
    /// The cosine over the next-closest passage of the other article, averaged over
    /// both sides (negative when another passage there is closer).
    pub article_gap: f32,
    /// Cosine once each side has its article's mean vector taken away (what the two
    /// share beyond their articles' topic and language).
    pub residual: f32,
}

/// What is known about one side of a pair.
pub struct Side<'a> {
    pub text: &'a str,
    pub features: &'a Features,
}

/// Labels the pair `(a, b)` from its embedding signals and its text.
pub fn judge(a: Side, b: Side, lexicon: &Lexicon, sem: Semantic) -> Verdict {
    let Semantic {
        cosine,
        z,
        margin,
        mutual,
        affinity,
        best_in_article,
        article_gap,
        residual,
    } = sem;
    let rare_df = ((lexicon.passages() as f32 * RARE_SHARE).ceil() as u32).max(2);
    let (mut shared_w, mut rare) = (0.0f32, 0.0f32);
    for g in intersect(&a.features.grams, &b.features.grams) {
        shared_w += lexicon.idf(g);
        if lexicon.df(g) <= rare_df {
            rare += 1.0;
        }
    }
    let weight = |f: &Features| f.grams.iter().map(|&g| lexicon.idf(g)).sum::<f32>();
    let denom = weight(a.features).min(weight(b.features));
    let lexical = if denom > 0.0 { shared_w / denom } else { 0.0 };
    let anchors: Vec<String> = a
        .features
        .anchors
        .iter()
        .filter(|x| b.features.anchors.binary_search(x).is_ok())
        .cloned()
        .collect();

    let is_number = |x: &&String| x.bytes().filter(u8::is_ascii_digit).count() >= NUMBER_MIN_DIGITS;
    // A year alone pins little (every report of 2024 shares it), nor does a common
    // figure: shared numbers count when rare in the collection, years apart.
    let is_year =
        |x: &&String| x.len() == 4 && x.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y));
    let numbers = anchors
        .iter()
        .filter(is_number)
        .filter(|x| !is_year(x) && lexicon.df(name_gram(x)) <= rare_df)
        .count();
    let years = anchors.iter().filter(is_year).count();
    let only = |x: &Features, y: &Features| {
        x.anchors
            .iter()
            .filter(is_number)
            .filter(|n| y.anchors.binary_search(n).is_err())
            .count()
    };
    let numbers_clash = only(a.features, b.features).min(only(b.features, a.features));
    // Latin words in Chinese text are names and acronyms (and Chinese names count
    // through their Latin form); in other scripts every word is a Latin token.
    let names = if a.features.chinese && b.features.chinese {
        anchors
            .iter()
            .filter(|x| !x.bytes().any(|c| c.is_ascii_digit()))
            .filter(|x| x.split(' ').all(|w| lexicon.df(name_gram(w)) <= rare_df))
            .count()
    } else {
        0
    };
    let (fa, fb) = (&a.features.folded, &b.features.folded);
    let (mut copied, mut contained, mut moved, mut shared) = (0.0, 0.0, 0, Vec::new());
    if lexical > 0.1 && !fa.is_empty() && !fb.is_empty() {
        let ops = capture_diff_slices(Algorithm::Myers, &fa.chars, &fb.chars);
        moved = moved_chars(&ops, &fa.chars, &fb.chars);
        let runs: Vec<(usize, usize, usize)> = ops
            .into_iter()
            .filter_map(|op| match op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } if len >= RUN_MIN_CHARS => Some((old_index, new_index, len)),
                _ => None,
            })
            .collect();
        let matched: usize = runs.iter().map(|r| r.2).sum();
        copied = matched as f32 / fa.len().max(fb.len()) as f32;
        contained = matched as f32 / fa.len().min(fb.len()) as f32;
        let mut longest = runs;
        longest.sort_by_key(|r| std::cmp::Reverse(r.2));
        shared = longest
            .into_iter()
            .take(5)
            .map(|(i, j, n)| SharedSpan {
                a: span(a.text, fa.original_span(i, i + n)),
                b: span(b.text, fb.original_span(j, j + n)),
            })
            .collect();
    }
    let negation_differs = a.features.negated != b.features.negated;
    let (figures_same, figures_clash) = figure_agreement(&a.features.figures, &b.features.figures);
    let opposed = opposed_poles(a.features.poles, b.features.poles);

    let min_len = fa.len().min(fb.len());
    // A copy with a number changed or reordered reports something else.
    let same_numbers = digit_runs(&fa.chars) == digit_runs(&fb.chars);
    let duplicate = min_len >= DUPLICATE_MIN_CHARS
        && moved < MOVED_MIN_CHARS
        && same_numbers
        && (copied >= DUPLICATE_RATIO
            || (contained >= CONTAINED_RATIO && min_len >= CONTAINED_MIN_CHARS));
    let cross = a.features.chinese != b.features.chinese;
    let x: PairFeatures = [
        cosine,
        z.clamp(-5.0, 12.0),
        margin,
        f32::from(u8::from(mutual)),
        lexical.clamp(0.0, 1.0),
        copied,
        contained.min(1.0),
        rare.ln_1p(),
        numbers.min(4) as f32,
        numbers_clash.min(3) as f32,
        names.min(4) as f32,
        f32::from(u8::from(negation_differs)),
        f32::from(u8::from(opposed)),
        f32::from(u8::from(cross)),
        min_len as f32 / fa.len().max(fb.len()).max(1) as f32,
        (min_len as f32).ln_1p(),
        if cross { cosine } else { 0.0 },
        (moved.min(20) as f32) / 20.0,
        years.min(3) as f32,
        figures_same.min(3) as f32,
        figures_clash.min(3) as f32,
        affinity,
        if cross { affinity } else { 0.0 },
        best_in_article,
        article_gap.clamp(-0.2, 0.2),
        residual,
    ];
    let mut probabilities = None;
    let (label, score) = if a.features.notice.is_some() || b.features.notice.is_some() {
        // A notice is matched only with another notice, and never counts as agreement;
        // two notices correspond when they are of one kind (two copyright lines, two
        // app prompts), in any wording or language.
        let both = a.features.notice.is_some() && b.features.notice.is_some();
        let alike = duplicate
            || lexical >= 0.5
            || z >= RELATED_MIN_Z
            || a.features.notice == b.features.notice;
        (
            (both && alike).then_some(Label::Boilerplate),
            lexical.max(copied),
        )
    } else if duplicate {
        (Some(Label::Duplicate), copied.max(contained).min(1.0))
    } else {
        let judge = PairJudge::shipped();
        let p = judge.probabilities(&x);
        probabilities = Some(p);
        let label = match judge.decide(&p) {
            1 => Some(Label::Duplicate),
            2 => Some(Label::Overlap),
            3 => Some(Label::Agree),
            4 => Some(Label::Conflict),
            _ if z >= RELATED_MIN_Z => Some(Label::Related),
            _ => None,
        };
        (label, 1.0 - p.none)
    };
    Verdict {
        label,
        score,
        features: x,
        evidence: Evidence {
            cosine,
            z,
            margin,
            mutual,
            lexical,
            copied,
            moved,
            rare_shared: rare,
            anchors,
            shared,
            numbers_clash,
            figures_clash,
            negation_differs,
            opposed,
            affinity,
            probabilities,
        },
    }
}

/// Whether one side takes a pole of an opposed concept that only the other side's
/// opposite pole answers (each pole bit pair of [`OPPOSED`]).
fn opposed_poles(a: u32, b: u32) -> bool {
    (0..OPPOSED.len()).any(|k| {
        let (up, down) = (1u32 << (2 * k), 1u32 << (2 * k + 1));
        let only = |x: u32, bit: u32| x & bit != 0 && x & (up | down) != up | down;
        (only(a, up) && only(b, down)) || (only(a, down) && only(b, up))
    })
}

fn span(text: &str, (start, end): (usize, usize)) -> Span {
    Span {
        start,
        end,
        text: text.chars().skip(start).take(end - start).collect(),
    }
}

/// The runs of digits in `text`, in order.
fn digit_runs(text: &[char]) -> Vec<&[char]> {
    text.split(|c| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .collect()
}

/// Characters that the two texts' differing stretches (in the diff `ops`) share with
/// each other: words moved rather than changed. Shared runs shorter than
/// [`MOVED_MIN_CHARS`] are ignored.
fn moved_chars(ops: &[DiffOp], a: &[char], b: &[char]) -> usize {
    let (mut gaps_a, mut gaps_b): (Vec<&[char]>, Vec<&[char]>) = (Vec::new(), Vec::new());
    for op in ops {
        match *op {
            DiffOp::Delete {
                old_index, old_len, ..
            } => gaps_a.push(&a[old_index..old_index + old_len]),
            DiffOp::Insert {
                new_index, new_len, ..
            } => gaps_b.push(&b[new_index..new_index + new_len]),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                gaps_a.push(&a[old_index..old_index + old_len]);
                gaps_b.push(&b[new_index..new_index + new_len]);
            }
            DiffOp::Equal { .. } => {}
        }
    }
    // Myers keeps the longest in-order alignment, so text both sides still share inside
    // their differing stretches sits out of order: it moved.
    let mut moved = 0;
    for ga in &gaps_a {
        let best = gaps_b.iter().map(|gb| longest_common_run(ga, gb)).max();
        if let Some(n) = best.filter(|&n| n >= MOVED_MIN_CHARS) {
            moved += n;
        }
    }
    moved
}

/// Length of the longest stretch of characters `a` and `b` share.
fn longest_common_run(a: &[char], b: &[char]) -> usize {
    let mut best = 0;
    let mut prev = vec![0usize; b.len() + 1];
    for &ca in a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            if ca == cb {
                cur[j + 1] = prev[j] + 1;
                best = best.max(cur[j + 1]);
            }
        }
        prev = cur;
    }
    best
}

fn intersect<'a>(a: &'a [u64], b: &'a [u64]) -> impl Iterator<Item = u64> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    return Some(a[i - 1]);
                }
            }
        }
        None
    })
}

#[cfg(test)]
mod tests;
