#!/usr/bin/env python3
"""burst.py URL N: N HTTP GETs at once, each on its own connection (N threads started
together, 5 s timeout each). A SYN the far end does not answer is retried by the kernel
after 1 s, so a connection that took 0.9 s or more to answer was retried.
-> {"ok", "failed", "slowest_ms", "retried": connections that took >= 900 ms}"""
import concurrent.futures
import http.client
import json
import sys
import threading
import time
import urllib.parse

url, n = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlparse(url)
start = threading.Barrier(n)


def one(_):
    start.wait()
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=5)
        c.request("GET", u.path or "/")
        c.getresponse().read()
        c.close()
        return time.monotonic() - t0
    except Exception:
        return None


with concurrent.futures.ThreadPoolExecutor(n) as ex:
    took = list(ex.map(one, range(n)))
ok = [t for t in took if t is not None]
print(json.dumps({"ok": len(ok), "failed": n - len(ok), "slowest_ms": round(max(ok, default=0) * 1000, 1),
                  "retried": sum(1 for t in ok if t >= 0.9)}))
