//! The collection store: every passage of every article, its vector and an HNSW index
//! over the vectors, kept in a folder (generations rewritten crash-safely on each
//! commit, single changes made durable by a change log) or only in memory.

mod changelog;
mod collection;
mod generation;
mod graph;
mod lock;
mod repair;
mod store;

pub use changelog::LOG_FILE;
pub use collection::{Collection, DocRecord, Hit, IndexParams, ModelStamp, StoredPassage};
pub use graph::{dot, GraphParams, HnswGraph, UnitCosine};
pub use repair::{check, repair, CheckReport, FileCheck, Reembed, RepairReport};
pub use store::{f32_from_le, f32_to_le};
