#!/usr/bin/env python3
"""Soak test of `concord serve` (issue 15): mixed reads, writes, deletes, overlap
queries and embeddings from many clients for a while, with the server killed (-9) at
random moments and restarted, then a check that every acknowledged write is present
(with its text) and every acknowledged delete absent, and nothing else is there.

Standard library only. Run through benches/soak.sh; see benches/RESULTS.md.

Each client owns its article ids, so the expected state of an id is the last change the
server acknowledged for it. A change in flight when the server died may or may not
have been applied: both outcomes are accepted for that id, nothing else is.
"""
import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Server:
    def __init__(self, exe, collection, port):
        self.exe, self.collection, self.port = exe, collection, port
        self.proc = None
        self.peak_rss_kib = 0

    def start(self):
        self.proc = subprocess.Popen(
            [self.exe, "serve", "--collection", self.collection, "--port", str(self.port),
             "--commit-after", "64", "--commit-interval", "5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode} at start")
            time.sleep(0.1)
        raise SystemExit("the server did not answer within 120 s")

    def rss_kib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def call(port, method, path, body=None, timeout=120):
    """(status, parsed body) or (None, error) when the connection failed."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


class Book:
    """What the clients were told, per article id: the acceptable states, each the
    article's unique marker line (present) or None (absent)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}
        self.counts = {}
        self.unexpected = []

    def count(self, kind, status):
        with self.lock:
            key = f"{kind} {status}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def acknowledged(self, id_, value):
        with self.lock:
            self.state[id_] = {value}

    def uncertain(self, id_, value):
        with self.lock:
            self.state.setdefault(id_, {None}).add(value)


def client(k, port_box, stop, book, texts, rng):
    mine = []  # ids acknowledged present
    n = 0
    while not stop.is_set():
        port = port_box[0]
        op = rng.random()
        if op < 0.35:
            n += 1
            id_ = f"c{k:02d}-{n:05d}"
            marker = f"第{k}號客戶的第{n}篇稿件，記錄於{time.time():.3f}。"
            text = rng.choice(texts) + "\n\n" + marker
            status, body = call(port, "POST", "/documents", {"id": id_, "text": text})
            book.count("write", status)
            if status in (200, 201):
                book.acknowledged(id_, marker)
                mine.append(id_)
            elif status is None or status >= 500:
                book.uncertain(id_, marker)
                if status is not None and status != 503:
                    book.unexpected.append((id_, status, body))
        elif op < 0.45 and mine:
            id_ = mine.pop(rng.randrange(len(mine)))
            status, body = call(port, "DELETE", f"/documents/{id_}")
            book.count("delete", status)
            if status in (200, 204):
                book.acknowledged(id_, None)
            elif status is None or status >= 500:
                book.uncertain(id_, None)
                mine.append(id_)
                if status is not None and status != 503:
                    book.unexpected.append((id_, status, body))
            else:
                mine.append(id_)
        elif op < 0.65:
            status, body = call(port, "GET", "/documents?limit=20")
            book.count("list", status)
        elif op < 0.8:
            status, body = call(port, "POST", "/overlaps", {"text": rng.choice(texts)[:120], "k": 5})
            book.count("overlaps", status)
        else:
            status, body = call(port, "POST", "/v1/embeddings", {"input": rng.choice(texts)[:200]})
            book.count("embed", status)
        if status is not None and status >= 500 and status != 503:
            book.unexpected.append(("request", status, body))
        if status is None:
            time.sleep(0.2)  # the server is down: wait for the restart


def verify(port, book):
    """Lost acknowledged writes, resurrected deletes, and unknown articles."""
    present = {}
    offset = 0
    while True:
        status, body = call(port, "GET", f"/documents?offset={offset}&limit=500")
        assert status == 200, (status, body)
        docs = body["documents"] if isinstance(body, dict) else body
        if not docs:
            break
        for d in docs:
            present[d["id"]] = None
        offset += len(docs)
    lost, wrong, extra = [], [], []
    for id_ in present:
        status, body = call(port, "GET", f"/documents/{id_}")
        assert status == 200, (id_, status, body)
        # The article's unique last line, as its passages hold it.
        joined = "".join(p["text"] for p in body["passages"])
        present[id_] = next((m for m in book.state.get(id_, ()) if m and m in joined), "?")
    for id_, ok in book.state.items():
        got = present.get(id_)  # None when absent, "?" when its text is not the one written
        if got not in ok:
            (wrong if got == "?" else lost).append(id_)
    for id_ in present:
        if id_ not in book.state:
            extra.append(id_)
    return present, lost, wrong, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default="target/release/concord")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--port", type=int, default=18580)
    ap.add_argument("--kill-every", type=float, default=45, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=20261201)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    articles = os.path.join(os.path.dirname(__file__), "..", "examples", "articles")
    texts = [open(os.path.join(articles, f), encoding="utf-8").read()
             for f in sorted(os.listdir(articles))]
    work = tempfile.mkdtemp(prefix="concord-soak-")
    server = Server(a.exe, os.path.join(work, "collection"), a.port)
    server.start()
    port_box = [a.port]
    book = Book()
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(k, port_box, stop, book, texts, random.Random(a.seed + k)))
               for k in range(a.clients)]
    for t in threads:
        t.start()
    end = time.time() + a.minutes * 60
    kills = 0
    peaks = []
    next_kill = time.time() + rng.expovariate(1 / a.kill_every)
    peak = 0
    while time.time() < end:
        time.sleep(0.25)
        peak = max(peak, server.rss_kib())
        if time.time() >= next_kill:
            server.kill9()
            kills += 1
            peaks.append(peak)
            peak = 0
            log(f"kill -9 #{kills} at {a.minutes * 60 - (end - time.time()):.0f} s; restarting")
            server.start()
            next_kill = time.time() + rng.expovariate(1 / a.kill_every)
    stop.set()
    for t in threads:
        t.join()
    peaks.append(peak)
    present, lost, wrong, extra = verify(a.port, book)
    server.stop()
    # And once more after a clean restart: the final commit holds the same.
    server.start()
    present2, lost2, wrong2, extra2 = verify(a.port, book)
    server.stop()
    acked = sum(v for k, v in book.counts.items() if k in ("write 200", "write 201"))
    acked_del = sum(v for k, v in book.counts.items() if k in ("delete 200", "delete 204"))
    result = {
        "minutes": a.minutes, "clients": a.clients, "kills": kills,
        "requests": dict(sorted(book.counts.items())),
        "acknowledged_writes": acked, "acknowledged_deletes": acked_del,
        "articles_at_end": len(present),
        "lost": len(lost), "wrong_text": len(wrong), "unexpected_articles": len(extra),
        "after_restart": {"lost": len(lost2), "wrong_text": len(wrong2), "unexpected_articles": len(extra2)},
        "unexpected_5xx": len(book.unexpected),
        "peak_rss_mib_per_run": [round(p / 1024) for p in peaks],
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if lost or wrong or extra or lost2 or wrong2 or extra2 or book.unexpected:
        log("FAILED:", lost[:5], wrong[:5], extra[:5], book.unexpected[:3])
        sys.exit(1)


if __name__ == "__main__":
    main()
