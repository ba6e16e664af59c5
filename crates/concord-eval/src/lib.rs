//! Labelled similarity sets (`text1<TAB>text2<TAB>score|label` TSV) and their metrics:
//! Spearman correlation for graded scores, ROC-AUC and best-threshold accuracy for
//! binary labels. Also the benchmark workload: a corpus directory's passages, and the
//! labelled development stories (`gold`).

pub mod gold;

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};

/// What the third column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// Graded similarity (0-5).
    Score,
    /// Binary 0/1.
    Binary,
}

#[derive(Debug, Clone)]
pub struct PairSet {
    pub kind: LabelKind,
    pub pairs: Vec<(String, String, f64)>,
}

/// Reads a TSV with a header line naming `text1`, `text2` and `score` or `label`.
pub fn read_pairs(path: &Path) -> Result<PairSet> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().context("empty file")?;
    let cols: Vec<&str> = header.split('\t').collect();
    let kind = match cols.as_slice() {
        ["text1", "text2", "score"] => LabelKind::Score,
        ["text1", "text2", "label"] => LabelKind::Binary,
        _ => bail!(
            "{}: header must be text1<TAB>text2<TAB>score|label, got {header:?}",
            path.display()
        ),
    };
    let mut pairs = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        ensure!(
            f.len() == 3,
            "{}: line {} has {} fields",
            path.display(),
            i + 2,
            f.len()
        );
        let y: f64 = f[2]
            .trim()
            .parse()
            .with_context(|| format!("{}: line {}: bad label {:?}", path.display(), i + 2, f[2]))?;
        pairs.push((f[0].to_string(), f[1].to_string(), y));
    }
    Ok(PairSet { kind, pairs })
}

/// Every non-empty line (trimmed) of the `.txt`/`.md` articles in `dir`, files in
/// name order: the passages the embedding benchmark and tests run on.
pub fn corpus_passages(dir: &Path) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading corpus directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt" || x == "md"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if out.is_empty() {
        bail!("no passages under {}", dir.display());
    }
    Ok(out)
}

/// Ranks with ties given their average rank (1-based).
pub fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Area under the ROC curve of `scores` for binary `labels` (ties count half).
pub fn roc_auc(scores: &[f64], labels: &[f64]) -> f64 {
    let r = ranks(scores);
    let pos: Vec<f64> = r
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l > 0.5)
        .map(|(r, _)| *r)
        .collect();
    let n_pos = pos.len() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    (pos.iter().sum::<f64>() - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Best accuracy over thresholds `score >= t`, and that threshold.
pub fn best_threshold_accuracy(scores: &[f64], labels: &[f64]) -> (f64, f64) {
    let mut v: Vec<(f64, bool)> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &l)| (s, l > 0.5))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = v.len() as f64;
    let total_pos = v.iter().filter(|x| x.1).count();
    // Threshold below everything: all predicted positive.
    let mut correct = total_pos;
    let mut best = (correct as f64 / n, v.first().map_or(0.0, |x| x.0));
    for i in 0..v.len() {
        // Move v[i] to the negative side.
        if v[i].1 {
            correct -= 1;
        } else {
            correct += 1;
        }
        if i + 1 < v.len() && v[i + 1].0 == v[i].0 {
            continue;
        }
        let t = v.get(i + 1).map_or(v[i].0 + 1e-6, |x| x.0);
        if correct as f64 / n > best.0 {
            best = (correct as f64 / n, t);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_is_one() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_share_ranks() {
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn auc_and_accuracy() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let l = [0.0, 0.0, 1.0, 1.0];
        assert!((roc_auc(&s, &l) - 0.75).abs() < 1e-12);
        let (acc, t) = best_threshold_accuracy(&s, &l);
        assert!((acc - 0.75).abs() < 1e-12, "{acc}");
        assert!(t > 0.1 && t <= 0.35, "{t}");
        assert_eq!(roc_auc(&[0.0, 1.0], &[0.0, 1.0]), 1.0);
    }
}
