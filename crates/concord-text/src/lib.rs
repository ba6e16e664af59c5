//! Text handling for concord: reading articles from files (text, Markdown, HTML, Word, JSONL,
//! in UTF-8 or a detected legacy encoding), cutting them into passages with character
//! offsets, folding text (width, script, case) for lexical comparison, and the Latin
//! names of Chinese proper nouns (`names`).

mod article;
mod boilerplate;
pub mod docx;
mod fold;
pub mod html;
mod meta;
pub mod names;
mod segment;

pub use article::{check_article_id, read_articles, Article, ReadOptions, TextError, MAX_ID_BYTES};
pub use boilerplate::{is_boilerplate, notice, Notice, NOTICES};
pub use fold::{fold, Folded};
pub use meta::ArticleMeta;
pub use segment::{segment, Passage, SegmentOptions};
