#!/usr/bin/env python3
"""Builds the tiny random-initialised encoders the parity tests load, and records what
Hugging Face transformers computes for them.

    python3 -m venv target/tiny-venv
    target/tiny-venv/bin/pip install torch transformers tokenizers
    target/tiny-venv/bin/python scripts/make-tiny-models.py

Writes crates/concord-embed/tests/fixtures/tiny/<name>/ for three models:

  bert         BertModel, WordPiece tokenizer, mean pooling (no sentence-transformers
               files), positions numbered from 0.
  xlmr-cls     XLMRobertaForMaskedLM saved with its "roberta." prefix and an LM head,
               Unigram tokenizer, sentence-transformers files: CLS pooling, Normalize,
               prompts {"query": "query: ", "document": "doc: "}.
  xlmr-last    XLMRobertaModel (no prefix), one token type, last-token pooling.

XLM-R numbers positions from pad_token_id + 1 (here 2), which is what the tests check
concord does. Each folder's expected.json holds, for every text and prompt role, the
token ids (specials included) and the L2-normalised pooled vector from transformers in
float32. Both tokenizers are trained on the short sentences below (written for this
script). The seed is pinned; the same versions give the same files.
"""
import json
import os
import shutil

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaForMaskedLM, XLMRobertaModel

SEED = 20261201
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "concord-embed", "tests", "fixtures", "tiny")

CORPUS = [
    "The harbour authority said the new pier opens in March.",
    "Officials expect 12,000 visitors on the first weekend.",
    "Critics argue the project cost far more than planned.",
    "港務局表示新碼頭將於三月啟用。",
    "港务局表示新码头将于三月启用。",
    "官員預計首個週末有一萬二千名遊客。",
    "批评者认为该项目的成本远超预算。",
    "市長說，這是十年來最重要的工程。",
    "The mayor called it the most important project in a decade.",
    "Fishermen say the pier blocks their usual route.",
    "漁民說碼頭擋住了他們平常的航道。",
    "Prices rose 3.5% in the second quarter, the bureau said.",
    "統計局稱第二季度物價上漲3.5%。",
]

TEXTS = [
    "The harbour authority said the new pier opens in March.",
    "港務局表示新碼頭將於三月啟用。",
    "批评者认为该项目的成本远超预算,漁民說碼頭擋住了他們平常的航道。",
    "Prices",
    # Long enough to reach the high positions of the windows (64 and 128 tokens).
    "Officials expect 12,000 visitors on the first weekend, the mayor called it the most "
    "important project in a decade, and critics argue the project cost far more than planned.",
]


def wordpiece_tokenizer():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


def unigram_tokenizer():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace("  ", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok.train_from_iterator(
        CORPUS,
        trainers.UnigramTrainer(vocab_size=500, special_tokens=specials, unk_token="<unk>"),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return tok


def pooled(hidden, pooling):
    if pooling == "mean":
        v = hidden.mean(0)
    elif pooling == "cls":
        v = hidden[0]
    else:
        v = hidden[-1]
    return torch.nn.functional.normalize(v, dim=0)


def positions(cfg):
    """Positions a sequence may use: XLM-R's first pad_token_id + 1 rows are never used."""
    offset = cfg.pad_token_id + 1 if cfg.model_type == "xlm-roberta" else 0
    return cfg.max_position_embeddings - offset


def write(name, model, base, tok, pooling, prompts, st_files):
    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    model.save_pretrained(out, safe_serialization=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    if st_files:
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]
        json.dump(modules, open(os.path.join(out, "modules.json"), "w"), indent=2)
        os.makedirs(os.path.join(out, "1_Pooling"))
        h = model.config.hidden_size
        mode = {
            "word_embedding_dimension": h,
            "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": pooling == "last",
            "include_prompt": True,
        }
        json.dump(mode, open(os.path.join(out, "1_Pooling", "config.json"), "w"), indent=2)
        st = {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"}
        json.dump(st, open(os.path.join(out, "config_sentence_transformers.json"), "w"), indent=2)
    cases = []
    base.eval()
    for role in ["query", "passage", "none"]:
        prompt = {
            "query": prompts.get("query", ""),
            "passage": prompts.get("passage", prompts.get("document", "")),
            "none": "",
        }[role]
        for text in TEXTS:
            ids = tok.encode(prompt + text).ids
            assert len(ids) <= positions(model.config), (name, len(ids))
            with torch.no_grad():
                hidden = base(input_ids=torch.tensor([ids])).last_hidden_state[0]
            cases.append({
                "role": role,
                "text": text,
                "ids": ids,
                "vector": [round(float(x), 7) for x in pooled(hidden, pooling)],
            })
    json.dump({"pooling": pooling, "cases": cases}, open(os.path.join(out, "expected.json"), "w"))
    print(f"wrote {out}: {sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)} bytes")


def main():
    torch.manual_seed(SEED)
    torch.set_default_dtype(torch.float32)
    common = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
                  hidden_act="gelu", initializer_range=0.2, layer_norm_eps=1e-12,
                  attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0)

    wp = wordpiece_tokenizer()
    cfg = BertConfig(vocab_size=wp.get_vocab_size(), max_position_embeddings=64, type_vocab_size=2,
                     pad_token_id=wp.token_to_id("[PAD]"), **common)
    bert = BertModel(cfg, add_pooling_layer=False)
    write("bert", bert, bert, wp, "mean", {}, st_files=False)

    ug = unigram_tokenizer()
    xcfg = dict(vocab_size=ug.get_vocab_size(), max_position_embeddings=130, pad_token_id=1,
                bos_token_id=0, eos_token_id=2, **common)
    mlm = XLMRobertaForMaskedLM(XLMRobertaConfig(type_vocab_size=2, **xcfg))
    write("xlmr-cls", mlm, mlm.roberta, ug, "cls", {"query": "query: ", "document": "doc: "}, st_files=True)

    plain = XLMRobertaModel(XLMRobertaConfig(type_vocab_size=1, **xcfg), add_pooling_layer=False)
    write("xlmr-last", plain, plain, ug, "last", {}, st_files=True)


if __name__ == "__main__":
    main()
