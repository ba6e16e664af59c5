//! Cutting an article into claims, the units concord embeds and matches. Paragraphs come
//! first: one per line in text that puts each paragraph on its own line (most Chinese
//! news), or blank-line separated blocks with wrapped lines joined (Markdown, hard-wrapped
//! prose). Headings, bylines and other short unpunctuated lines without a figure,
//! image placeholders, rules and empty lines never become passages; headings are kept as
//! the `section` of the passages under them. A short line that carries a number or a
//! date, a Latin name inside Chinese text, or ends a sentence is a paragraph of its own;
//! so is a notice (`crate::is_boilerplate`), to be recognised and reported apart.
//!
//! Each paragraph is then cut into claims: its sentences (Chinese and Western
//! punctuation), a sentence longer than `claim_max_chars` (2.5 times that in Latin
//! script) cut again at clause marks, and
//! a fragment too short to say anything (`他說：`) joined to its neighbour. Every claim
//! keeps its character offsets into the article and the index of its paragraph.

use serde::{Deserialize, Serialize};

/// A span of an article that is embedded and compared on its own: one claim (a sentence
/// or a clause) of one paragraph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// Position among the article's passages, from 0.
    pub index: u32,
    /// Character (Unicode scalar) offsets `[start, end)` into the article text.
    pub start: u32,
    pub end: u32,
    pub text: String,
    /// The heading the passage sits under, if any.
    pub section: Option<String>,
    /// The paragraph it belongs to (position among the article's paragraphs), when it
    /// was cut from one; a passage stored without it is a paragraph of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<u32>,
}

impl Passage {
    /// The paragraph the passage belongs to.
    pub fn paragraph(&self) -> u32 {
        self.paragraph.unwrap_or(self.index)
    }
}

#[derive(Debug, Clone)]
pub struct SegmentOptions {
    /// Sentences longer than this many characters (two and a half times as many in
    /// Latin script) are cut at clause marks into claims.
    pub claim_max_chars: usize,
    /// Claims with fewer letters and digits than this join their neighbour.
    pub claim_min_chars: usize,
    /// Unpunctuated lines with at most this many letters and digits count as headings.
    pub heading_max_chars: usize,
    /// Passages with fewer letters and digits than this are dropped.
    pub min_chars: usize,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            claim_max_chars: 90,
            claim_min_chars: 8,
            heading_max_chars: 24,
            min_chars: 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Noise,
    MarkdownHeading,
    Content,
}

struct Line<'a> {
    text: &'a str,
    /// Byte offset of `text` in the article.
    at: usize,
    kind: Kind,
}

/// Cuts `text` into passages (see the module documentation).
pub fn segment(text: &str, opts: &SegmentOptions) -> Vec<Passage> {
    let lines = split_lines(text);
    let blocks = lines.iter().any(|l| l.kind == Kind::Blank)
        && lines
            .windows(2)
            .any(|w| w[0].kind == Kind::Content && w[1].kind == Kind::Content);
    let mut paragraphs: Vec<(usize, usize, Option<String>)> = Vec::new(); // byte range, section
    let mut section: Option<String> = None;
    let mut open: Option<(usize, usize)> = None;
    let title = lines.iter().position(|l| l.kind != Kind::Blank);
    for (i, line) in lines.iter().enumerate() {
        // An article's first line, short and not a sentence, is its headline.
        if Some(i) == title && line.kind == Kind::Content && is_title_like(line.text, opts) {
            section = Some(line.text.trim().to_string());
            continue;
        }
        match line.kind {
            Kind::Blank | Kind::Noise => close_paragraph(&mut open, &mut paragraphs, &section),
            Kind::MarkdownHeading => {
                close_paragraph(&mut open, &mut paragraphs, &section);
                section = Some(line.text.trim_start_matches('#').trim().to_string());
            }
            Kind::Content => {
                let end = line.at + line.text.len();
                // A wrapped line continues the paragraph when the line before it is a
                // long, unfinished line of the same block.
                let continues = blocks
                    && open.is_some()
                    && i > 0
                    && lines[i - 1].kind == Kind::Content
                    && !ends_line(lines[i - 1].text)
                    && !is_heading_like(lines[i - 1].text, opts)
                    && !starts_block(line.text);
                if continues {
                    if let Some((a, _)) = open {
                        open = Some((a, end));
                    }
                } else if is_heading_like(line.text, opts) {
                    close_paragraph(&mut open, &mut paragraphs, &section);
                    section = Some(line.text.trim().to_string());
                } else {
                    close_paragraph(&mut open, &mut paragraphs, &section);
                    open = Some((line.at, end));
                }
            }
        }
    }
    if let Some((a, b)) = open {
        paragraphs.push((a, b, section));
    }

    let mut out = Vec::new();
    let mut chars_before = CharCounter::new(text);
    let mut paragraph = 0u32;
    for (a, b, section) in paragraphs {
        let body = text[a..b].trim();
        if body.chars().filter(|c| c.is_alphanumeric()).count() < opts.min_chars {
            continue;
        }
        for (ca, cb) in claims(&text[a..b], opts) {
            let (sa, sb) = (a + ca, a + cb);
            let piece = &text[sa..sb];
            let trimmed_start = sa + (piece.len() - piece.trim_start().len());
            let trimmed_end = sb - (piece.len() - piece.trim_end().len());
            if trimmed_start >= trimmed_end {
                continue;
            }
            let start = chars_before.at(trimmed_start);
            let end = chars_before.at(trimmed_end);
            out.push(Passage {
                index: out.len() as u32,
                start: start as u32,
                end: end as u32,
                text: text[trimmed_start..trimmed_end].to_string(),
                section: section.clone(),
                paragraph: Some(paragraph),
            });
        }
        paragraph += 1;
    }
    out
}

