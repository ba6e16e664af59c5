//! Folding for lexical comparison: compatibility forms to their plain equivalents
//! (full-width digits and Latin, ligatures), Traditional Chinese characters to Simplified,
//! lower case, and only letters and digits kept. Every folded character remembers which
//! character of the original it came from, so matches found on folded text map back to
//! exact spans of the source.

use unicode_normalization::UnicodeNormalization;

/// Folded text with a map back to character offsets of the original.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    pub chars: Vec<char>,
    /// `origin[i]` is the character index in the original text of `chars[i]`.
    pub origin: Vec<u32>,
}

impl Folded {
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn as_string(&self) -> String {
        self.chars.iter().collect()
    }

    /// Character range `[start, end)` of the original covered by folded `[from, to)`.
    pub fn original_span(&self, from: usize, to: usize) -> (usize, usize) {
        debug_assert!(from < to && to <= self.origin.len());
        (self.origin[from] as usize, self.origin[to - 1] as usize + 1)
    }
}

/// Folds `text` (see the module documentation).
pub fn fold(text: &str) -> Folded {
    // fast2s maps character for character, so positions line up with the original.
    let simplified = fast2s::convert(text);
    let mut out = Folded::default();
    for (i, c) in simplified.chars().enumerate() {
        for n in std::iter::once(c).nfkc() {
            for l in n.to_lowercase() {
                if l.is_alphanumeric() {
                    out.chars.push(l);
                    out.origin.push(i as u32);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_width_and_case_fold_together() {
        let t = fold("黃仁勳說：「ＡＩ競賽」，2025年！");
        let s = fold("黄仁勋说:“AI竞赛”,2025年!");
        assert_eq!(t.as_string(), s.as_string());
        assert_eq!(t.as_string(), "黄仁勋说ai竞赛2025年");
    }

    #[test]
    fn offsets_point_back_into_the_original() {
        let text = "Hi, 世界！ＯＫ";
        let f = fold(text);
        assert_eq!(f.as_string(), "hi世界ok");
        let chars: Vec<char> = text.chars().collect();
        let (a, b) = f.original_span(2, 4);
        assert_eq!(chars[a..b].iter().collect::<String>(), "世界");
        let (a, b) = f.original_span(4, 6);
        assert_eq!(chars[a..b].iter().collect::<String>(), "ＯＫ");
    }
}
