//! Lexical features of a passage, computed on folded text (see `concord_text::fold`):
//! hashed character bigrams (Latin words count as one unit) for weighted overlap,
//! anchors (numbers and Latin names, the kind of token that pins a specific fact), and a
//! document-frequency table that turns shared units into a measure of specificity.
//!
//! Chinese proper nouns with a Latin name (from the `concord_text::names` table the
//! caller passes, when it has one) add that name as an anchor and as a unit, so 愛彼迎
//! in one passage and Airbnb in another share it.
//!
//! Also marked per passage, for the pair judge: negation, the direction words of a few
//! opposed concepts (rise/fall, confirm/deny, support/oppose...) in Chinese and English,
//! and whether the passage reads as boilerplate (reprint and copyright notices,
//! disclaimers, share and subscribe prompts, editor lines).

use concord_text::names::NameBridge;
use concord_text::{fold, notice, Folded, Notice};
use std::collections::HashMap;
use unicode_normalization::UnicodeNormalization;

/// What a passage contributes to lexical comparison.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub folded: Folded,
    /// Sorted, unique hashes of unit bigrams (and of Latin/number units on their own).
    pub grams: Vec<u64>,
    /// Sorted, unique numbers (`1.4`, `2025`) and Latin tokens (`h200`, `qwen`),
    /// including the Latin names of Chinese proper nouns.
    pub anchors: Vec<String>,
    /// Mostly Chinese text (see [`script_group`]).
    pub chinese: bool,
    /// Says "not", "no", "denied"...
    pub negated: bool,
    /// Bit `2k` (`2k + 1`): the passage uses a word for the first (second) pole of
    /// opposed concept `k` of [`OPPOSED`].
    pub poles: u32,
    /// Which kind of notice it is, when it reads as a notice, disclaimer or prompt
    /// rather than reporting.
    pub notice: Option<Notice>,
    /// Figures with what they count (`(unit, value)`, sorted): `41人` is `("人", "41")`,
    /// `63.2%` is `("%", "63.2")`, `45,000 residents` is `("residents", "45000")`.
    pub figures: Vec<(String, String)>,
}

/// Opposed concepts: words for each pole, folded (Simplified, lower case). A pair whose
/// sides take opposite poles of one concept may contradict each other.
pub const OPPOSED: &[(&[&str], &[&str])] = &[
    (
        &[
            "增加", "上升", "上涨", "提高", "增长", "扩大", "攀升", "rise", "rose", "increase",
            "higher", "grew", "growth", "surge",
        ],
        &[
            "减少", "下降", "下跌", "降低", "下滑", "缩小", "萎缩", "fall", "fell", "decrease",
            "lower", "decline", "drop", "shrank",
        ],
    ),
    (
        &["承认", "证实", "确认", "confirm", "admit", "acknowledg"],
        &["否认", "驳斥", "澄清", "deny", "denied", "denies", "reject"],
    ),
    (
        &[
            "支持", "赞成", "赞同", "利好", "support", "favour", "favor", "backed", "welcome",
        ],
        &[
            "反对", "批评", "质疑", "利空", "oppose", "criticis", "criticiz", "condemn", "doubt",
        ],
    ),
    (
        &[
            "成功",
            "有效",
            "安全",
            "达标",
            "success",
            "effective",
            "safe",
            "passed",
        ],
        &[
            "失败",
            "无效",
            "危险",
            "超标",
            "fail",
            "ineffective",
            "unsafe",
            "dangerous",
        ],
    ),
    (
        &["乐观", "看好", "强劲", "optimis", "strong", "boost"],
        &[
            "悲观", "看淡", "疲软", "担忧", "pessimis", "weak", "hurt", "harm",
        ],
    ),
    (
        &["赢", "胜", "领先", "win", "won", "lead", "ahead"],
        &["输", "败", "落后", "lose", "lost", "behind", "trail"],
    ),
];

/// Negation words, folded. Chinese ones are matched as substrings (words, not a bare
/// 不 or 未, which 不仅 "not only", 不少 "many", 不断 "constantly" and 未来 "future"
/// hold), English as words.
const NEGATION_ZH: &[&str] = &[
    "不是",
    "不会",
    "不能",
    "不再",
    "不得",
    "不可",
    "不应",
    "不属实",
    "不实",
    "不存在",
    "不承认",
    "不同意",
    "并不",
    "并非",
    "没有",
    "没",
    "尚未",
    "并未",
    "从未",
    "未能",
    "未曾",
    "未被",
    "未获",
    "未发现",
    "无法",
    "否认",
    "毫无",
    "绝非",
];
const NEGATION_EN: &[&str] = &[
    "not", "no", "never", "none", "nor", "denied", "denies", "deny", "didnt", "doesnt", "isnt",
    "wasnt", "wont", "cannot", "cant", "without",
];