/// Byte ranges of the claims of one paragraph: its sentences, long ones cut at clause
/// marks, fragments under `claim_min_chars` letters and digits joined to a neighbour.
/// The ranges are in order and cover every letter of the paragraph.
pub fn claims(text: &str, opts: &SegmentOptions) -> Vec<(usize, usize)> {
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for (a, b) in sentences(text) {
        // Latin-script text spends about 2.5 characters where Chinese spends one.
        let latin = text[a..b].chars().filter(char::is_ascii_alphabetic).count() * 2
            > text[a..b].chars().filter(|c| c.is_alphanumeric()).count();
        let max = if latin {
            opts.claim_max_chars * 5 / 2
        } else {
            opts.claim_max_chars
        };
        let mut s = a;
        while text[s..b].chars().count() > max {
            let cut = clause_cut(&text[s..b], max);
            pieces.push((s, s + cut));
            s += cut;
        }
        if s < b {
            pieces.push((s, b));
        }
    }
    let weight = |r: &(usize, usize)| {
        text[r.0..r.1]
            .chars()
            .filter(|c| c.is_alphanumeric())
            .count()
    };
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut carry: Option<usize> = None; // start of a short fragment waiting for the next
    for r in pieces {
        let r = (carry.take().unwrap_or(r.0), r.1);
        if weight(&r) < opts.claim_min_chars {
            carry = Some(r.0);
        } else {
            out.push(r);
        }
    }
    if let Some(start) = carry {
        match out.last_mut() {
            Some(last) => last.1 = text.len(),
            None => out.push((start, text.len())),
        }
    }
    out
}

/// Byte length of the first clause of a long sentence: at most `max_chars` characters,
/// ending after the last clause mark past a third of it, or after the first clause mark
/// beyond the limit when there is none before it (a claim is never cut mid-clause unless
/// the clause alone runs three times over the limit).
fn clause_cut(text: &str, max_chars: usize) -> usize {
    let is_mark = |c: char| matches!(c, '，' | ',' | '、' | '：' | ':' | '；' | ';' | '—');
    let limit = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    if let Some((i, c)) = text[..limit]
        .char_indices()
        .rev()
        .find(|&(i, c)| is_mark(c) && i * 3 >= limit)
    {
        return i + c.len_utf8();
    }
    let far = text
        .char_indices()
        .nth(max_chars * 3)
        .map_or(text.len(), |(i, _)| i);
    text[limit..far]
        .char_indices()
        .find(|&(_, c)| is_mark(c))
        .map_or(hard_cut(text, max_chars), |(i, c)| limit + i + c.len_utf8())
}

/// Ends the open paragraph, if any, recording it under `section`.
fn close_paragraph(
    open: &mut Option<(usize, usize)>,
    out: &mut Vec<(usize, usize, Option<String>)>,
    section: &Option<String>,
) {
    if let Some((a, b)) = open.take() {
        out.push((a, b, section.clone()));
    }
}

/// Counts characters up to increasing byte offsets without rescanning from the start.
struct CharCounter<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            byte: 0,
            chars: 0,
        }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    for raw in text.split_inclusive('\n') {
        let body = raw.trim_end_matches(['\n', '\r']);
        out.push(Line {
            text: body,
            at,
            kind: classify(body),
        });
        at += raw.len();
    }
    out
}

fn classify(line: &str) -> Kind {
    let t = line.trim();
    if t.is_empty() {
        return Kind::Blank;
    }
    if t.starts_with('#') && t.trim_start_matches('#').starts_with([' ', '\t']) {
        return Kind::MarkdownHeading;
    }
    if !strip_images(t).chars().any(char::is_alphanumeric) {
        return Kind::Noise;
    }
    Kind::Content
}

