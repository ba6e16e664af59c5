//! The collection: every passage of every article, its vector and an HNSW index over
//! the vectors, kept in a folder and rewritten crash-safely on each commit.

mod changelog;
mod collection;
mod graph;
mod repair;
mod store;

pub use changelog::LOG_FILE;
pub use collection::{Collection, DocRecord, Hit, IndexParams, ModelStamp, StoredPassage};
pub use graph::{dot, GraphParams, HnswGraph, UnitCosine};
pub use repair::{check, repair, CheckReport, FileCheck, Reembed, RepairReport};
pub use store::{f32_from_le, f32_to_le};
