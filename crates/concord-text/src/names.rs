//! Latin names of Chinese proper nouns, so that a passage writing a company, place or
//! person in Chinese characters and one writing it in Latin letters share that name
//! (愛彼迎 and Airbnb, 英偉達 and NVIDIA, 金融時報 and Financial Times).
//!
//! The names come from CC-CEDICT (CC BY-SA 4.0), fetched by `concord model fetch` and
//! reduced to `models/names/cedict-names.tsv`: one `simplified<TAB>name words` line per
//! proper noun whose first English gloss is a name. Whoever derives lexical features
//! is handed the table (or none: passages then simply get no bridged names); nothing
//! here is global.

use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// The name table file under the models directory.
pub const NAMES_FILE: &str = "names/cedict-names.tsv";

/// Finds Chinese proper nouns in folded text and gives their Latin names.
pub struct NameBridge {
    matcher: AhoCorasick,
    /// Lower-cased name words of each pattern.
    names: Vec<Vec<String>>,
}

impl std::fmt::Debug for NameBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameBridge({} names)", self.names.len())
    }
}

impl NameBridge {
    /// A bridge over `(simplified word, name words)` entries.
    pub fn new(entries: Vec<(String, Vec<String>)>) -> std::io::Result<Self> {
        let (keys, names): (Vec<String>, Vec<Vec<String>>) = entries.into_iter().unzip();
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&keys)
            .map_err(std::io::Error::other)?;
        Ok(Self { matcher, names })
    }

    /// Reads a table written by [`write_tsv`].
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let mut entries = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            if let Some((key, words)) = line.split_once('\t') {
                entries.push((
                    key.to_string(),
                    words.split(' ').map(str::to_string).collect(),
                ));
            }
        }
        Self::new(entries)
    }

    /// Latin names (lower-cased words joined by a space) of the proper nouns in
    /// `folded` (folded text: Simplified, lower-cased), leftmost-longest matches, in
    /// order.
    pub fn names_in(&self, folded: &[char]) -> Vec<String> {
        let text: String = folded.iter().collect();
        self.matcher
            .find_iter(&text)
            .map(|m| self.names[m.pattern().as_usize()].join(" "))
            .collect()
    }
}

/// Corporate suffixes dropped from a company's name (`Microsoft Corporation`).
const SUFFIXES: [&str; 8] = [
    "Corporation",
    "Corp",
    "Inc",
    "Group",
    "Company",
    "Ltd",
    "Co",
    "Limited",
];

/// The proper nouns of a CC-CEDICT file (`trad simp [Pin1 yin1] /gloss/gloss/`) whose
/// first gloss is a name: capitalised pinyin, two or more Han characters, and a gloss
/// (before any comma, without parentheses) of one to three capitalised Latin words.
/// Where a word has several such entries, the one with the fewest name words wins.
pub fn cedict_names(reader: impl BufRead) -> std::io::Result<Vec<(String, Vec<String>)>> {
    let mut best: HashMap<String, Vec<String>> = HashMap::new();
    for line in reader.lines() {
        let line = line?;
        let Some((simp, pinyin, gloss)) = parse_cedict_line(&line) else {
            continue;
        };
        let proper = pinyin
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase());
        let han = simp.chars().count() >= 2
            && simp
                .chars()
                .all(|c| matches!(c, '\u{3400}'..='\u{9fff}' | '\u{f900}'..='\u{faff}'));
        if !proper || !han {
            continue;
        }
        let Some(words) = name_words(gloss) else {
            continue;
        };
        match best.get(simp) {
            Some(old) if old.len() <= words.len() => {}
            _ => {
                best.insert(simp.to_string(), words);
            }
        }
    }
    let mut out: Vec<(String, Vec<String>)> = best.into_iter().collect();
    out.sort();
    Ok(out)
}

/// `(simplified, pinyin, first gloss)` of a CC-CEDICT line.
fn parse_cedict_line(line: &str) -> Option<(&str, &str, &str)> {
    if line.starts_with('#') {
        return None;
    }
    let (_trad, rest) = line.split_once(' ')?;
    let (simp, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    let (pinyin, rest) = rest.split_once("] /")?;
    let gloss = rest.split('/').next()?;
    Some((simp, pinyin, gloss))
}

/// The lower-cased name words of a gloss that is a name, else `None`.
fn name_words(gloss: &str) -> Option<Vec<String>> {
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in gloss.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let head = plain.split([',', ';']).next()?.trim();
    let mut words: Vec<&str> = head.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| SUFFIXES.contains(w)) {
        words.pop();
    }
    let is_name = |w: &&str| {
        w.len() >= 2
            && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && w.chars().all(|c| c.is_ascii_alphanumeric())
    };
    (!words.is_empty() && words.len() <= 3 && words.iter().all(is_name))
        .then(|| words.iter().map(|w| w.to_ascii_lowercase()).collect())
}

/// Writes entries as the tab-separated table [`NameBridge::load`] reads.
pub fn write_tsv(entries: &[(String, Vec<String>)], out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    for (key, words) in entries {
        writeln!(out, "{key}\t{}", words.join(" "))?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# a comment
愛彼迎 爱彼迎 [Ai4 bi3 ying2] /Airbnb/
微軟 微软 [Wei1 ruan3] /Microsoft Corporation/
金融時報 金融时报 [Jin1 rong2 Shi2 bao4] /Financial Times/
蘋果 苹果 [ping2 guo3] /apple/CL:個|个[ge4]/
阿里巴巴 阿里巴巴 [A1 li3 Ba1 ba1] /Ali Baba, character from The Arabian Nights/
阿里巴巴 阿里巴巴 [A1 li3 ba1 ba1] /Alibaba, PRC e-commerce company/
騰訊 腾讯 [Teng2 xun4] /see 騰訊控股有限公司|腾讯控股有限公司[Teng2 xun4 Kong4 gu3 You3 xian4 Gong1 si1]/
中 中 [Zhong1] /China/
";

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn proper_nouns_with_name_glosses_only() {
        let names = cedict_names(SAMPLE.as_bytes()).unwrap();
        assert_eq!(
            names,
            vec![
                ("微软".to_string(), words(&["microsoft"])),
                ("爱彼迎".to_string(), words(&["airbnb"])),
                ("金融时报".to_string(), words(&["financial", "times"])),
                ("阿里巴巴".to_string(), words(&["alibaba"])),
            ]
        );
    }

    #[test]
    fn finds_names_in_folded_text_through_a_saved_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names.tsv");
        let names = cedict_names(SAMPLE.as_bytes()).unwrap();
        write_tsv(&names, std::fs::File::create(&path).unwrap()).unwrap();
        let bridge = NameBridge::load(&path).unwrap();
        let folded = crate::fold("愛彼迎CEO稱，據《金融時報》報道，微軟也在用");
        assert_eq!(
            bridge.names_in(&folded.chars),
            words(&["airbnb", "financial times", "microsoft"])
        );
    }
}