impl Features {
    /// The features of `text`; `names` bridges Chinese proper nouns to their Latin
    /// names.
    pub fn new(text: &str, names: Option<&NameBridge>) -> Self {
        let folded = fold(text);
        let chars = &folded.chars;
        let units = units(chars);
        let unit = |u: (usize, usize)| &chars[u.0..u.1];
        let mut grams: Vec<u64> = units
            .windows(2)
            .map(|w| hash(&[unit(w[0]), unit(w[1])]))
            .collect();
        // Latin words and numbers also count on their own; so does a lone unit.
        grams.extend(
            units
                .iter()
                .filter(|u| u.1 - u.0 > 1 || units.len() == 1)
                .map(|&u| hash(&[unit(u)])),
        );
        // One normalisation serves the anchors and the figures.
        let norm = normalized(text);
        let mut anchors = anchors_in(&norm);
        if let Some(bridge) = names {
            // Each word is a unit, as in Latin text; a name of several words is one
            // anchor, so `silicon valley` counts as one name.
            for name in bridge.names_in(chars) {
                grams.extend(name.split(' ').map(name_gram));
                anchors.push(name);
            }
        }
        grams.sort_unstable();
        grams.dedup();
        anchors.sort();
        anchors.dedup();
        let flat = folded.as_string();
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
            .map(|w| w.to_lowercase().replace(['\'', '’'], ""))
            .filter(|w| !w.is_empty())
            .collect();
        let has = |m: &str| {
            if m.is_ascii() {
                words.iter().any(|w| w.starts_with(m))
            } else {
                flat.contains(m)
            }
        };
        let negated = NEGATION_ZH.iter().any(|m| flat.contains(m))
            || words.iter().any(|w| NEGATION_EN.contains(&w.as_str()));
        let mut poles = 0u32;
        for (k, (up, down)) in OPPOSED.iter().enumerate() {
            if up.iter().any(|m| has(m)) {
                poles |= 1 << (2 * k);
            }
            if down.iter().any(|m| has(m)) {
                poles |= 1 << (2 * k + 1);
            }
        }
        let notice = notice(&flat);
        Self {
            figures: figures_in(&norm),
            notice,
            folded,
            grams,
            anchors,
            chinese: script_group(text) == 0,
            negated,
            poles,
        }
    }

    /// 0 for mostly Chinese text, else 1 (see [`script_group`]).
    pub fn script_group(&self) -> usize {
        usize::from(!self.chinese)
    }
}

/// The gram of one Latin word on its own, as [`Features::grams`] holds it.
pub fn name_gram(word: &str) -> u64 {
    let chars: Vec<char> = word.chars().collect();
    hash(&[&chars])
}

/// 0 for text mostly in Chinese characters (Han at least 30% of its letters), else 1.
pub fn script_group(text: &str) -> usize {
    let (mut han, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if matches!(c, '\u{3400}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2fa1f}')
        {
            han += 1;
        }
    }
    usize::from(han * 10 < letters * 3)
}

/// Units are ranges of folded characters: one CJK (or other non-ASCII) character, or a
/// maximal run of ASCII letters and digits.
fn units(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i + 1;
        if chars[i].is_ascii_alphanumeric() {
            while j < chars.len() && chars[j].is_ascii_alphanumeric() {
                j += 1;
            }
        }
        out.push((i, j));
        i = j;
    }
    out
}

