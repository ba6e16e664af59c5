//! Word documents (`.docx`): the body's paragraphs as text, read with `docx-rs`.
//!
//! Each paragraph (and each table cell's paragraph) becomes a paragraph of the
//! article, its runs, hyperlinks and tracked insertions joined; deleted text is left
//! out. A paragraph in a heading or title style becomes a Markdown heading (`# `), so
//! it is a heading to segmentation and its first one the article's title.

use docx_rs::{
    DocumentChild, InsertChild, Paragraph, ParagraphChild, RunChild, TableCellContent, TableChild,
    TableRowChild,
};

/// The document's text, paragraphs separated by blank lines; `Err` with the reader's
/// message when the bytes are not a Word document.
pub fn text(bytes: &[u8]) -> Result<String, String> {
    let doc = docx_rs::read_docx(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for child in &doc.document.children {
        match child {
            DocumentChild::Paragraph(p) => push_paragraph(p, &mut out),
            DocumentChild::Table(t) => push_table(t, &mut out),
            _ => {}
        }
    }
    Ok(out.join("\n\n"))
}

fn push_table(t: &docx_rs::Table, out: &mut Vec<String>) {
    for TableChild::TableRow(row) in &t.rows {
        for TableRowChild::TableCell(cell) in &row.cells {
            for c in &cell.children {
                match c {
                    TableCellContent::Paragraph(p) => push_paragraph(p, out),
                    TableCellContent::Table(t) => push_table(t, out),
                    _ => {}
                }
            }
        }
    }
}

fn push_paragraph(p: &Paragraph, out: &mut Vec<String>) {
    let mut text = String::new();
    children_text(&p.children, &mut text);
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let heading = p.property.style.as_ref().is_some_and(|s| {
        let s = s.val.to_ascii_lowercase();
        s == "title" || s.starts_with("heading")
    });
    out.push(if heading {
        format!("# {text}")
    } else {
        text.to_string()
    });
}

fn children_text(children: &[ParagraphChild], out: &mut String) {
    for c in children {
        match c {
            ParagraphChild::Run(r) => run_text(r, out),
            ParagraphChild::Hyperlink(h) => children_text(&h.children, out),
            ParagraphChild::Insert(i) => {
                for c in &i.children {
                    if let InsertChild::Run(r) = c {
                        run_text(r, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn run_text(r: &docx_rs::Run, out: &mut String) {
    for c in &r.children {
        match c {
            RunChild::Text(t) => out.push_str(&t.text),
            RunChild::Tab(_) => out.push(' '),
            RunChild::Break(_) | RunChild::CarriageReturn(_) => out.push('\n'),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docx_rs::{Docx, Run, Table, TableCell, TableRow};

    fn docx(d: Docx) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        d.build().pack(&mut buf).unwrap();
        buf.into_inner()
    }

    #[test]
    fn paragraphs_headings_links_and_tables_become_text() {
        let bytes = docx(
            Docx::new()
                .add_paragraph(
                    Paragraph::new()
                        .add_run(Run::new().add_text("港口擴建計劃獲批"))
                        .style("Heading1"),
                )
                .add_paragraph(
                    Paragraph::new()
                        .add_run(Run::new().add_text("市政府週二宣布，"))
                        .add_run(Run::new().add_text("第二期工程明年動工。")),
                )
                .add_paragraph(Paragraph::new())
                .add_table(Table::new(vec![TableRow::new(vec![TableCell::new()
                    .add_paragraph(
                        Paragraph::new().add_run(Run::new().add_text("Cost: 4.2 billion")),
                    )])]))
                .add_paragraph(Paragraph::new().add_run(Run::new().add_text("完。"))),
        );
        assert_eq!(
            text(&bytes).unwrap(),
            "# 港口擴建計劃獲批\n\n市政府週二宣布，第二期工程明年動工。\n\nCost: 4.2 billion\n\n完。"
        );
    }

    #[test]
    fn other_bytes_are_refused() {
        assert!(text(b"plain text, not a zip").is_err());
    }
}
