//! `pairs.csv`: the judged passage pairs as CSV.

use concord_overlap::PairMatch;

/// Writes `pairs` as CSV, one passage pair a row, each article with its title (empty
/// when it has none).
pub fn write_pairs_csv<'p>(
    out: impl std::io::Write,
    pairs: impl IntoIterator<Item = &'p PairMatch>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "article_a",
        "passage_a",
        "article_b",
        "passage_b",
        "label",
        "score",
        "cosine",
        "lexical",
        "text_a",
        "text_b",
        "title_a",
        "title_b",
    ])?;
    for m in pairs {
        w.write_record([
            m.a.doc.as_str(),
            m.a.passage.as_str(),
            m.b.doc.as_str(),
            m.b.passage.as_str(),
            m.label.as_str(),
            &format!("{:.4}", m.score),
            &format!("{:.4}", m.evidence.cosine),
            &format!("{:.4}", m.evidence.lexical),
            m.a.text.as_str(),
            m.b.text.as_str(),
            m.a.title.as_deref().unwrap_or(""),
            m.b.title.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()?;
    Ok(())
}