/// The line with Markdown images `![alt](url)` and HTML `<img>` tags removed.
fn strip_images(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let img = rest.find("![");
        let tag = rest.find("<img");
        let next = match (img, tag) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        out.push_str(&rest[..next]);
        let after = &rest[next..];
        let end = if after.starts_with("![") {
            after
                .find("](")
                .and_then(|m| after[m..].find(')').map(|c| m + c + 1))
        } else {
            after.find('>').map(|c| c + 1)
        };
        match end {
            Some(e) => rest = &after[e..],
            None => {
                out.push_str(after);
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

const CLOSERS: &[char] = &[
    '”', '’', '」', '』', '"', '\'', ')', '）', '】', '》', '*', '_',
];

const TERMINALS: &[char] = &['。', '！', '？', '!', '?', '；', ';', '…', '.'];

/// Whether the text ends a sentence (ignoring closing quotes and brackets).
fn ends_sentence(text: &str) -> bool {
    let t = text.trim_end().trim_end_matches(CLOSERS);
    t.ends_with(TERMINALS)
}

/// Whether a wrapped line is finished: a sentence end, or a colon introducing a list.
fn ends_line(text: &str) -> bool {
    ends_sentence(text) || text.trim_end().ends_with(['：', ':'])
}

/// Markdown block starts that never continue the previous line.
fn starts_block(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(['-', '*', '+', '>', '|', '·', '•'])
        || t.split_once(['.', ')']).is_some_and(|(n, _)| {
            !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())
        })
}

fn is_heading_like(line: &str, opts: &SegmentOptions) -> bool {
    let t = line.trim();
    !ends_sentence(t)
        && !carries_fact(t)
        && !crate::is_boilerplate(&crate::fold(t).as_string())
        && t.chars().filter(|c| c.is_alphanumeric()).count() <= opts.heading_max_chars
}

/// Whether an article's first line reads as its headline: not a sentence, at most twice
/// a heading's length, not a notice.
fn is_title_like(line: &str, opts: &SegmentOptions) -> bool {
    let t = line.trim();
    !ends_sentence(t)
        && t.chars().filter(|c| c.is_alphanumeric()).count() <= 2 * opts.heading_max_chars
        && !crate::is_boilerplate(&crate::fold(t).as_string())
}

/// Whether a short line states something checkable: a figure or a date (any digit), or
/// a Latin-script name inside Chinese text. Such a line is a passage, not a heading.
/// Numbered section heads (`01 行業巨頭發聲`, `3. Outlook`) stay headings.
fn carries_fact(line: &str) -> bool {
    let t = line.trim_start_matches(['#', ' ']);
    let numbered = t
        .split_once([' ', '.', '、', '）', ')'])
        .is_some_and(|(n, _)| {
            !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())
        });
    if numbered {
        return false;
    }
    let digits = t
        .chars()
        .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c));
    let cjk = t.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
    let latin_word = t
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w.len() >= 2 && w.starts_with(|c: char| c.is_ascii_uppercase()));
    digits || (cjk && latin_word)
}

/// Byte ranges of the sentences of `text`, covering it entirely.
fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let strong = matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | '…');
        let period = c == '.'
            && it.peek().is_none_or(|&(_, n)| n.is_whitespace())
            && !ends_abbreviation(&text[..i]);
        if !(strong || period) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, n)) = it.peek() {
            if CLOSERS.contains(&n) || n == c {
                end = j + n.len_utf8();
                it.next();
            } else {
                break;
            }
        }
        out.push((start, end));
        start = end;
    }
    if start < text.len() {
        out.push((start, text.len()));
    }
    out
}

/// Abbreviations whose period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "inc", "ltd", "co", "corp", "jr", "sr", "vs", "no",
    "gen", "gov", "sen", "rep", "u.s", "u.k", "e.g", "i.e", "jan", "feb", "mar", "apr", "aug",
    "sept", "sep", "oct", "nov", "dec",
];

/// Whether `before` (the text up to a period) ends with an abbreviation or an initial.
fn ends_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '“' || c == '"')
        .next()
        .unwrap_or("");
    let lower = word.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
        || (word.chars().count() == 1 && word.chars().all(|c| c.is_uppercase()))
}

/// Byte length of the first piece of `text`: at most `max_chars` characters, ending
/// after the last clause mark in its final third when there is one.
fn hard_cut(text: &str, max_chars: usize) -> usize {
    let limit = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    let window = &text[..limit];
    window
        .char_indices()
        .rev()
        .find(|&(i, c)| matches!(c, '，' | ',' | '、' | '：' | ':' | ' ') && i * 3 >= limit * 2)
        .map_or(limit, |(i, c)| i + c.len_utf8())
}

#[cfg(test)]
mod tests;
