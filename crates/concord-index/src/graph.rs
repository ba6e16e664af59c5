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
/// The largest batch [`HnswGraph::insert`] inserts in order rather than in parallel.
pub const SERIAL_INSERT: usize = 50_000;

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

    /// Inserts `(vector, slot)` pairs. Up to [`SERIAL_INSERT`] points go in one by one,
    /// in the order given, so the same points always make the same graph (hnsw_rs seeds
    /// its level draws) and the same collection gives the same answers run after run;
    /// larger batches go in parallel, where thread timing shapes the graph.
    pub fn insert(&self, points: Vec<(&[f32], usize)>) {
        if points.len() <= SERIAL_INSERT {
            self.with(|g| points.iter().for_each(|&p| g.insert_slice(p)));
        } else {
            self.with(|g| g.parallel_insert_slice(&points));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors from a fixed linear congruential sequence.
    fn points(n: usize, dim: usize) -> Vec<Vec<f32>> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = (0..dim)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
                    })
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect()
    }

    fn build(vectors: &[Vec<f32>]) -> HnswGraph {
        let g = HnswGraph::new(
            GraphParams {
                max_connections: 8,
                ef_construction: 24,
            },
            vectors.len(),
        );
        g.insert(
            vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (&v[..], i))
                .collect(),
        );
        g
    }

    #[test]
    fn the_same_points_make_the_same_graph() {
        let vectors = points(3000, 24);
        let (a, b) = (build(&vectors), build(&vectors));
        for q in vectors.iter().step_by(37) {
            // A small ef leaves the answer to the graph's shape, not to exhaustive search.
            let ra = a.search(q, 10, 10, &|_| true);
            let rb = b.search(q, 10, 10, &|_| true);
            assert_eq!(ra, rb);
        }
    }
}
