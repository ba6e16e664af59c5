//! The overlap table people read: each pair's label and score, both articles by
//! title, both claims cut to the terminal's width (measured in display columns, so a
//! CJK character counts two) around what they share, and the shared text, figures and
//! names. Colour only on a terminal (`anstream` drops it for pipes and `NO_COLOR`).

use anstyle::{AnsiColor, Style};
use concord_overlap::{Label, PairMatch, PassageRef};
use std::io::Write;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns to fit: `--width`, else `COLUMNS`, else the terminal's, else 100.
pub fn width(flag: Option<usize>) -> usize {
    flag.or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
    })
    .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
    .unwrap_or(100)
    .max(40)
}

fn label_style(label: Label) -> Style {
    let colour = match label {
        Label::Duplicate | Label::Overlap => AnsiColor::Green,
        Label::Conflict => AnsiColor::Red,
        Label::Agree => AnsiColor::Cyan,
        _ => AnsiColor::BrightBlack,
    };
    Style::new().fg_color(Some(colour.into())).bold()
}

const MATCH: Style = Style::new().bold().underline();

/// `text` cut to at most `cols` display columns, with `…` where it was cut.
pub fn clip(text: &str, cols: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if flat.width() <= cols {
        return flat;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in flat.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > cols {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// An article as the table names it: its title and the claim's number, else its id.
fn article(side: &PassageRef, cols: usize) -> String {
    let n = side.passage.rsplit_once('#').map_or("", |(_, n)| n);
    match side.title.as_deref() {
        Some(t) => format!("{}#{n}", clip(t, cols.saturating_sub(n.len() + 1).max(8))),
        None => clip(&side.passage, cols),
    }
}

/// The window of `text` (chars) that fits `cols` columns and shows `span` (char
/// offsets), with the span styled, `…` at cut ends.
fn window(text: &str, span: Option<(usize, usize)>, cols: usize) -> String {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    let w = |c: &char| c.width().unwrap_or(0);
    let (s, e) = span
        .map(|(s, e)| (s.min(chars.len()), e.min(chars.len())))
        .unwrap_or((0, 0));
    // From the start when the span fits there; else so that the span begins about a
    // quarter into the window.
    let mut start = 0;
    let total: usize = chars.iter().map(w).sum();
    let to_span_end: usize = chars[..e].iter().map(w).sum();
    if total > cols && to_span_end + 1 > cols {
        let mut before = 0;
        start = s;
        while start > 0 && before + w(&chars[start - 1]) <= cols / 4 {
            start -= 1;
            before += w(&chars[start]);
        }
    }
    let mut out = String::new();
    let mut used = 0;
    if start > 0 {
        out.push('…');
        used += 1;
    }
    let mut end = start;
    while end < chars.len() {
        let cw = w(&chars[end]);
        let room = if end + 1 < chars.len() {
            cols - 1
        } else {
            cols
        };
        if used + cw > room {
            break;
        }
        used += cw;
        end += 1;
    }
    for (i, c) in chars.iter().enumerate().take(end).skip(start) {
        if i == s && s < e {
            out.push_str(&MATCH.render().to_string());
        }
        out.push(*c);
        if i + 1 == e && s < e {
            out.push_str(&MATCH.render_reset().to_string());
        }
    }
    if s < e && s < end && e > end {
        out.push_str(&MATCH.render_reset().to_string());
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Writes the pairs, findings first and boilerplate apart, with a summary line.
pub fn write_pairs(out: &mut impl Write, pairs: &[PairMatch], cols: usize) -> std::io::Result<()> {
    let (boilerplate, findings): (Vec<&PairMatch>, Vec<&PairMatch>) =
        pairs.iter().partition(|p| p.label == Label::Boilerplate);
    if findings.is_empty() {
        writeln!(out, "no pairs at or above the label asked for")?;
    } else {
        let count = |l: Label| findings.iter().filter(|p| p.label == l).count();
        let related = count(Label::Related);
        writeln!(
            out,
            "{} {}: {} duplicate, {} overlap, {} conflict, {} agree{}",
            findings.len(),
            if findings.len() == 1 { "pair" } else { "pairs" },
            count(Label::Duplicate),
            count(Label::Overlap),
            count(Label::Conflict),
            count(Label::Agree),
            if related > 0 {
                format!(", {related} related")
            } else {
                String::new()
            }
        )?;
    }
    for (i, group) in [findings, boilerplate].into_iter().enumerate() {
        if i == 1 && !group.is_empty() {
            writeln!(out, "-- boilerplate (never counted as a shared claim)")?;
        }
        for p in group {
            write_pair(out, p, cols)?;
        }
    }
    Ok(())
}

fn write_pair(out: &mut impl Write, p: &PairMatch, cols: usize) -> std::io::Result<()> {
    let style = label_style(p.label);
    // "conflict    0.97  " is 18 columns; the two names share the rest.
    let name_cols = cols.saturating_sub(18 + 4) / 2;
    writeln!(
        out,
        "{style}{:<11}{style:#} {:.2}  {} <> {}",
        p.label.as_str(),
        p.score,
        article(&p.a, name_cols),
        article(&p.b, name_cols)
    )?;
    let shared = p.evidence.shared.first();
    let text_cols = cols.saturating_sub(7);
    writeln!(
        out,
        "    A: {}",
        window(&p.a.text, shared.map(|s| (s.a.start, s.a.end)), text_cols)
    )?;
    writeln!(
        out,
        "    B: {}",
        window(&p.b.text, shared.map(|s| (s.b.start, s.b.end)), text_cols)
    )?;
    let mut notes = Vec::new();
    let spans: Vec<&str> = p
        .evidence
        .shared
        .iter()
        .take(3)
        .map(|s| s.a.text.as_str())
        .collect();
    if !spans.is_empty() {
        notes.push(format!("shared: {}", spans.join(" · ")));
    }
    if !p.evidence.anchors.is_empty() {
        notes.push(format!(
            "figures and names: {}",
            p.evidence.anchors.join(", ")
        ));
    }
    if !notes.is_empty() {
        writeln!(
            out,
            "    {}",
            clip(&notes.join("; "), cols.saturating_sub(4))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_display_columns() {
        assert_eq!(clip("港務局宣布", 6), "港務…");
        assert_eq!(clip("港務局宣布", 10), "港務局宣布");
        assert_eq!(clip("harbour", 5), "harb…");
        assert!(clip("港務局宣布新碼頭啟用", 9).width() <= 9);
    }

    fn side(doc: &str, title: &str, n: u32, text: &str) -> PassageRef {
        PassageRef {
            doc: doc.into(),
            title: Some(title.into()),
            passage: format!("{doc}#{n}"),
            text: text.into(),
            ..Default::default()
        }
    }

    fn sample() -> Vec<PairMatch> {
        let a = "據市場研究機構統計，短租平台愛彼迎今年在台灣的房源增加兩成，達到三萬二千筆，其中多數位於台北與台南。";
        let b = "Airbnb listings in Taiwan rose 20% this year to 32,000, most of them in Taipei and Tainan.";
        let evidence = concord_overlap::Evidence {
            anchors: vec!["airbnb = 愛彼迎".into(), "20%".into()],
            shared: vec![concord_overlap::SharedSpan {
                a: concord_overlap::Span {
                    start: 13,
                    end: 16,
                    text: "愛彼迎".into(),
                },
                b: concord_overlap::Span {
                    start: 0,
                    end: 6,
                    text: "Airbnb".into(),
                },
            }],
            ..Default::default()
        };
        vec![PairMatch {
            a: side("tw-wire", "短租平台房源大增", 4, a),
            b: side("en-report", "Short-let listings surge in Taiwan", 2, b),
            label: Label::Overlap,
            score: 0.91,
            evidence,
        }]
    }

    fn render(cols: usize) -> String {
        let mut out = Vec::new();
        write_pairs(&mut out, &sample(), cols).unwrap();
        anstream::adapter::strip_str(&String::from_utf8(out).unwrap()).to_string()
    }

    /// The table as a reader sees it, at 80 and at 160 columns.
    #[test]
    fn the_table_at_80_and_160_columns() {
        let want80 = "\
1 pair: 0 duplicate, 1 overlap, 0 conflict, 0 agree
overlap     0.91  短租平台房源大增#4 <> Short-let listings surge i…#2
    A: 據市場研究機構統計，短租平台愛彼迎今年在台灣的房源增加兩成，達到三萬二千…
    B: Airbnb listings in Taiwan rose 20% this year to 32,000, most of them in …
    shared: 愛彼迎; figures and names: airbnb = 愛彼迎, 20%
";
        assert_eq!(render(80), want80);
        let want160 = "\
1 pair: 0 duplicate, 1 overlap, 0 conflict, 0 agree
overlap     0.91  短租平台房源大增#4 <> Short-let listings surge in Taiwan#2
    A: 據市場研究機構統計，短租平台愛彼迎今年在台灣的房源增加兩成，達到三萬二千筆，其中多數位於台北與台南。
    B: Airbnb listings in Taiwan rose 20% this year to 32,000, most of them in Taipei and Tainan.
    shared: 愛彼迎; figures and names: airbnb = 愛彼迎, 20%
";
        assert_eq!(render(160), want160);
        for cols in [80, 160] {
            for line in render(cols).lines() {
                assert!(line.width() <= cols, "{cols}: {line}");
            }
        }
        let mut out = Vec::new();
        write_pairs(&mut out, &[], 80).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "no pairs at or above the label asked for\n"
        );
    }

    #[test]
    fn the_window_shows_the_shared_span_however_far_it_is() {
        let text = format!("{}Airbnb 在台灣的房源增加", "很".repeat(60));
        let start = 60;
        let w = window(&text, Some((start, start + 6)), 30);
        let plain = anstream::adapter::strip_str(&w).to_string();
        assert!(plain.contains("Airbnb"), "{plain}");
        assert!(plain.starts_with('…') && plain.width() <= 30, "{plain}");
    }
}
