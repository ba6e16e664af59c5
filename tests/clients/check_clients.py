#!/usr/bin/env python3
"""Runs the real `openai` and `huggingface_hub` clients against a concord server and
prints what they got as one JSON object (tests/clients.rs compares it with
`concord embed`). Usage: check_clients.py BASE_URL TEXT OTHER"""
import base64
import json
import struct
import sys

import openai
from huggingface_hub import InferenceClient

base, text, other = sys.argv[1:4]
out = {}

client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused")
r = client.embeddings.create(model="text-embedding-3-small", input=[text, other])
out["openai_float"] = [d.embedding for d in r.data]
out["openai_model"] = r.model
# Asked for explicitly, base64 comes back as the string the server sent: little-endian
# float32, as OpenAI's own clients decode it.
r = client.embeddings.create(model="e5", input=text, encoding_format="base64")
raw = base64.b64decode(r.data[0].embedding)
out["openai_base64"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
try:
    client.embeddings.create(model="e5", input=text, dimensions=128)
    out["openai_dimensions"] = "accepted"
except openai.UnprocessableEntityError as e:
    out["openai_dimensions"] = e.response.text

hf = InferenceClient(base_url=base)
out["hf_feature"] = [float(x) for x in hf.feature_extraction(text).reshape(-1)]
out["hf_similarity"] = [float(x) for x in hf.sentence_similarity(text, [other, text])]
print(json.dumps(out))
