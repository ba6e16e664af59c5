"""PyTorch baseline for `concord bench devices`: Hugging Face transformers' BertModel
on the same model directory (the imported model is already in Hugging Face layout:
config.json, model.safetensors, tokenizer.json) and the same corpus passages, with
`passage: ` in front, length-sorted batches, mean pooling over real tokens.

    python3 benches/torch_embed.py MODEL_DIR CORPUS_DIR --device cuda --dtype fp16

Prints one JSON line: tokens, passages, seconds per repeat, tokens/s (median).
Texts longer than the 512-position window are truncated here (concord windows them);
the reference corpus has none.
"""

import argparse
import json
import pathlib
import statistics
import time

import torch
from tokenizers import Tokenizer
from transformers import BertModel

BOS, PAD, EOS, WINDOW = 0, 1, 2, 510


def corpus_passages(corpus: pathlib.Path) -> list[str]:
    files = sorted(p for p in corpus.iterdir() if p.suffix in (".txt", ".md"))
    return [line.strip() for f in files for line in f.read_text().splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=pathlib.Path)
    ap.add_argument("corpus", type=pathlib.Path)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    tokenizer = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    texts = ["passage: " + t for t in corpus_passages(args.corpus)]
    ids = [
        [BOS] + tokenizer.encode(t, add_special_tokens=False).ids[:WINDOW] + [EOS]
        for t in texts
    ]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    tokens = sum(len(x) for x in ids)

    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    model = BertModel.from_pretrained(
        args.model_dir, torch_dtype=dtype, attn_implementation="sdpa", add_pooling_layer=False
    ).to(args.device).eval()

    def run() -> torch.Tensor:
        out = torch.empty(len(ids), model.config.hidden_size, device=args.device)
        for start in range(0, len(order), args.batch):
            batch = order[start : start + args.batch]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), PAD, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            input_ids, mask = input_ids.to(args.device), mask.to(args.device)
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
            m = mask.unsqueeze(-1).float()
            pooled = (hidden * m).sum(1) / m.sum(1)
            out[batch] = torch.nn.functional.normalize(pooled, dim=-1)
        return out

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    with torch.inference_mode():
        run()  # warm-up
        sync()
        seconds = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            run()
            sync()
            seconds.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "engine": f"transformers {args.dtype} batch {args.batch}",
                "device": args.device,
                "tokens": tokens,
                "passages": len(ids),
                "seconds": seconds,
                "tokens_per_s": tokens / statistics.median(seconds),
            }
        )
    )


if __name__ == "__main__":
    main()
