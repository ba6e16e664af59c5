#!/usr/bin/env python3
"""Head-of-line probe of `concord serve` (issue 15, defect 3): a 256-text request of about
a thousand tokens a text, five short /embed requests from 2 s in (their latency), then the
big request again from a client that hangs up after 2 s (tokens embedded after it).
Standard library only. Usage: benches/queue_probe.py BIN PORT [serve flags...]"""
import json, subprocess, sys, tempfile, threading, time, http.client, os, socket
exe, port = sys.argv[1], int(sys.argv[2])
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
para = open(f"{root}/examples/articles/harbour-ferry-cn.txt", encoding="utf-8").read()
big = json.dumps({"inputs": [f"{i} {para * 8}" for i in range(256)]})
d = tempfile.mkdtemp()
extra = sys.argv[3:]
p = subprocess.Popen([exe, "serve", "--collection", d + "/c", "--port", str(port)] + extra, cwd=root,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def call(method, path, body=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse(); return r.status, r.read()
for _ in range(600):
    try:
        if call("GET", "/health")[0] == 200: break
    except OSError: time.sleep(0.1)
def metric(name):
    _, b = call("GET", "/metrics")
    for l in b.decode().splitlines():
        if l.startswith(name + " "): return float(l.split()[1])
    return 0.0
t0 = time.time()
long = threading.Thread(target=lambda: print("long request", call("POST", "/embed", big)[0], f"{time.time()-t0:.1f} s", flush=True))
long.start()
time.sleep(2)
lat = []
for i in range(5):
    t = time.time(); s, _ = call("POST", "/embed", json.dumps({"inputs": f"第{i}个问题"})); lat.append(time.time() - t)
print("short requests while the long one runs, s:", [round(x, 2) for x in lat], flush=True)
long.join()
# hang-up: send the big request, close after 2 s, see how many tokens are embedded after
before = metric("concord_tokens_embedded_total")
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(f"POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(big.encode())}\r\n\r\n".encode() + big.encode())
time.sleep(2); sock.close(); at_close = metric("concord_tokens_embedded_total")
time.sleep(15); after = metric("concord_tokens_embedded_total")
print(f"hang-up: tokens embedded by the close {at_close-before:.0f}, in the 15 s after it {after-at_close:.0f}", flush=True)
p.kill()
