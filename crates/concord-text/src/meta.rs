//! What an article says about itself: its outlet, publication time, URL, language and
//! author, from YAML front matter opening a text or Markdown file (parsed by
//! `yaml-rust2`), from a `> source: ...; date: ...` line among its first three, from
//! JSONL fields or from the API. Both in-text forms are blanked where they stand (every
//! character but line breaks becomes a space), so passage offsets still match the file.

use serde::{Deserialize, Serialize};
use yaml_rust2::{Yaml, YamlLoader};

/// An article's metadata; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleMeta {
    /// The outlet or site that published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    /// When it was published, as given (ISO 8601 dates sort as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A language tag (`zh-Hant`, `zh-Hans`, `en`...), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// The names each field goes by, lower case.
const KEYS: [(&str, &[&str]); 5] = [
    (
        "outlet",
        &["outlet", "source", "publisher", "site", "media"],
    ),
    (
        "published",
        &[
            "published",
            "date",
            "published_at",
            "pubdate",
            "time",
            "datetime",
        ],
    ),
    ("url", &["url", "link", "canonical"]),
    ("language", &["language", "lang", "locale"]),
    ("author", &["author", "byline", "authors"]),
];

/// Keys a `> key: value; ...` line may hold to count as a metadata line.
pub(crate) fn is_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    KEYS.iter().any(|(_, names)| names.contains(&key.as_str()))
}

impl ArticleMeta {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// This, with the fields it lacks taken from `other`.
    pub fn or(self, other: ArticleMeta) -> ArticleMeta {
        ArticleMeta {
            outlet: self.outlet.or(other.outlet),
            published: self.published.or(other.published),
            url: self.url.or(other.url),
            language: self.language.or(other.language),
            author: self.author.or(other.author),
        }
    }

    /// Sets the field `key` names (any of its aliases) unless it is set; false for a
    /// key that names no field.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let key = key.trim().to_ascii_lowercase();
        let Some((field, _)) = KEYS.iter().find(|(_, names)| names.contains(&key.as_str())) else {
            return false;
        };
        let value = value.trim();
        if value.is_empty() {
            return true;
        }
        let slot = match *field {
            "outlet" => &mut self.outlet,
            "published" => &mut self.published,
            "url" => &mut self.url,
            "language" => &mut self.language,
            _ => &mut self.author,
        };
        slot.get_or_insert_with(|| value.to_string());
        true
    }
}

/// `text` with every character of `start..end` (byte offsets) but line breaks blanked.
pub(crate) fn blank(text: &str, start: usize, end: usize) -> String {
    let middle: String = text[start..end]
        .chars()
        .map(|c| if c == '\n' || c == '\r' { c } else { ' ' })
        .collect();
    format!("{}{middle}{}", &text[..start], &text[end..])
}

/// Reads YAML front matter (a `---` first line, a mapping, a `---` or `...` line) and
/// blanks it. Returns the metadata, a `title` if it has one, and the text; a block that
/// is not a YAML mapping is left as text.
pub(crate) fn front_matter(text: String) -> (ArticleMeta, Option<String>, String) {
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let skip = text.len() - body.len();
    let first_end = body.find('\n').unwrap_or(body.len());
    if body[..first_end].trim_end() != "---" {
        return (ArticleMeta::default(), None, text);
    }
    let mut at = first_end + 1;
    let mut close = None;
    while at < body.len() {
        let end = body[at..].find('\n').map_or(body.len(), |i| at + i);
        let line = body[at..end].trim_end();
        if line == "---" || line == "..." {
            close = Some((at, end));
            break;
        }
        at = end + 1;
    }
    let Some((yaml_end, block_end)) = close else {
        return (ArticleMeta::default(), None, text);
    };
    let yaml = &body[first_end + 1..yaml_end];
    let Ok(docs) = YamlLoader::load_from_str(yaml) else {
        return (ArticleMeta::default(), None, text);
    };
    let Some(Yaml::Hash(map)) = docs.first() else {
        return (ArticleMeta::default(), None, text);
    };
    let mut meta = ArticleMeta::default();
    let mut title = None;
    for (k, v) in map {
        let (Some(key), Some(value)) = (k.as_str(), scalar(v)) else {
            continue;
        };
        if matches!(key.to_ascii_lowercase().as_str(), "title" | "headline") {
            title = Some(value);
        } else {
            meta.set(key, &value);
        }
    }
    let blanked = blank(&text, skip, skip + block_end);
    (meta, title, blanked)
}

/// A YAML scalar as text; a list of scalars (several authors) joined with commas.
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_read_and_blanked_in_place() {
        let text = "---\ntitle: 渡輪首航\noutlet: 港灣日報\ndate: 2025-03-02\nauthors: [林靜, 陳明]\nurl: https://example.org/a\ntags: [港口]\n---\n港務局週一宣布。\n";
        let (meta, title, out) = front_matter(text.to_string());
        assert_eq!(title.as_deref(), Some("渡輪首航"));
        assert_eq!(meta.outlet.as_deref(), Some("港灣日報"));
        assert_eq!(meta.published.as_deref(), Some("2025-03-02"));
        assert_eq!(meta.author.as_deref(), Some("林靜, 陳明"));
        assert_eq!(meta.url.as_deref(), Some("https://example.org/a"));
        assert_eq!(out.chars().count(), text.chars().count());
        assert_eq!(out.lines().count(), text.lines().count());
        assert_eq!(out.trim(), "港務局週一宣布。");
    }

    #[test]
    fn a_dash_rule_that_is_not_front_matter_stays_text() {
        for text in [
            "---\n不是 YAML: [\n---\n正文。\n",
            "---\n正文沒有結尾。\n",
            "正文。\n---\n",
        ] {
            let (meta, title, out) = front_matter(text.to_string());
            assert!(meta.is_empty() && title.is_none());
            assert_eq!(out, text);
        }
    }
}
