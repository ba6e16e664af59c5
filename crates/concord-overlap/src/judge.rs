//! The trained pair judge: gradient-boosted decision trees over the signals of a
//! candidate pair (embedding similarity in its neighbourhood and within the other
//! article, lexical overlap, shared and clashing figures, negation, opposed direction
//! words, how much the two articles share as a whole...) giving probabilities for
//! `none`, `duplicate`, `overlap`, `agree` and `conflict` (a softmax over one tree sum per
//! class, as scikit-learn's `HistGradientBoostingClassifier` computes them).
//!
//! The weights are `judge/judge.json`, trained by `scripts/train-judge.py` from the
//! features `concord eval judge-features` writes for the training stories of
//! `examples/stories`, PAWS-X dev and the STS-B train split (benches/RESULTS.md has the
//! command and the held-out figures). They are compiled in; the feature names in the
//! file must equal [`FEATURES`], which a test checks.
//!
//! The trees' thresholds are on the similarity scale of the model the features came
//! from. The file records that model's cosines among [`PROBE_TEXTS`], and a model
//! whose cosines there differ by more than [`PROBE_TOLERANCE`] is refused for judging
//! ([`PairJudge::check_model`]): another model's overlaps would be guesses, so it gets
//! embeddings and search but not pair labels until the judge is retrained on it.

use anyhow::Context;
use concord_embed::{Embedder, Prefix};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Short texts whose pairwise cosines stand for a model's similarity scale: same
/// statement across scripts and languages, same topic, unrelated, a figure changed.
pub const PROBE_TEXTS: [&str; 8] = [
    "市政府宣布明年起公車票價調漲百分之十。",
    "市政府宣布明年起公车票价上涨百分之十。",
    "The city will raise bus fares by ten percent next year.",
    "議員批評漲價決定,要求重新審議。",
    "今年夏天的降雨量比往年少了三成。",
    "The football club signed a new goalkeeper on Friday.",
    "市政府宣布明年起公車票價調漲百分之二十。",
    "bus fares",
];

/// How far a model's probe cosines may be from the trained model's (engines and
/// precisions of one model differ by well under 0.01).
pub const PROBE_TOLERANCE: f32 = 0.02;

/// The cosines of every pair of [`PROBE_TEXTS`] (as passages) under `embedder`, in
/// row order of the upper triangle.
pub fn probe_cosines(embedder: &Embedder) -> anyhow::Result<Vec<f32>> {
    let v = embedder
        .embed(&PROBE_TEXTS, Prefix::Passage)
        .context("embedding the judge's probe texts")?;
    let mut out = Vec::new();
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            out.push(concord_index::dot(&v[i], &v[j]));
        }
    }
    Ok(out)
}

/// The signals the judge reads, in order.
pub const FEATURES: [&str; 26] = [
    "cosine",
    "z",
    "margin",
    "mutual",
    "lexical",
    "copied",
    "contained",
    "rare_shared",
    "numbers_shared",
    "numbers_clash",
    "names_shared",
    "negation_differs",
    "opposed",
    "cross_language",
    "length_ratio",
    "short",
    "cosine_cross_language",
    "moved",
    "years_shared",
    "figures_same",
    "figures_clash",
    "affinity",
    "affinity_cross_language",
    "best_in_article",
    "article_gap",
    "residual",
];

/// One candidate pair's signals, in the order of [`FEATURES`].
pub type PairFeatures = [f32; FEATURES.len()];

/// What the judge can say about a pair.
pub const CLASSES: [&str; 5] = ["none", "duplicate", "overlap", "agree", "conflict"];

/// Probability of each class of [`CLASSES`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Probabilities {
    pub none: f32,
    pub duplicate: f32,
    pub overlap: f32,
    pub agree: f32,
    pub conflict: f32,
}

impl Probabilities {
    fn from_array(p: [f32; CLASSES.len()]) -> Self {
        Self {
            none: p[0],
            duplicate: p[1],
            overlap: p[2],
            agree: p[3],
            conflict: p[4],
        }
    }

    /// The probabilities in the order of [`CLASSES`].
    pub fn as_array(&self) -> [f32; CLASSES.len()] {
        [
            self.none,
            self.duplicate,
            self.overlap,
            self.agree,
            self.conflict,
        ]
    }
}

/// One regression tree: node `i` is a leaf when `feature[i] < 0` (its value is
/// `value[i]`), else it sends `x` left when `x[feature[i]] <= threshold[i]`.
#[derive(Debug, Clone, Deserialize)]
struct Tree {
    feature: Vec<i32>,
    threshold: Vec<f32>,
    left: Vec<u32>,
    right: Vec<u32>,
    value: Vec<f32>,
}

