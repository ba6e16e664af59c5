//! The HNSW graph (hnsw_rs) over unit vectors: built in memory or reloaded from a dump,
//! behind one type so callers never see the reload's borrow of its `HnswIo`.

use anyhow::{Context, Result};
use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo, Neighbour};
use std::path::Path;

/// Cosine distance `1 - a·b` for unit vectors, clamped at 0 so rounding can never make
/// it negative (hnsw_rs's `DistDot` asserts on that, e.g. for a vector against itself).
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Dot product written so the compiler vectorises it (eight independent sums).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

type Graph<'a> = Hnsw<'a, f32, UnitCosine>;

self_cell::self_cell!(
    struct Reloaded {
        owner: HnswIo,
        #[not_covariant]
        dependent: Graph,
    }
);

enum Inner {
    Built(Graph<'static>),
    Reloaded(Reloaded),
}

/// Construction parameters of the graph.
#[derive(Debug, Clone, Copy)]
pub struct GraphParams {
    pub max_connections: usize,
    pub ef_construction: usize,
}

/// An HNSW graph whose point ids are collection slots.
pub struct HnswGraph {
    inner: Inner,
}

const BASENAME: &str = "index";
const MAX_LAYERS: usize = 16;

impl HnswGraph {
    pub fn new(params: GraphParams, capacity: usize) -> Self {
        let g = Hnsw::new(
            params.max_connections,
            capacity.max(1024),
            MAX_LAYERS,
            params.ef_construction,
            UnitCosine,
        );
        Self {
            inner: Inner::Built(g),
        }
    }

    /// Reloads a graph written by [`HnswGraph::dump`] into `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let io = HnswIo::new(dir, BASENAME);
        let r = Reloaded::try_new(io, |io| io.load_hnsw_with_dist(UnitCosine))
            .with_context(|| format!("loading the HNSW graph in {}", dir.display()))?;
        Ok(Self {
            inner: Inner::Reloaded(r),
        })
    }

    fn with<R>(&self, f: impl for<'a> FnOnce(&Graph<'a>) -> R) -> R {
        match &self.inner {
            Inner::Built(g) => f(g),
            Inner::Reloaded(r) => r.with_dependent(|_, g| f(g)),
        }
    }

    pub fn len(&self) -> usize {
        self.with(|g| g.get_nb_point())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts `(vector, slot)` pairs, in parallel.
    pub fn insert(&self, points: Vec<(&[f32], usize)>) {
        self.with(|g| g.parallel_insert_slice(&points));
    }

    /// Up to `k` nearest slots accepted by `keep`, nearest first, as `(slot, cosine)`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Vec<(usize, f32)> {
        let filter = |id: &usize| keep(*id);
        let found: Vec<Neighbour> =
            self.with(|g| g.search_filter(query, k, ef.max(k), Some(&filter)));
        found
            .into_iter()
            .map(|n| (n.d_id, 1.0 - n.distance))
            .collect()
    }

    /// Writes the graph and its points into `dir` (which must not hold a dump yet).
    pub fn dump(&self, dir: &Path) -> Result<()> {
        let name = self.with(|g| g.file_dump(dir, BASENAME))?;
        anyhow::ensure!(
            name == BASENAME,
            "hnsw_rs wrote {name:?} instead of {BASENAME:?} in {}",
            dir.display()
        );
        Ok(())
    }

    /// The files [`HnswGraph::dump`] writes, relative to its folder.
    pub fn files() -> [String; 2] {
        [
            format!("{BASENAME}.hnsw.graph"),
            format!("{BASENAME}.hnsw.data"),
        ]
    }
}