/// FNV-1a over the characters of the units, with a separator between units.
fn hash(units: &[&[char]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, u) in units.iter().enumerate() {
        if k > 0 {
            h = (h ^ 0x1f).wrapping_mul(0x0100_0000_01b3);
        }
        for c in u.iter() {
            h = (h ^ *c as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `text` width-folded (NFKC), lower-cased and in Simplified characters, as
/// [`anchors`] and [`figures_in`] read it (fast2s maps character for character and leaves
/// ASCII alone, so the anchors are those of the unconverted text).
fn normalized(text: &str) -> Vec<char> {
    fast2s::convert(&text.nfkc().flat_map(char::to_lowercase).collect::<String>())
        .chars()
        .collect()
}

/// The figures of [`normalized`] text and their units (see [`Features::figures`]): a
/// number (with its decimal point, without thousands separators) and the one or two
/// CJK characters, the `%`, or the Latin word right after it (a space allowed).
fn figures_in(norm: &[char]) -> Vec<(String, String)> {
    let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < norm.len() {
        if !norm[i].is_ascii_digit() || (i > 0 && norm[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let (value, j) = token_at(norm, i, |c| c.is_ascii_digit());
        let mut k = j;
        while k < norm.len() && norm[k] == ' ' {
            k += 1;
        }
        let unit: String = match norm.get(k) {
            Some('%') => "%".into(),
            Some(&c) if is_cjk(c) => norm[k..]
                .iter()
                .take(2)
                .take_while(|&&c| is_cjk(c))
                .collect(),
            Some(c) if c.is_ascii_alphabetic() => norm[k..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect(),
            _ => String::new(),
        };
        if !unit.is_empty() {
            out.push((unit, value));
        }
        i = j.max(i + 1);
    }
    out.sort();
    out.dedup();
    out
}

/// Units two passages both count with figures: how many of them share a value, and
/// how many have only other values on each side (the same thing, other numbers).
pub fn figure_agreement(a: &[(String, String)], b: &[(String, String)]) -> (usize, usize) {
    let (mut same, mut clash) = (0, 0);
    let units: std::collections::BTreeSet<&str> = a.iter().map(|f| f.0.as_str()).collect();
    for u in units {
        let va: Vec<&str> = a
            .iter()
            .filter(|f| f.0 == u)
            .map(|f| f.1.as_str())
            .collect();
        let vb: Vec<&str> = b
            .iter()
            .filter(|f| f.0 == u)
            .map(|f| f.1.as_str())
            .collect();
        if vb.is_empty() {
            continue;
        }
        if va.iter().any(|v| vb.contains(v)) {
            same += 1;
        } else {
            clash += 1;
        }
    }
    (same, clash)
}

/// Numbers and Latin tokens of `text` after width folding and lower-casing; a number
/// keeps its decimal point (`1.4`), thousands separators are dropped.
pub fn anchors(text: &str) -> Vec<String> {
    anchors_in(&normalized(text))
}

/// [`anchors`] of text already [`normalized`].
fn anchors_in(chars: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let (tok, j) = token_at(chars, i, |c| c.is_ascii_alphanumeric());
        let has_digit = tok.bytes().any(|b| b.is_ascii_digit());
        if has_digit || tok.len() >= 2 {
            out.push(tok);
        }
        i = j;
    }
    out
}

/// The token of `chars` starting at `i`: the characters `keep` accepts, with a `.`
/// between two digits kept (a decimal point) and a `,` there dropped (a thousands
/// separator); and the index just past it.
fn token_at(chars: &[char], i: usize, keep: impl Fn(char) -> bool) -> (String, usize) {
    let mut tok = String::new();
    let mut j = i;
    while j < chars.len() {
        let c = chars[j];
        let between_digits = matches!(c, '.' | ',')
            && j > i
            && chars[j - 1].is_ascii_digit()
            && chars.get(j + 1).is_some_and(|n| n.is_ascii_digit());
        if keep(c) {
            tok.push(c);
        } else if between_digits {
            if c == '.' {
                tok.push('.');
            }
        } else {
            break;
        }
        j += 1;
    }
    (tok, j)
}

/// Passage frequency of grams and anchors over a set of passages, for IDF weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    df: HashMap<u64, u32>,
    passages: u32,
}

impl Lexicon {
    pub fn add(&mut self, f: &Features) {
        self.passages += 1;
        for g in &f.grams {
            *self.df.entry(*g).or_default() += 1;
        }
    }

    pub fn remove(&mut self, f: &Features) {
        self.passages = self.passages.saturating_sub(1);
        for g in &f.grams {
            if let Some(n) = self.df.get_mut(g) {
                *n -= 1;
                if *n == 0 {
                    self.df.remove(g);
                }
            }
        }
    }

    pub fn passages(&self) -> u32 {
        self.passages
    }

    pub fn df(&self, g: u64) -> u32 {
        self.df.get(&g).copied().unwrap_or(0)
    }

    /// Inverse passage frequency, `ln(1 + N / df)`, with unseen grams counted once.
    pub fn idf(&self, g: u64) -> f32 {
        let n = self.passages.max(1) as f32;
        (1.0 + n / self.df(g).max(1) as f32).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(text: &str) -> Vec<(String, String)> {
        figures_in(&normalized(text))
    }

    #[test]
    fn figures_keep_their_units_and_clash_on_other_values() {
        let a = figures("颱風已造成11人死亡、41人受傷，損失約28億元，投票率63.2%。");
        assert!(a.contains(&("人死".to_string(), "11".to_string())), "{a:?}");
        assert!(a.contains(&("%".to_string(), "63.2".to_string())), "{a:?}");
        let b = figures("台风已造成13人死亡、41人受伤，损失约28亿元。");
        assert_eq!(figure_agreement(&a, &b), (2, 1), "{a:?} {b:?}");
        let en = figures("About 45,000 residents were moved; turnout was 61.4 %.");
        assert!(
            en.contains(&("residents".to_string(), "45000".to_string())),
            "{en:?}"
        );
        assert!(
            en.contains(&("%".to_string(), "61.4".to_string())),
            "{en:?}"
        );
        assert_eq!(figure_agreement(&a, &en), (0, 1));
    }
}
