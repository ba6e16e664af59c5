//! The overlap engine: finding which claims of different articles of a collection
//! duplicate, overlap, agree with or contradict each other (articles enter the
//! collection through concord-ingest).

mod engine;
mod features;
mod judge;
mod pairs;
mod score;

pub use engine::{
    align_pairs, align_partition, summarize, ArticlePair, Neighbourhoods, OverlapIndex, PairMatch,
    PassageRef, QueryOptions,
};
pub use features::{anchors, script_group, Features, Lexicon};
pub use judge::{probe_cosines, PairFeatures, PairJudge, Probabilities, CLASSES, FEATURES};
pub use pairs::{distinct_texts, judge_text_pairs};
pub use score::{judge, Evidence, Label, Semantic, SharedSpan, Side, Span, Verdict};
