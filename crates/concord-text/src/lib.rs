//! Text handling for concord: reading articles from files, cutting them into passages
//! with character offsets, and folding text (width, script, case) for lexical comparison.

mod article;
mod fold;
mod segment;

pub use article::{read_articles, Article, ReadOptions, TextError};
pub use fold::{fold, Folded};
pub use segment::{segment, Passage, SegmentOptions};
