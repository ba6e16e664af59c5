//! Reading `concord embed` input: plain text lines or JSONL `{"id":..,"text":..}`; and
//! reading back what it writes, for the benchmarks ([`read_embedded`]).
//!
//! The first non-empty line decides: a JSON object with a `text` field means JSONL
//! (then every non-empty line must be one); anything else means one text per line,
//! with the 1-based line number as id. Empty lines are skipped in both forms.
//! Invalid UTF-8 and malformed records are errors naming the line.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Opens FILE, or stdin when it is absent or `-`.
pub fn open_input(file: Option<&Path>) -> Result<Box<dyn BufRead>> {
    Ok(match file {
        Some(p) if p.as_os_str() != "-" => Box::new(BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        _ => Box::new(BufReader::new(std::io::stdin())),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Value,
    pub text: String,
}

pub fn read_records(reader: impl BufRead) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut jsonl: Option<bool> = None;
    for (i, line) in reader.split(b'\n').enumerate() {
        let n = i + 1;
        let bytes = line.with_context(|| format!("reading line {n}"))?;
        let line = String::from_utf8(bytes)
            .map_err(|e| anyhow::anyhow!("line {n} is not valid UTF-8 ({e})"))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        let is_jsonl = *jsonl.get_or_insert_with(|| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| v.get("text").is_some())
        });
        if is_jsonl {
            let v: Value = serde_json::from_str(line)
                .with_context(|| format!("line {n} is not a JSON object"))?;
            let Some(text) = v.get("text").and_then(Value::as_str) else {
                bail!("line {n}: missing string field \"text\"");
            };
            let id = v.get("id").cloned().unwrap_or(Value::from(n));
            records.push(Record {
                id,
                text: text.to_string(),
            });
        } else {
            records.push(Record {
                id: Value::from(n),
                text: line.to_string(),
            });
        }
    }
    Ok(records)
}

/// The texts and embeddings of a JSONL file as `concord embed` writes it (`text` may
/// be missing: it reads as empty).
pub fn read_embedded(path: &Path) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        text: String,
        embedding: Vec<f32>,
    }
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let (mut texts, mut vectors) = (Vec::new(), Vec::new());
    for (i, l) in BufReader::new(file).lines().enumerate() {
        let line: Line = serde_json::from_str(&l?).with_context(|| {
            format!(
                "{}:{}: expected {{\"text\", \"embedding\"}}",
                path.display(),
                i + 1
            )
        })?;
        texts.push(line.text);
        vectors.push(line.embedding);
    }
    if vectors.is_empty() {
        bail!("{}: no embeddings", path.display());
    }
    Ok((texts, vectors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_get_line_numbers() {
        let r = read_records("first\n\nthird\r\n".as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].id, Value::from(1));
        assert_eq!(r[1].id, Value::from(3));
        assert_eq!(r[1].text, "third");
    }

    #[test]
    fn jsonl_keeps_ids() {
        let r =
            read_records("{\"id\":\"a\",\"text\":\"x\"}\n{\"text\":\"y\"}\n".as_bytes()).unwrap();
        assert_eq!(r[0].id, Value::from("a"));
        assert_eq!(r[1].id, Value::from(2));
    }

    #[test]
    fn bad_jsonl_line_is_an_error() {
        let err = read_records("{\"id\":1,\"text\":\"x\"}\nnot json\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = read_records("{\"id\":1,\"text\":\"x\"}\n{\"id\":2}\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("text"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let err = read_records(&b"ok\n\xff\xfe\n"[..]).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
