//! The clustering as something to look at: the [`View`] that the browser viewer
//! (`assets/viewer*.js`) renders (the clustering, the heatmap's data, the claims of the
//! articles for the full-text side-by-side), and `report.html`, one self-contained
//! file with the viewer, its styles and the data inlined (no network fetches).

use crate::Clustering;
use concord_index::Collection;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The browser viewer shared by `report.html` and the page `concord serve` serves: its
/// three parts as one script (`viewer.js` first: the others extend what it defines).
pub const VIEWER_JS: &str = concat!(
    include_str!("../assets/viewer.js"),
    "\n",
    include_str!("../assets/viewer-pair.js"),
    "\n",
    include_str!("../assets/viewer-lists.js"),
);
pub const VIEWER_CSS: &str = include_str!("../assets/viewer.css");
const REPORT_TEMPLATE: &str = include_str!("../assets/report.html");

/// Articles shown in the heatmap at most (those sharing the most); past a few dozen
/// rows a cell is too small to read or click.
pub const HEATMAP_MAX_ARTICLES: usize = 60;

/// The article-by-article heatmap, as data: the viewer draws it (titles on the axes,
/// a colour scale, cells filtered by label).
#[derive(Debug, Clone, Serialize)]
pub struct Heatmap {
    /// Article ids of the rows (and columns), in order: by cluster, then id.
    pub order: Vec<String>,
    /// Shared strength of each cell, row by row.
    pub values: Vec<Vec<f32>>,
    /// Passage pairs judged `conflict` between the two articles of each cell.
    pub conflicts: Vec<Vec<usize>>,
    /// Articles left out for space.
    pub omitted: usize,
}

/// An article's claims in order, for the viewer's side-by-side of two full texts.
#[derive(Debug, Clone, Serialize)]
pub struct TextPassage {
    /// The claim's id (`doc#index`), as in the pairs.
    pub passage: String,
    pub paragraph: u32,
    pub start: u32,
    pub end: u32,
    pub text: String,
}

/// Articles whose full text the view carries at most; past that the side-by-side
/// shows the matched claims only (a report of thousands of articles stays small).
pub const VIEW_TEXTS_MAX_ARTICLES: usize = 200;

/// Everything the viewer renders.
#[derive(Debug, Clone, Serialize)]
pub struct View<'a> {
    pub title: String,
    pub clustering: &'a Clustering,
    pub heatmap: Heatmap,
    /// Each article's claims, in order (empty past [`VIEW_TEXTS_MAX_ARTICLES`]).
    pub texts: BTreeMap<String, Vec<TextPassage>>,
}

impl<'a> View<'a> {
    /// The view of `clustering`, with the texts of its articles read from `collection`.
    pub fn new(
        title: impl Into<String>,
        clustering: &'a Clustering,
        collection: &Collection,
    ) -> Self {
        let mut texts = BTreeMap::new();
        if clustering.articles.len() <= VIEW_TEXTS_MAX_ARTICLES {
            for a in &clustering.articles {
                let Some(doc) = collection.doc(&a.id) else {
                    continue;
                };
                let mut passages: Vec<TextPassage> = doc
                    .slots
                    .iter()
                    .filter_map(|&s| collection.passage(s))
                    .map(|p| TextPassage {
                        passage: p.id(),
                        paragraph: p.passage.paragraph.unwrap_or(p.passage.index),
                        start: p.passage.start,
                        end: p.passage.end,
                        text: p.passage.text.clone(),
                    })
                    .collect();
                passages.sort_by_key(|p| p.start);
                texts.insert(a.id.clone(), passages);
            }
        }
        Self {
            title: title.into(),
            clustering,
            heatmap: heatmap(clustering),
            texts,
        }
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

/// The heatmap of what article pairs share, articles ordered by cluster (the
/// [`HEATMAP_MAX_ARTICLES`] sharing the most).
pub fn heatmap(c: &Clustering) -> Heatmap {
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
    Heatmap {
        order,
        values,
        conflicts,
        omitted,
    }
}
