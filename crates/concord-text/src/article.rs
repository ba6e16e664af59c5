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
mod tests {
    use super::*;

    #[test]
    fn legacy_encodings_are_detected_and_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let simplified = "港务局周一宣布，首批六艘电动渡轮正式投入营运，往返东堤与南湾码头之间。\n票价维持不变，市民反应热烈。\n";
        let traditional = "港務局週一宣布，首批六艘電動渡輪正式投入營運，往返東堤與南灣碼頭之間。\n票價維持不變，市民反應熱烈。\n";
        let cases: [(&str, Vec<u8>, &str); 4] = [
            (
                "gbk.txt",
                encoding_rs::GBK.encode(simplified).0.into_owned(),
                simplified,
            ),
            (
                "big5.txt",
                encoding_rs::BIG5.encode(traditional).0.into_owned(),
                traditional,
            ),
            (
                "utf16.txt",
                [0xFF, 0xFE]
                    .into_iter()
                    .chain(traditional.encode_utf16().flat_map(u16::to_le_bytes))
                    .collect(),
                traditional,
            ),
            (
                "latin1.txt",
                encoding_rs::WINDOWS_1252
                    .encode("Le café crème coûte déjà trois euros à Genève.\n")
                    .0
                    .into_owned(),
                "Le café crème coûte déjà trois euros à Genève.\n",
            ),
        ];
        for (name, bytes, want) in cases {
            let p = write(dir.path(), name, &bytes);
            let a = read_articles(&p, &ReadOptions::default()).unwrap();
            assert_eq!(a[0].text, want, "{name}");
        }
        // UTF-8 with a bad byte in it is damage, not another encoding.
        let mut damaged = simplified.as_bytes().to_vec();
        damaged.insert(12, 0xFF);
        let p = write(dir.path(), "damaged.txt", &damaged);
        let e = read_articles(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("offset 12") && e.contains("damaged"), "{e}");
    }

    #[test]
    fn metadata_comes_from_front_matter_the_source_line_and_jsonl_fields() {
        let dir = tempfile::tempdir().unwrap();
        let md = write(
            dir.path(),
            "a.md",
            "---\noutlet: 港灣日報\ndate: 2025-03-02\nlanguage: zh-Hant\n---\n# 渡輪首航\n\n港務局週一宣布。\n".as_bytes(),
        );
        let a = read_articles(&md, &ReadOptions::default())
            .unwrap()
            .remove(0);
        assert_eq!(a.title.as_deref(), Some("渡輪首航"));
        assert_eq!(a.meta.outlet.as_deref(), Some("港灣日報"));
        assert_eq!(a.meta.published.as_deref(), Some("2025-03-02"));
        assert_eq!(a.meta.language.as_deref(), Some("zh-Hant"));
        assert!(!a.text.contains("outlet") && a.text.contains("港務局週一宣布。"));
        let txt = write(
            dir.path(),
            "b.txt",
            "渡輪首航\n> source: 南方晚報; date: 2025-03-03; url: https://example.org/b\n港务局周一宣布。\n".as_bytes(),
        );
        let b = read_articles(&txt, &ReadOptions::default())
            .unwrap()
            .remove(0);
        assert_eq!(b.meta.outlet.as_deref(), Some("南方晚報"));
        assert_eq!(b.meta.published.as_deref(), Some("2025-03-03"));
        assert_eq!(b.meta.url.as_deref(), Some("https://example.org/b"));
        assert!(!b.text.contains("source"));
        let jsonl = write(
            dir.path(),
            "c.jsonl",
            r#"{"id":"c","title":"T","text":"港務局宣布。","outlet":"Harbour Post","published":"2025-03-01T08:00:00Z","lang":"en"}"#.as_bytes(),
        );
        let c = read_articles(&jsonl, &ReadOptions::default())
            .unwrap()
            .remove(0);
        assert_eq!(c.meta.outlet.as_deref(), Some("Harbour Post"));
        assert_eq!(c.meta.published.as_deref(), Some("2025-03-01T08:00:00Z"));
        assert_eq!(c.meta.language.as_deref(), Some("en"));
    }

    #[test]
    fn html_pages_are_read_for_their_article() {
        let dir = tempfile::tempdir().unwrap();
        let page = "<html><head><title>站名</title><script>var a=1;</script></head><body>\
            <nav>首頁 | 新聞</nav><article><h1>渡輪下月首航</h1><p>港務局宣布，<b>六艘</b>電動渡輪下月投入營運。</p>\
            <p>單程約22分鐘。</p></article><footer>版權所有</footer></body></html>";
        let p = write(dir.path(), "ferry.html", page.as_bytes());
        let a = read_articles(dir.path(), &ReadOptions::default()).unwrap();
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].id, "ferry");
        assert_eq!(a[0].title.as_deref(), Some("渡輪下月首航"));
        assert!(a[0].text.contains("港務局宣布，六艘電動渡輪下月投入營運。"));
        assert!(
            !a[0].text.contains('<') && !a[0].text.contains("var a") && !a[0].text.contains("版權")
        );
        // A GBK page decodes too.
        let gbk = encoding_rs::GBK.encode("<html><body><p>港务局宣布，六艘电动渡轮下月投入营运，单程约二十二分钟。</p></body></html>").0;
        write(dir.path(), "gbk.htm", &gbk);
        let a = read_articles(&dir.path().join("gbk.htm"), &ReadOptions::default()).unwrap();
        assert!(a[0].text.contains("港务局宣布"), "{:?}", a[0].text);
        let _ = p;
    }

    #[test]
    fn word_documents_are_read_for_their_paragraphs() {
        use docx_rs::{Docx, Paragraph, Run};
        let dir = tempfile::tempdir().unwrap();
        let mut buf = std::io::Cursor::new(Vec::new());
        Docx::new()
            .add_paragraph(
                Paragraph::new()
                    .add_run(Run::new().add_text("渡輪下月首航"))
                    .style("Title"),
            )
            .add_paragraph(
                Paragraph::new()
                    .add_run(Run::new().add_text("港務局宣布，六艘電動渡輪下月投入營運。")),
            )
            .build()
            .pack(&mut buf)
            .unwrap();
        write(dir.path(), "ferry.docx", buf.get_ref());
        let a = read_articles(dir.path(), &ReadOptions::default()).unwrap();
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].id, "ferry");
        assert_eq!(a[0].title.as_deref(), Some("渡輪下月首航"));
        assert!(
            a[0].text
                .ends_with("港務局宣布，六艘電動渡輪下月投入營運。"),
            "{:?}",
            a[0].text
        );
        // A damaged one is refused with the reason and what to do.
        let broken = write(dir.path(), "broken.docx", &buf.get_ref()[..200]);
        let e = read_articles(&broken, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("broken.docx: not a readable Word document") && e.contains("save it again"),
            "{e}"
        );
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_files_folders_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.md", "# Title\n\nBody.\n".as_bytes());
        write(dir.path(), "a.txt", "\u{feff}第一段。\n".as_bytes());
        write(dir.path(), ".hidden.txt", b"skip me");
        write(dir.path(), "notes.bin", b"skip me too");
        write(
            dir.path(),
            "c.jsonl",
            br#"{"id":"x","title":"T","text":"hello."}
{"id":7,"text":"seven."}
"#,
        );
        let got = read_articles(dir.path(), &ReadOptions::default()).unwrap();
        let ids: Vec<_> = got.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "x", "7"]);
        assert_eq!(got[0].text, "第一段。\n", "byte-order mark dropped");
        assert_eq!(got[2].title.as_deref(), Some("T"));
        assert_eq!(got[1].title.as_deref(), Some("Title"));
        assert_eq!(got[0].title, None, "a sentence is not a title");
    }

    #[test]
    fn titles_and_metadata_lines() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# 港口新航線\n> source: 本地日報; date: 2025-03-02\n\n首日載客三千人。\n";
        let p = write(dir.path(), "a.md", text.as_bytes());
        let a = read_articles(&p, &ReadOptions::default())
            .unwrap()
            .remove(0);
        assert_eq!(a.title.as_deref(), Some("港口新航線"));
        assert!(!a.text.contains("source"), "{}", a.text);
        assert_eq!(a.text.chars().count(), text.chars().count(), "offsets kept");
        let p = write(
            dir.path(),
            "b.txt",
            "全球AI芯片巨頭首次全面解析\n正文第一段。\n".as_bytes(),
        );
        let b = read_articles(&p, &ReadOptions::default())
            .unwrap()
            .remove(0);
        assert_eq!(b.title.as_deref(), Some("全球AI芯片巨頭首次全面解析"));
        for first in ["· 全文共 7999 字", "文/劉勝軍", "置頂推薦:"] {
            let p = write(dir.path(), "c.txt", format!("{first}\n正文。\n").as_bytes());
            let c = read_articles(&p, &ReadOptions::default())
                .unwrap()
                .remove(0);
            assert_eq!(c.title, None, "{first}");
        }
    }

    #[test]
    fn one_id_rule() {
        assert_eq!(check_article_id("cafe\u{301}").unwrap(), "caf\u{e9}");
        assert_eq!(check_article_id("caf\u{e9}").unwrap(), "caf\u{e9}");
        for ok in ["a", "7", "港口 新航線", "a b", "x\u{200d}y", "👩\u{200d}💻"] {
            assert_eq!(check_article_id(ok).as_deref(), Ok(ok), "{ok:?}");
        }
        let long = "a".repeat(MAX_ID_BYTES + 1);
        for bad in [
            "",
            " ",
            "\u{3000}",
            "\u{200b}",
            " \u{200b}\u{feff}\u{2060} ",
            "a\nb",
            "a\tb",
            "bell\u{7}",
            "del\u{7f}",
            "a\u{85}",
            "a\u{202a}b",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{2069}b",
            long.as_str(),
        ] {
            let err = check_article_id(bad).unwrap_err();
            assert!(err.starts_with("article id"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn jsonl_and_file_ids_follow_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "ids.jsonl",
            "{\"id\":\"cafe\u{301}\",\"text\":\"ok.\"}\n".as_bytes(),
        );
        let got = read_articles(&p, &ReadOptions::default()).unwrap();
        assert_eq!(got[0].id, "caf\u{e9}");
        let p = write(
            dir.path(),
            "bad.jsonl",
            b"{\"id\":\"a\",\"text\":\"ok.\"}\n{\"id\":\"a\\u0007\",\"text\":\"ok.\"}\n",
        );
        let err = read_articles(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.jsonl:2: article id"), "{err}");
        let p = write(dir.path(), "bell\u{7}.txt", b"Some text.");
        let err = read_articles(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid article id"), "{err}");
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ReadOptions {
            max_article_bytes: 1000,
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty.txt", b"  \n\n".to_vec(), "empty"),
            ("bin.txt", b"PK\x03\x04\x00\x00".to_vec(), "binary"),
            (
                "damaged.txt",
                b"caf\xc3\xa9 au lait \xff".to_vec(),
                "offset 14",
            ),
            ("big.txt", vec![b'a'; 1001], "over the 1000-byte limit"),
            (
                "bad.jsonl",
                b"{\"id\":\"a\",\"text\":\"ok\"}\n{oops\n".to_vec(),
                ":2: invalid JSON",
            ),
            (
                "noid.jsonl",
                b"{\"text\":\"ok\"}\n".to_vec(),
                "missing `id`",
            ),
            (
                "notext.jsonl",
                b"{\"id\":\"a\",\"text\":\" \"}\n".to_vec(),
                "empty `text`",
            ),
        ];
        for (name, bytes, want) in cases {
            let p = write(dir.path(), name, &bytes);
            let err = read_articles(&p, &opts).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
        let missing = read_articles(&dir.path().join("nope.txt"), &opts).unwrap_err();
        assert!(matches!(missing, TextError::Io { .. }));
        let empty_dir = tempfile::tempdir().unwrap();
        let err = read_articles(empty_dir.path(), &opts).unwrap_err();
        assert!(matches!(err, TextError::NoFiles { .. }));
    }
}
