//! The clustering as something to look at: an article-by-article heatmap drawn as SVG
//! with plotters (a red corner marks two articles that disagree on some point), the
//! [`View`] that the browser viewer (`assets/viewer.js`) renders, and `report.html`,
//! one self-contained file with the viewer, its styles and the data inlined (no
//! network fetches).

use crate::Clustering;
use plotters::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// The browser viewer shared by `report.html` and the page `concord serve` serves.
pub const VIEWER_JS: &str = include_str!("../assets/viewer.js");
pub const VIEWER_CSS: &str = include_str!("../assets/viewer.css");
const REPORT_TEMPLATE: &str = include_str!("../assets/report.html");

/// Articles shown in the heatmap at most (those sharing the most); past a few dozen
/// rows a cell is too small to read or click.
pub const HEATMAP_MAX_ARTICLES: usize = 60;
const CELL: i32 = 22;
const LABEL_MARGIN: i32 = 34;
/// Side of the corner triangle marking a cell whose articles disagree somewhere.
const CORNER: i32 = 9;
/// The colour of `conflict`, as in `assets/viewer.css`.
const CONFLICT: RGBColor = RGBColor(207, 34, 46);

/// Where the heatmap's cells lie in its SVG, so the viewer can make them clickable.
#[derive(Debug, Clone, Serialize)]
pub struct Heatmap {
    pub svg: String,
    /// Article ids of the rows (and columns), in order; row `i` is labelled `i + 1`.
    pub order: Vec<String>,
    /// Shared strength of each cell, row by row.
    pub values: Vec<Vec<f32>>,
    /// Passage pairs judged `conflict` between the two articles of each cell.
    pub conflicts: Vec<Vec<usize>>,
    /// Pixel position of the top-left cell and the size of a cell.
    pub x0: i32,
    pub y0: i32,
    pub cell: i32,
    /// Articles left out for space.
    pub omitted: usize,
}

/// Everything the viewer renders.
#[derive(Debug, Clone, Serialize)]
pub struct View<'a> {
    pub title: String,
    pub clustering: &'a Clustering,
    pub heatmap: Heatmap,
}

impl<'a> View<'a> {
    pub fn new(title: impl Into<String>, clustering: &'a Clustering) -> anyhow::Result<Self> {
        Ok(Self {
            title: title.into(),
            clustering,
            heatmap: heatmap(clustering)?,
        })
    }

    /// The view as JSON that can sit inside a `<script>` element: `<` is escaped, so
    /// no text of an article can close the element.
    pub fn to_script_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(self)?.replace('<', "\\u003c"))
    }
}

/// The self-contained `report.html`.
pub fn html(view: &View) -> anyhow::Result<String> {
    let title = escape_html(&view.title);
    Ok(REPORT_TEMPLATE
        .replace("{{title}}", &title)
        .replace("{{style}}", VIEWER_CSS)
        .replace("{{viewer}}", VIEWER_JS)
        .replace("{{data}}", &view.to_script_json()?))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The heatmap of what article pairs share, articles ordered by cluster.
pub fn heatmap(c: &Clustering) -> anyhow::Result<Heatmap> {
    let mut total: HashMap<&str, f32> = HashMap::new();
    for p in c.article_pairs.iter().map(|p| &p.pair) {
        *total.entry(&p.a).or_default() += p.shared;
        *total.entry(&p.b).or_default() += p.shared;
    }
    let mut chosen: Vec<&crate::Article> = c.articles.iter().collect();
    chosen.sort_by(|x, y| {
        let (tx, ty) = (total.get(x.id.as_str()), total.get(y.id.as_str()));
        ty.unwrap_or(&0.0)
            .total_cmp(tx.unwrap_or(&0.0))
            .then_with(|| x.id.cmp(&y.id))
    });
    let omitted = chosen.len().saturating_sub(HEATMAP_MAX_ARTICLES);
    chosen.truncate(HEATMAP_MAX_ARTICLES);
    chosen.sort_by(|x, y| {
        (x.cluster.unwrap_or(usize::MAX), &x.id).cmp(&(y.cluster.unwrap_or(usize::MAX), &y.id))
    });
    let order: Vec<String> = chosen.iter().map(|a| a.id.clone()).collect();
    let pos: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    let n = order.len();
    let mut values = vec![vec![0.0f32; n]; n];
    let mut conflicts = vec![vec![0usize; n]; n];
    for p in c.article_pairs.iter().map(|p| &p.pair) {
        if let (Some(&i), Some(&j)) = (pos.get(p.a.as_str()), pos.get(p.b.as_str())) {
            values[i][j] = p.shared;
            values[j][i] = p.shared;
            conflicts[i][j] = p.conflict;
            conflicts[j][i] = p.conflict;
        }
    }
    let max = values.iter().flatten().copied().fold(0.0f32, f32::max);

    let side = LABEL_MARGIN + CELL * n as i32 + 8;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (side as u32, side as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let font = ("sans-serif", 12).into_font().color(&BLACK);
        for (i, row) in values.iter().enumerate() {
            let y = LABEL_MARGIN + CELL * i as i32;
            let label = (i + 1).to_string();
            root.draw(&Text::new(label.clone(), (4, y + 5), font.clone()))?;
            root.draw(&Text::new(label, (y + 4, 10), font.clone()))?;
            for (j, &v) in row.iter().enumerate() {
                let x = LABEL_MARGIN + CELL * j as i32;
                let fill = if i == j {
                    RGBColor(225, 225, 225)
                } else {
                    shade(if max > 0.0 { v / max } else { 0.0 })
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL - 1, y + CELL - 1)],
                    fill.filled(),
                ))?;
                if conflicts[i][j] > 0 {
                    // A red corner: the two articles disagree on some point.
                    let (right, top) = (x + CELL - 1, y);
                    root.draw(&Polygon::new(
                        vec![(right - CORNER, top), (right, top), (right, top + CORNER)],
                        CONFLICT.filled(),
                    ))?;
                }
            }
        }
        root.present()?;
    }
    Ok(Heatmap {
        svg,
        order,
        values,
        conflicts,
        x0: LABEL_MARGIN,
        y0: LABEL_MARGIN,
        cell: CELL,
        omitted,
    })
}

/// White for nothing shared to deep blue for the most.
fn shade(t: f32) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |from: f32, to: f32| (from + (to - from) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}
