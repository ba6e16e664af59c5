//! Cutting an article into passages. Paragraphs are the unit: one per line in text that
//! puts each paragraph on its own line (most Chinese news), or blank-line separated blocks
//! with wrapped lines joined (Markdown, hard-wrapped prose). Headings, bylines and other
//! short unpunctuated lines, image placeholders, rules and empty lines never become
//! passages; headings are kept as the `section` of the passages under them. Paragraphs
//! longer than `max_chars` are split at sentence ends (Chinese and Western punctuation).

use serde::{Deserialize, Serialize};

/// A span of an article that is embedded and compared on its own.
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
}

#[derive(Debug, Clone)]
pub struct SegmentOptions {
    /// Paragraphs longer than this many characters are split at sentence ends.
    pub max_chars: usize,
    /// Unpunctuated lines with at most this many letters and digits count as headings.
    pub heading_max_chars: usize,
    /// Passages with fewer letters and digits than this are dropped.
    pub min_chars: usize,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            max_chars: 400,
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
    for (i, line) in lines.iter().enumerate() {
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
    for (a, b, section) in paragraphs {
        for (ca, cb) in split_long(&text[a..b], opts.max_chars) {
            let (sa, sb) = (a + ca, a + cb);
            let piece = &text[sa..sb];
            let trimmed_start = sa + (piece.len() - piece.trim_start().len());
            let trimmed_end = sb - (piece.len() - piece.trim_end().len());
            let body = &text[trimmed_start..trimmed_end];
            if body.chars().filter(|c| c.is_alphanumeric()).count() < opts.min_chars {
                continue;
            }
            let start = chars_before.at(trimmed_start);
            let end = chars_before.at(trimmed_end);
            out.push(Passage {
                index: out.len() as u32,
                start: start as u32,
                end: end as u32,
                text: body.to_string(),
                section: section.clone(),
            });
        }
    }
    out
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
    !ends_sentence(t) && t.chars().filter(|c| c.is_alphanumeric()).count() <= opts.heading_max_chars
}

/// Byte ranges of `text` no longer than `max_chars` characters each, cut after
/// sentence ends where possible (one range when the text is short enough).
fn split_long(text: &str, max_chars: usize) -> Vec<(usize, usize)> {
    if text.chars().count() <= max_chars {
        return vec![(0, text.len())];
    }
    let mut out = Vec::new();
    let mut chunk_start = 0;
    let mut chunk_chars = 0;
    for (a, b) in sentences(text) {
        let n = text[a..b].chars().count();
        if chunk_chars > 0 && chunk_chars + n > max_chars {
            out.push((chunk_start, a));
            chunk_start = a;
            chunk_chars = 0;
        }
        if n > max_chars {
            // A sentence that alone is too long is cut at a clause mark near the
            // limit, or at the limit itself.
            let mut s = a;
            while text[s..b].chars().count() > max_chars {
                let cut = hard_cut(&text[s..b], max_chars);
                out.push((s, s + cut));
                s += cut;
            }
            chunk_start = s;
            chunk_chars = text[s..b].chars().count();
        } else {
            chunk_chars += n;
        }
    }
    if chunk_start < text.len() {
        out.push((chunk_start, text.len()));
    }
    out
}

/// Byte ranges of the sentences of `text`, covering it entirely.
fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let strong = matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | '…');
        let period = c == '.' && it.peek().is_none_or(|&(_, n)| n.is_whitespace());
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
mod tests {
    use super::*;

    fn texts(ps: &[Passage]) -> Vec<&str> {
        ps.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn one_paragraph_per_line_with_headings_and_images_dropped() {
        let text = "港口新航線啟用\n文/本報記者\n渡輪公司週一宣布新航線正式啟用，首日載客三千人。\n![](https://img.example/1.png)\n\n01 運量\n市府表示，未來將加密班次。\n";
        let ps = segment(text, &SegmentOptions::default());
        assert_eq!(
            texts(&ps),
            [
                "渡輪公司週一宣布新航線正式啟用，首日載客三千人。",
                "市府表示，未來將加密班次。"
            ]
        );
        assert_eq!(ps[0].section.as_deref(), Some("文/本報記者"));
        assert_eq!(ps[1].section.as_deref(), Some("01 運量"));
        assert_eq!(ps[1].index, 1);
        let chars: Vec<char> = text.chars().collect();
        for p in &ps {
            let span: String = chars[p.start as usize..p.end as usize].iter().collect();
            assert_eq!(span, p.text);
        }
    }

    #[test]
    fn markdown_blocks_join_wrapped_lines() {
        let text = "# Harbour news\n\nThe ferry line opened on Monday\nand carried three thousand people.\n\n- a list item.\n- another item.\n\n## Outlook\n\nMore boats are planned for next year.\n";
        let ps = segment(text, &SegmentOptions::default());
        assert_eq!(
            texts(&ps),
            [
                "The ferry line opened on Monday\nand carried three thousand people.",
                "- a list item.",
                "- another item.",
                "More boats are planned for next year."
            ]
        );
        assert_eq!(ps[0].section.as_deref(), Some("Harbour news"));
        assert_eq!(ps[3].section.as_deref(), Some("Outlook"));
    }

    #[test]
    fn long_paragraphs_split_at_sentence_ends() {
        let sentence = "這是一個用來測試切分的句子，內容沒有特別的意義。";
        let para = sentence.repeat(40);
        let opts = SegmentOptions {
            max_chars: 100,
            ..Default::default()
        };
        let ps = segment(&para, &opts);
        assert!(ps.len() > 1);
        for p in &ps {
            assert!(p.text.chars().count() <= 100);
            assert!(p.text.ends_with('。'), "{}", p.text);
        }
        let joined: String = ps.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, para);
        let western = "One sentence here. Version 1.4 ships today! ".repeat(20);
        let ps = segment(&western, &opts);
        assert!(ps.iter().all(|p| p.text.ends_with(['.', '!'])));
    }

    #[test]
    fn a_huge_unpunctuated_line_is_cut_without_panicking() {
        let line = "字".repeat(5000);
        let ps = segment(&line, &SegmentOptions::default());
        assert_eq!(ps.len(), 13);
        assert_eq!(ps.last().unwrap().end, 5000);
    }
}
