#!/usr/bin/env python3
"""Trains concord's pair judge: gradient-boosted trees (scikit-learn's
HistGradientBoostingClassifier, one tree per class and round, softmax on top) over the
pair signals that `concord eval judge-features` writes, saved as
crates/concord-overlap/judge/judge.json with its trees spelt out for the Rust reader and a
few inputs with the probabilities scikit-learn gave them (the reader checks them at load).

    concord eval judge-features examples/stories --split train \
        --paws ../shared/eval/paws-x-zh/dev.tsv \
        --sts ../shared/train/stsb-multi-mt/train.zh.tsv \
        --sts ../shared/train/stsb-multi-mt/train.en-zh.tsv > target/judge-train.csv
    concord eval judge-probe > target/judge-probe.json
    target/judge-venv/bin/python scripts/train-judge.py target/judge-train.csv \
        --probe target/judge-probe.json

(scripts/train-judge.sh runs both.) Rows the text rules label (boilerplate) are left out:
the judge never sees them at run time. The labelled development stories weigh most;
PAWS-X dev (free to use) and the STS-B train split (CC BY-SA 4.0, see
../shared/train/stsb-multi-mt/SOURCE.txt) add cross-domain examples at lower weight.
Held-out stories (examples/stories/heldout.txt) are never in the input. The seed is pinned;
the same input gives the same file. The probe file (the model's cosines among fixed
texts) is stored as the model the judge is calibrated for; concord refuses to judge with
a model whose cosines there differ.

The threshold on P(not none) that makes a pair a finding is chosen by leaving one training
story out at a time: the lowest that keeps the candidate-pair precision of the left-out
stories at TARGET_PRECISION or above.
"""
import argparse
import csv
import json
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier

CLASSES = ["none", "duplicate", "overlap", "agree", "conflict"]
SEED = 20261201
SOURCE_WEIGHT = {"story": 1.0, "paws": 1.0, "sts": 0.2}
# Positive classes are rare among candidates; weight them up by (n_none / n_class) ** POWER.
POWER = 0.25
TREES = dict(max_depth=4, max_iter=200, learning_rate=0.05, l2_regularization=1.0)
TARGET_PRECISION = 0.8


def load(path):
    rows = list(csv.reader(open(path, encoding="utf-8")))
    header, rows = rows[0], rows[1:]
    feats = header[3:]
    src, y, x = [], [], []
    for r in rows:
        if r[2] == "boilerplate":
            continue
        grade = "none" if r[1] == "boilerplate" else r[1]
        src.append(r[0])
        y.append(CLASSES.index(grade))
        x.append([float(v) for v in r[3:]])
    return feats, np.array(src), np.array(y), np.array(x, dtype=np.float64)


def weights(src, y):
    kind = np.array([s.split(":")[0] for s in src])
    w = np.array([SOURCE_WEIGHT[k] for k in kind])
    counts = np.bincount(y, weights=w, minlength=len(CLASSES))
    cw = np.where(counts > 0, (counts[0] / np.maximum(counts, 1e-9)) ** POWER, 0.0)
    cw[0] = 1.0
    return w * cw[y]


def fit(x, y, w):
    model = HistGradientBoostingClassifier(random_state=SEED, early_stopping=False, **TREES)
    model.fit(x, y, sample_weight=w)
    return model


def export_tree(pred):
    nodes = pred.nodes
    leaf = nodes["is_leaf"].astype(bool)
    return {
        "feature": [-1 if l else int(f) for l, f in zip(leaf, nodes["feature_idx"])],
        "threshold": [float(t) for t in nodes["num_threshold"]],
        "left": [int(v) for v in nodes["left"]],
        "right": [int(v) for v in nodes["right"]],
        "value": [round(float(v), 7) for v in nodes["value"]],
    }


