//! Articles and how they are read: one article per text, Markdown, HTML or Word
//! (`.docx`) file, or one per line of a JSONL file (`{"id", "title", "text"}`), or
//! every such file under a folder.

use crate::meta::ArticleMeta;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

/// Longest article id, in bytes of UTF-8 after NFC normalisation.
pub const MAX_ID_BYTES: usize = 256;

/// The one rule for article ids, in files, JSONL records and the HTTP API: returns the
/// id normalised to NFC (so `café` typed precomposed or decomposed is one article), or
/// why it is refused: empty, longer than [`MAX_ID_BYTES`], only whitespace or invisible
/// characters, or holding a control character (newline, tab, BEL...) or a
/// bidirectional control (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C).
pub fn check_article_id(id: &str) -> Result<String, String> {
    let id: String = id.nfc().collect();
    if id.is_empty() {
        return Err("article id is empty".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "article id is {} bytes, over the {MAX_ID_BYTES}-byte limit",
            id.len()
        ));
    }
    if let Some(c) = id.chars().find(|&c| c.is_control()) {
        return Err(format!(
            "article id {id:?} contains the control character U+{:04X}",
            c as u32
        ));
    }
    if let Some(c) = id.chars().find(|&c| is_bidi_control(c)) {
        return Err(format!(
            "article id {id:?} contains the bidirectional control character U+{:04X}",
            c as u32
        ));
    }
    if id.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(format!(
            "article id {id:?} has only whitespace or invisible characters"
        ));
    }
    Ok(id)
}

/// Marks and embeddings that reorder text when displayed (so an id reads as another).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Characters that display as nothing: zero-width spaces and joiners, word joiner and
/// invisible operators, byte-order mark, soft hyphen, fillers, variation selectors, tags.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// One source document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// Unique within a collection: the file stem, or the JSONL `id`.
    pub id: String,
    pub title: Option<String>,
    pub text: String,
    /// Where the article was read from, for display.
    pub source: Option<String>,
    /// Outlet, publication time, URL, language, author, where known.
    #[serde(default, skip_serializing_if = "ArticleMeta::is_empty")]
    pub meta: ArticleMeta,
}

impl Article {
    /// An article from its text, as every way in (files, JSONL records, the API) makes
    /// one: YAML front matter and a metadata line among the first three
    /// (`> source: ...; date: ...`) are read into [`Article::meta`] (filling what `meta`
    /// does not give) and blanked (offsets still match the text given); the title, when
    /// none is given, is the front matter's, else the text's opening `#` heading or
    /// headline-like first line.
    pub fn new(
        id: String,
        text: String,
        title: Option<String>,
        source: Option<String>,
        meta: ArticleMeta,
    ) -> Self {
        let (front, front_title, text) = crate::meta::front_matter(text);
        let (line, text) = metadata_line(text);
        let title = title
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .or(front_title)
            .or_else(|| title_of(&text));
        Self {
            id,
            title,
            text,
            source,
            meta: meta.or(front).or(line),
        }
    }
}

/// Why an input could not be read as articles.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: looks like a binary file (contains NUL bytes), not text")]
    Binary { path: PathBuf },
    #[error("{path}: not valid UTF-8 (first bad byte at offset {offset}); {hint}")]
    NotUtf8 {
        path: PathBuf,
        offset: usize,
        hint: String,
    },
    #[error("{path}: {size} bytes is over the {limit}-byte limit for one article (raise --max-article-bytes)")]
    TooLarge {
        path: PathBuf,
        size: usize,
        limit: usize,
    },
    #[error("{path}: empty, no text to index")]
    Empty { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Record {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: the file name is not a valid article id: {message}")]
    Id { path: PathBuf, message: String },
    #[error("{path}: not a readable Word document ({message}); save it again as .docx from Word or LibreOffice, or as plain text")]
    Docx { path: PathBuf, message: String },
    #[error("{path}: no .txt, .md, .html, .docx or .jsonl files found")]
    NoFiles { path: PathBuf },
}

/// Limits applied while reading.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Largest article accepted, in bytes of UTF-8 text.
    pub max_article_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_article_bytes: 2 << 20,
        }
    }
}

