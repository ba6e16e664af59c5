#!/usr/bin/env python3
"""Measures whether token alignment (a BERTScore-style signal from e5's last-layer token
states) would help the pair judge: trains the judge's trees on the training stories'
candidate pairs with and without four alignment features (precision, recall, F1 of the
best cosine per token, and the share of tokens with a counterpart above 0.9) and
compares them on the held-out stories' candidates. It needs PyTorch and transformers
(target/judge-venv after `scripts/train-judge.sh`, plus `pip install torch transformers`):

    concord eval judge-features examples/stories --split train --texts target/jf-train.tsv \\
        > target/jf-train.csv
    concord eval judge-features examples/stories --split heldout --texts target/jf-heldout.tsv \\
        > target/jf-heldout.csv
    target/judge-venv/bin/python scripts/judge-alignment-experiment.py \\
        target/jf-train.csv target/jf-heldout.csv

For each variant it prints ROC-AUCs on the held-out candidates, and the share of each
grade's candidates found at the lowest P(not none) threshold whose precision reaches 0.8
and 0.75 (tuned on the held-out rows themselves, the same way for both variants: a
comparison, not a held-out score). benches/RESULTS.md has the figures.
"""
import csv
import json
import sys

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from transformers import BertModel, PreTrainedTokenizerFast

CLASSES = ["none", "duplicate", "overlap", "agree", "conflict"]
MODEL = "models/multilingual-e5-small"
SEED = 20261201


def load(path):
    """Story rows of a features file with their texts from the file beside it."""
    rows = list(csv.reader(open(path, encoding="utf-8")))
    texts = [l.rstrip("\n").split("\t") for l in open(path[:-4] + ".tsv", encoding="utf-8")]
    out = []
    stories = [r for r in rows[1:] if r[0].startswith("story:")]
    assert len(stories) == len(texts), (len(stories), len(texts))
    for r, (_, a, b) in zip(stories, texts):
        if r[2] == "boilerplate":
            continue
        grade = "none" if r[1] == "boilerplate" else r[1]
        out.append((a, b, CLASSES.index(grade), [float(v) for v in r[3:]]))
    return out


def token_states(texts):
    tok = PreTrainedTokenizerFast(
        tokenizer_file=f"{MODEL}/tokenizer.json", pad_token="<pad>", bos_token="<s>",
        eos_token="</s>", unk_token="<unk>",
    )
    model = BertModel.from_pretrained(MODEL).eval()
    prefix = len(tok("passage: ")["input_ids"]) - 1  # <s> and the prompt's pieces
    states = {}
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            batch = texts[i : i + 64]
            enc = tok(["passage: " + t for t in batch], padding=True, truncation=True,
                      max_length=512, return_tensors="pt")
            out = model(**enc).last_hidden_state
            for j, t in enumerate(batch):
                n = int(enc["attention_mask"][j].sum())
                s = torch.nn.functional.normalize(out[j, prefix : n - 1], dim=-1)
                states[t] = s.numpy()
    return states


def alignment(states, a, b):
    A, B = states[a], states[b]
    if len(A) == 0 or len(B) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    S = A @ B.T
    p, r = S.max(1).mean(), S.max(0).mean()
    strong = ((S.max(1) > 0.9).mean() + (S.max(0) > 0.9).mean()) / 2
    return [p, r, 2 * p * r / (p + r + 1e-9), strong]


def main():
    train, held = load(sys.argv[1]), load(sys.argv[2])
    torch.set_num_threads(2)
    states = token_states(sorted({t for r in train + held for t in r[:2]}))
    y_tr = np.array([r[2] for r in train])
    y_te = np.array([r[2] for r in held])
    counts = np.bincount(y_tr, minlength=len(CLASSES))
    cw = (counts[0] / np.maximum(counts, 1)) ** 0.25
    cw[0] = 1.0
    for extra in [False, True]:
        def matrix(rows):
            x = np.array([r[3] for r in rows])
            if extra:
                x = np.hstack([x, np.array([alignment(states, r[0], r[1]) for r in rows])])
            return x
        m = HistGradientBoostingClassifier(random_state=SEED, early_stopping=False, max_depth=4,
                                           max_iter=200, learning_rate=0.05, l2_regularization=1.0)
        m.fit(matrix(train), y_tr, sample_weight=cw[y_tr])
        p = m.predict_proba(matrix(held))
        finding = 1 - p[:, 0]
        res = {"auc_finding": round(roc_auc_score(y_te > 0, finding), 4)}
        for k in [2, 3, 4]:
            mask = (y_te == 0) | (y_te == k)
            res[f"auc_{CLASSES[k]}_vs_none"] = round(roc_auc_score(y_te[mask] == k, p[mask, k]), 4)
        for target in [0.8, 0.75]:
            t = next(t for t in np.arange(0.02, 0.99, 0.01)
                     if (called := finding >= t).sum() and ((y_te > 0) & called).sum() / called.sum() >= target)
            called = finding >= t
            res[f"found_at_precision_{target}"] = {
                CLASSES[k]: round(float((called & (y_te == k)).sum() / max((y_te == k).sum(), 1)), 3)
                for k in range(1, len(CLASSES))
            }
        print(("with alignment" if extra else "judge features"), json.dumps(res))


if __name__ == "__main__":
    main()