def raw_scores(trees, baseline, x):
    """The reader's arithmetic, to check the export against predict_proba."""
    out = np.tile(baseline, (len(x), 1))
    for round_ in trees:
        for k, t in enumerate(round_):
            for r, row in enumerate(x):
                i = 0
                while t["feature"][i] >= 0:
                    i = t["left"][i] if row[t["feature"][i]] <= t["threshold"][i] else t["right"][i]
                out[r, k] += t["value"][i]
    e = np.exp(out - out.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("--probe", required=True, help="what `concord eval judge-probe` wrote")
    ap.add_argument("--out", default="crates/concord-overlap/judge/judge.json")
    a = ap.parse_args()
    feats, src, y, x = load(a.features)
    w = weights(src, y)
    present = sorted(set(y.tolist()))
    assert present == list(range(len(CLASSES))), f"classes present: {present}"

    # Leave one training story out; pick the threshold on the pooled left-out predictions.
    stories = sorted({s for s in src if s.startswith("story:")})
    probs, gold = [], []
    for held in stories:
        tr, te = src != held, src == held
        probs.append(fit(x[tr], y[tr], w[tr]).predict_proba(x[te]))
        gold.append(y[te])
    probs, gold = np.vstack(probs), np.concatenate(gold)
    finding = 1 - probs[:, 0]
    threshold, best_recall = 0.5, 0.0
    for t in np.arange(0.2, 0.9, 0.02):
        called = finding >= t
        tp = int((called & (gold > 0)).sum())
        precision = tp / max(int(called.sum()), 1)
        recall = tp / max(int((gold > 0).sum()), 1)
        if precision >= TARGET_PRECISION and recall > best_recall:
            threshold, best_recall = float(round(t, 2)), recall
    called = finding >= threshold
    tp = int((called & (gold > 0)).sum())
    # Which finding a called pair is: the likeliest after scaling agree and conflict,
    # whose probabilities run lower. The scales maximise the mean, over the four
    # finding classes, of the share of left-out findings called with their own label,
    # so the rare labels count as much as overlap.
    scale, best = [1.0] * len(CLASSES), -1.0
    for s_agree in [1.0, 1.25, 1.5, 2.0, 3.0, 4.0]:
        for s_conflict in [1.0, 1.25, 1.5, 2.0, 3.0, 4.0]:
            sc = np.array([0.0, 1.0, 1.0, s_agree, s_conflict])
            label = (probs * sc).argmax(1)
            per_class = [
                (called & (label == k) & (gold == k)).sum() / max((gold == k).sum(), 1)
                for k in range(1, len(CLASSES))
            ]
            if np.mean(per_class) > best:
                scale, best = sc.tolist(), float(np.mean(per_class))
    label = (probs * np.array(scale)).argmax(1)
    for k in range(1, len(CLASSES)):
        right = int((called & (label == k) & (gold == k)).sum())
        print(
            f"  {CLASSES[k]}: {right} of {int((gold == k).sum())} left-out called with their label",
            file=sys.stderr,
        )
    print(f"class scales {scale[1:]}", file=sys.stderr)
    print(
        f"leave-one-story-out over {len(stories)} stories at threshold {threshold}: "
        f"candidate-pair precision {tp / max(int(called.sum()), 1):.3f}, "
        f"recall {tp / max(int((gold > 0).sum()), 1):.3f}",
        file=sys.stderr,
    )

    model = fit(x, y, w)
    assert list(model.classes_) == list(range(len(CLASSES)))
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
    trees = [[export_tree(p) for p in round_] for round_ in model._predictors]
    rng = np.random.default_rng(SEED)
    sample = x[rng.choice(len(x), size=24, replace=False)]
    want = model.predict_proba(sample)
    got = raw_scores(trees, baseline, sample)
    assert np.abs(got - want).max() < 1e-4, np.abs(got - want).max()
    out = {
        "features": feats,
        "classes": CLASSES,
        "baseline": [round(float(v), 7) for v in baseline],
        "trees": trees,
        "min_finding": threshold,
        "class_scale": scale,
        "model": json.load(open(a.probe, encoding="utf-8")),
        "checks": [
            [[float(v) for v in row], [round(float(v), 6) for v in p]]
            for row, p in zip(sample, want)
        ],
        "trained": {
            "script": "scripts/train-judge.py",
            "seed": SEED,
            "trees": TREES,
            "class_weight_power": POWER,
            "source_weight": SOURCE_WEIGHT,
            "target_precision": TARGET_PRECISION,
            "rows": {c: int((y == i).sum()) for i, c in enumerate(CLASSES)},
            "sources": sorted({s for s in src if not s.startswith("story:")}) + stories,
            "sklearn": sklearn.__version__,
        },
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {a.out}: {len(y)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