const TEXT_EXTENSIONS: &[&str] = &["txt", "text", "md", "markdown", "html", "htm", "xhtml"];
const HTML_EXTENSIONS: &[&str] = &["html", "htm", "xhtml"];

/// Reads every article at `path`: a text, Markdown, HTML or Word file, a JSONL file, or
/// a folder searched recursively for them (hidden entries skipped, paths in sorted
/// order). Text in another encoding than UTF-8 (GBK, Big5, UTF-16...) is detected and
/// decoded; an HTML page is read for its article's text ([`crate::html`]), a Word
/// document for its paragraphs ([`crate::docx`]).
pub fn read_articles(path: &Path, opts: &ReadOptions) -> Result<Vec<Article>, TextError> {
    let meta = std::fs::metadata(path).map_err(|source| TextError::Io {
        path: path.into(),
        source,
    })?;
    if !meta.is_dir() {
        return read_file(path, opts);
    }
    let mut files = Vec::new();
    collect_files(path, &mut files)?;
    if files.is_empty() {
        return Err(TextError::NoFiles { path: path.into() });
    }
    let mut out = Vec::new();
    for f in files {
        out.extend(read_file(&f, opts)?);
    }
    Ok(out)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TextError> {
    let io = |source| TextError::Io {
        path: dir.into(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if extension(&p)
            .is_some_and(|e| e == "jsonl" || e == "docx" || TEXT_EXTENSIONS.contains(&e.as_str()))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn extension(p: &Path) -> Option<String> {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

fn read_file(path: &Path, opts: &ReadOptions) -> Result<Vec<Article>, TextError> {
    let is_jsonl = extension(path).is_some_and(|e| e == "jsonl");
    let bytes = std::fs::read(path).map_err(|source| TextError::Io {
        path: path.into(),
        source,
    })?;
    // A JSONL file holds many articles; the per-article limit applies to each record.
    if !is_jsonl && bytes.len() > opts.max_article_bytes {
        return Err(TextError::TooLarge {
            path: path.into(),
            size: bytes.len(),
            limit: opts.max_article_bytes,
        });
    }
    let text = if extension(path).is_some_and(|e| e == "docx") {
        crate::docx::text(&bytes).map_err(|message| TextError::Docx {
            path: path.into(),
            message,
        })?
    } else {
        decode(path, bytes)?
    };
    if text.trim().is_empty() {
        return Err(TextError::Empty { path: path.into() });
    }
    if is_jsonl {
        return parse_jsonl(path, &text, opts);
    }
    let (title, text) = if extension(path).is_some_and(|e| HTML_EXTENSIONS.contains(&e.as_str())) {
        let (title, text) = crate::html::readable(&text);
        if text.trim().is_empty() {
            return Err(TextError::Empty { path: path.into() });
        }
        (title, text)
    } else {
        (None, text)
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("article");
    let id = check_article_id(stem).map_err(|message| TextError::Id {
        path: path.into(),
        message,
    })?;
    Ok(vec![Article::new(
        id,
        text,
        title,
        Some(path.display().to_string()),
        ArticleMeta::default(),
    )])
}

/// Reads a metadata line among the first three (`> source: Harbour Daily; date:
/// 2025-03-02`: every `key: value` with a key [`ArticleMeta`] knows) and blanks it (as
/// many spaces, so character offsets still match the file): it describes the article
/// and is never a passage of it.
fn metadata_line(text: String) -> (ArticleMeta, String) {
    let mut at = 0;
    for line in text.split_inclusive('\n').take(3) {
        let body = line.trim_end_matches(['\n', '\r']);
        let fields: Option<Vec<(&str, &str)>> = body.trim().strip_prefix('>').and_then(|rest| {
            rest.split(';')
                .map(|kv| kv.split_once(':').filter(|(k, _)| crate::meta::is_key(k)))
                .collect()
        });
        if let Some(fields) = fields {
            let mut meta = ArticleMeta::default();
            for (k, v) in fields {
                meta.set(k, v);
            }
            return (meta, crate::meta::blank(&text, at, at + body.len()));
        }
        at += line.len();
    }
    (ArticleMeta::default(), text)
}

/// An article's title: its first Markdown heading if one opens it, else its first line
/// when that reads as a headline (short, not a sentence, not a byline or a notice).
fn title_of(text: &str) -> Option<String> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if let Some(h) = first.strip_prefix('#') {
        let h = h.trim_start_matches('#').trim();
        return (!h.is_empty()).then(|| h.to_string());
    }
    let letters = first.chars().filter(|c| c.is_alphanumeric()).count();
    let sentence = first.ends_with(['。', '.', '！', '？', '!', '?', '：', ':']);
    let marked = first.starts_with(['·', '•', '(', '（', '【', '[', '>', '-', '*'])
        || ["文/", "作者", "来源", "來源", "By "]
            .iter()
            .any(|m| first.contains(m));
    (letters >= 4 && first.chars().count() <= 80 && !sentence && !marked).then(|| first.to_string())
}

/// The text of a file: UTF-8, or UTF-16 with its byte-order mark, or the legacy
/// encoding `chardetng` detects (GBK and GB18030, Big5, Shift_JIS, EUC-KR, windows-125x...)
/// when the bytes decode in it without a single error. Binaries are refused, and so is
/// text that is none of these, with the encoding it came closest to and how to convert it.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, TextError> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(&bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if !had_errors {
            return Ok(text.into_owned());
        }
    }
    if bytes.contains(&0) {
        return Err(TextError::Binary { path: path.into() });
    }
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e.into_bytes(),
    };
    let offset = std::str::from_utf8(&bytes)
        .err()
        .map_or(0, |e| e.valid_up_to());
    // UTF-8 characters before the first bad byte: a UTF-8 file with damage, which no
    // legacy decoding would read right.
    if bytes[..offset].iter().any(|b| !b.is_ascii()) {
        return Err(TextError::NotUtf8 {
            path: path.into(),
            offset,
            hint: "the text before it is UTF-8, so the file looks damaged".into(),
        });
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(&bytes, true);
    let (guess, confident) = detector.guess_assess(None, false);
    let (text, had_errors) = guess.decode_without_bom_handling(&bytes);
    if had_errors || !confident {
        let name = guess.name();
        return Err(TextError::NotUtf8 {
            path: path.into(),
            offset,
            hint: format!(
                "nor cleanly {name}, the encoding it looks closest to; convert it to UTF-8 \
                 first (for example `iconv -f {name} -t UTF-8`)"
            ),
        });
    }
    Ok(text.into_owned())
}

#[derive(Deserialize)]
struct Record {
    id: Option<serde_json::Value>,
    title: Option<String>,
    text: Option<String>,
    /// Every other field: metadata under any of the names [`ArticleMeta`] knows.
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

fn parse_jsonl(path: &Path, text: &str, opts: &ReadOptions) -> Result<Vec<Article>, TextError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| TextError::Record {
            path: path.into(),
            line: i + 1,
            message,
        };
        let rec: Record =
            serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let id = match rec.id {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(_) => return Err(err("`id` must be a non-empty string or a number".into())),
            None => return Err(err("missing `id`".into())),
        };
        let id = check_article_id(&id).map_err(err)?;
        let text = rec.text.ok_or_else(|| err("missing `text`".into()))?;
        if text.trim().is_empty() {
            return Err(err(format!("article {id:?} has empty `text`")));
        }
        if text.len() > opts.max_article_bytes {
            return Err(err(format!(
                "article {id:?} is {} bytes, over the {}-byte limit (raise --max-article-bytes)",
                text.len(),
                opts.max_article_bytes
            )));
        }
        let mut meta = ArticleMeta::default();
        for (k, v) in &rec.rest {
            if let Some(v) = v.as_str() {
                meta.set(k, v);
            }
        }
        out.push(Article::new(
            id,
            text,
            rec.title,
            Some(format!("{}:{}", path.display(), i + 1)),
            meta,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
