//! Judging one pair of passages: the signals (embedding similarity relative to each
//! passage's own neighbourhood, IDF-weighted lexical overlap on folded text, shared rare
//! phrases and anchors, an alignment of the folded texts) and the label they earn.
//!
//! Thresholds were calibrated on the labelled pairs of `examples/articles/` and checked
//! against `../shared/eval` (see benches/RESULTS.md); each one is named below.

use crate::features::{name_gram, Features, Lexicon};
use serde::{Deserialize, Serialize};
use similar::{capture_diff_slices, Algorithm, DiffOp};

/// How strongly two passages correspond, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Semantically close for their neighbourhood, without a shared claim.
    Related,
    /// The same claim or judgement in other words.
    Agree,
    /// The same specific fact, number, quote or event.
    Overlap,
    /// The same text, possibly in the other Chinese script or width.
    Duplicate,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Related => "related",
            Label::Agree => "agree",
            Label::Overlap => "overlap",
            Label::Duplicate => "duplicate",
        }
    }
}

impl std::str::FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "related" => Ok(Label::Related),
            "agree" => Ok(Label::Agree),
            "overlap" => Ok(Label::Overlap),
            "duplicate" => Ok(Label::Duplicate),
            _ => Err(format!(
                "unknown label {s:?} (expected duplicate, overlap, agree or related)"
            )),
        }
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
/// Shared rare grams that make a shared specific fact (about a six-character phrase).
const OVERLAP_MIN_RARE: f32 = 6.0;
/// Semantic support an overlap needs: the passages must also be about the same thing.
const OVERLAP_MIN_Z: f32 = 1.5;
/// Shared numbers (two digits or more) that pin the same statistic across languages.
const OVERLAP_MIN_NUMBERS: usize = 2;
/// Shared rare names that pin the same entities in two Chinese passages (Latin words
/// there are names and acronyms; Chinese names count through their Latin form), such
/// as a company written in Latin letters in one and in characters in the other, and
/// its CEO. Not for other scripts, where every word is a Latin token.
const OVERLAP_MIN_NAMES: usize = 2;
/// `agree` between mutual nearest neighbours: at least this z-score ...
const AGREE_MUTUAL_MIN_Z: f32 = 2.0;
/// ... and clearly closer than their usual nearest neighbours from other articles.
const AGREE_MUTUAL_MIN_MARGIN: f32 = 1.01;
/// `agree` without mutuality needs a clearly exceptional similarity.
const AGREE_MIN_Z: f32 = 3.5;
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// The verdict on one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub label: Option<Label>,
    /// Strength of the correspondence in [0, 1], for ranking.
    pub score: f32,
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

    let numbers = anchors
        .iter()
        .filter(|x| x.bytes().filter(u8::is_ascii_digit).count() >= 2)
        .count();
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

    let min_len = fa.len().min(fb.len());
    // A copy with a number changed or reordered reports something else.
    let same_numbers = digit_runs(&fa.chars) == digit_runs(&fb.chars);
    let label = if min_len >= DUPLICATE_MIN_CHARS
        && moved < MOVED_MIN_CHARS
        && same_numbers
        && (copied >= DUPLICATE_RATIO
            || (contained >= CONTAINED_RATIO && min_len >= CONTAINED_MIN_CHARS))
    {
        Some(Label::Duplicate)
    } else if (rare >= OVERLAP_MIN_RARE
        || numbers >= OVERLAP_MIN_NUMBERS
        || names >= OVERLAP_MIN_NAMES)
        && (z >= OVERLAP_MIN_Z || mutual)
    {
        Some(Label::Overlap)
    } else if z >= AGREE_MIN_Z
        || (mutual && z >= AGREE_MUTUAL_MIN_Z && margin >= AGREE_MUTUAL_MIN_MARGIN)
    {
        Some(Label::Agree)
    } else if z >= RELATED_MIN_Z {
        Some(Label::Related)
    } else {
        None
    };
    let semantic = ((z - 1.0) / 5.0).clamp(0.0, 1.0);
    let mut score = 1.0 - (1.0 - semantic) * (1.0 - lexical.clamp(0.0, 1.0));
    if label == Some(Label::Duplicate) {
        score = score.max(copied.max(contained));
    }
    Verdict {
        label,
        score,
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
        },
    }
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
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn moved(a: &str, b: &str) -> usize {
        let (a, b) = (chars(a), chars(b));
        moved_chars(&capture_diff_slices(Algorithm::Myers, &a, &b), &a, &b)
    }

    #[test]
    fn swapped_names_count_as_moved_and_edits_do_not() {
        assert!(moved("他曾在广州和上海工作", "他曾在上海和广州工作") >= 2);
        assert!(
            moved("齐王与秦王会面以抗楚王", "楚王与秦王会面以抗齐王") < 2,
            "one-character names"
        );
        assert_eq!(moved("新渡轮由本地船厂建造", "新渡轮由本市船厂建造"), 0);
        assert_eq!(moved("本文仅供参考", "本文仅供参考"), 0);
    }

    #[test]
    fn two_rare_names_make_an_overlap_between_chinese_passages() {
        concord_text::names::install(
            concord_text::names::NameBridge::new(vec![("爱彼迎".into(), vec!["airbnb".into()])])
                .unwrap(),
        );
        let a = Features::new("愛彼迎CEO公開承認，其客服系統在很大程度上依賴中國大模型。");
        let b = Features::new("Airbnb CEO表示，公司正大量依賴Qwen，因其更快更好。");
        assert!(a.anchors.contains(&"airbnb".to_string()), "{:?}", a.anchors);
        let mut lexicon = Lexicon::default();
        lexicon.add(&a);
        lexicon.add(&b);
        for i in 0..200 {
            lexicon.add(&Features::new(&format!(
                "第{i}段：港口的渡輪照常運行，乘客人數平穩。"
            )));
        }
        let side = |f| Side {
            text: "",
            features: f,
        };
        let sem = |z| Semantic {
            cosine: 0.9,
            z,
            margin: 1.0,
            mutual: false,
        };
        let v = judge(side(&a), side(&b), &lexicon, sem(1.6));
        assert_eq!(v.label, Some(Label::Overlap), "{:?}", v.evidence);
        // Not without semantic support ...
        let v = judge(side(&a), side(&b), &lexicon, sem(0.5));
        assert_eq!(v.label, None, "{:?}", v.evidence);
        // ... and not on one shared name.
        let c = Features::new("愛彼迎公開承認，其客服系統在很大程度上依賴中國大模型。");
        lexicon.add(&c);
        let v = judge(side(&c), side(&b), &lexicon, sem(1.6));
        assert_eq!(v.label, None, "{:?}", v.evidence);
    }

    #[test]
    fn digit_runs_keep_their_order() {
        let a = chars("第13队与第16队合并为第3队");
        let b = chars("第3队与第16队合并为第13队");
        assert_ne!(digit_runs(&a), digit_runs(&b));
        assert_eq!(
            digit_runs(&a),
            digit_runs(&chars("第13隊與第16隊合併為第3隊"))
        );
    }
}