impl Tree {
    fn eval(&self, x: &PairFeatures) -> f32 {
        let mut i = 0usize;
        loop {
            let f = self.feature[i];
            if f < 0 {
                return self.value[i];
            }
            i = if x[f as usize] <= self.threshold[i] {
                self.left[i] as usize
            } else {
                self.right[i] as usize
            };
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        let n = self.feature.len();
        anyhow::ensure!(
            n > 0
                && [
                    self.threshold.len(),
                    self.left.len(),
                    self.right.len(),
                    self.value.len()
                ]
                .iter()
                .all(|&m| m == n),
            "judge tree arrays differ in length"
        );
        for i in 0..n {
            let f = self.feature[i];
            if f >= 0 {
                anyhow::ensure!(
                    (f as usize) < FEATURES.len()
                        && (self.left[i] as usize) < n
                        && (self.right[i] as usize) < n
                        && self.left[i] as usize > i
                        && self.right[i] as usize > i,
                    "judge tree node {i} is malformed"
                );
            }
        }
        Ok(())
    }
}

/// The judge, as `scripts/train-judge.py` writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct PairJudge {
    features: Vec<String>,
    classes: Vec<String>,
    /// Starting score of each class.
    baseline: Vec<f32>,
    /// Per boosting round, one tree per class.
    trees: Vec<Vec<Tree>>,
    /// A pair is a finding when the probability it is not `none` reaches this (chosen in
    /// training for precision; see the script).
    min_finding: f32,
    /// Which finding a pair is: the likeliest after scaling each class by this (the
    /// rarer labels' probabilities run lower; chosen in training).
    class_scale: Vec<f32>,
    /// Inputs and the probabilities scikit-learn gave them, to check this reading.
    #[serde(default)]
    checks: Vec<(Vec<f32>, Vec<f32>)>,
    /// The model the features came from.
    model: TrainedModel,
}

/// What the judge file says of the model it was trained with.
#[derive(Debug, Clone, Deserialize)]
struct TrainedModel {
    name: String,
    /// [`probe_cosines`] under it.
    probe: Vec<f32>,
}

const SHIPPED: &str = include_str!("../judge/judge.json");

impl PairJudge {
    /// Reads a judge in the training script's format, checking it fits this build.
    pub fn from_json(json: &str) -> anyhow::Result<Self> {
        let j: Self = serde_json::from_str(json)?;
        anyhow::ensure!(
            j.features == FEATURES,
            "the judge was trained on features {:?}, this build computes {:?}",
            j.features,
            FEATURES
        );
        anyhow::ensure!(j.classes == CLASSES, "judge classes {:?}", j.classes);
        anyhow::ensure!(
            j.baseline.len() == CLASSES.len()
                && j.class_scale.len() == CLASSES.len()
                && j.trees.iter().all(|r| r.len() == CLASSES.len()),
            "judge trees have the wrong shape"
        );
        for t in j.trees.iter().flatten() {
            t.check()?;
        }
        for (x, want) in &j.checks {
            let x: PairFeatures = x
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("judge check of {} features", x.len()))?;
            let p = j.probabilities(&x).as_array();
            anyhow::ensure!(
                want.len() == p.len() && p.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-3),
                "the judge gives {p:?} where training gave {want:?}"
            );
        }
        Ok(j)
    }

    /// The class a pair is given (an index into [`CLASSES`]): the likeliest finding
    /// (after scaling each class) when the pair is likely enough to be one, else
    /// `none` (0).
    pub fn decide(&self, p: &Probabilities) -> usize {
        if 1.0 - p.none < self.min_finding {
            return 0;
        }
        let a = p.as_array();
        let scaled = |k: usize| a[k] * self.class_scale[k];
        (1..a.len())
            .max_by(|&x, &y| scaled(x).total_cmp(&scaled(y)).then(y.cmp(&x)))
            .unwrap_or(0)
    }

    /// Refuses a model whose similarity scale is not the one the judge was trained on.
    pub fn check_model(&self, embedder: &Embedder) -> anyhow::Result<()> {
        let here = probe_cosines(embedder)?;
        anyhow::ensure!(
            here.len() == self.model.probe.len(),
            "the judge's probe has {} cosines, this build computes {}",
            self.model.probe.len(),
            here.len()
        );
        let off = here
            .iter()
            .zip(&self.model.probe)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        anyhow::ensure!(
            off <= PROBE_TOLERANCE,
            "the pair judge is calibrated for {} and this model ({}) is not it: their \
             similarities differ by up to {off:.3} on the judge's probe texts, so its labels \
             would be guesses. Embedding and search work with any model; to judge overlaps \
             with this one, retrain the judge on it (scripts/train-judge.sh with \
             CONCORD_MODEL set)",
            self.model.name,
            embedder.model_dir().display()
        );
        Ok(())
    }

    /// The judge compiled into this build.
    pub fn shipped() -> &'static Self {
        static JUDGE: OnceLock<PairJudge> = OnceLock::new();
        // The file is compiled in and checked by a unit test, so it always parses.
        JUDGE.get_or_init(|| Self::from_json(SHIPPED).expect("judge/judge.json is valid"))
    }

    /// Class probabilities for one pair.
    pub fn probabilities(&self, x: &PairFeatures) -> Probabilities {
        let mut raw = [0f32; CLASSES.len()];
        for (k, r) in raw.iter_mut().enumerate() {
            *r = self.baseline[k] + self.trees.iter().map(|round| round[k].eval(x)).sum::<f32>();
        }
        let max = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut p = raw.map(|l| (l - max).exp());
        let sum: f32 = p.iter().sum();
        p.iter_mut().for_each(|v| *v /= sum);
        Probabilities::from_array(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_judge_fits_this_build_and_gives_what_training_gave() {
        let j = PairJudge::from_json(SHIPPED).unwrap();
        // from_json has checked every recorded input against what training gave.
        assert!(
            j.checks.len() >= 10,
            "the training script records its checks"
        );
        assert!(!j.trees.is_empty());
        let mut bad = serde_json::from_str::<serde_json::Value>(SHIPPED).unwrap();
        bad["baseline"][0] = serde_json::json!(5.0);
        let e = PairJudge::from_json(&bad.to_string()).unwrap_err();
        assert!(e.to_string().contains("where training gave"), "{e}");
        let e = PairJudge::from_json(&SHIPPED.replace("\"cosine\"", "\"cos\"")).unwrap_err();
        assert!(e.to_string().contains("trained on features"), "{e}");
    }
}
