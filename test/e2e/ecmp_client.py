#!/usr/bin/env python3
"""Clients of the ECMP lab (scripts/lab-ecmp.sh); each mode prints one JSON object.

  spread URL N SRC...   N HTTP GETs, each on a new connection, 8 at a time, the source
                        addresses taken in turn. The backend answers "<name> <peer>", and
                        the peer is the local address of the node the connection crossed.
                        -> {"ok", "failed", "by_node": {laddr: n},
                            "by_source": {src: {backend: n}}, "by_source_node": {src: {laddr: n}}}
  hold HOST PORT N SECONDS   N long-lived connections to a line echo server, each sending a
                        line every 200 ms for SECONDS, then closing.
                        -> {"connections", "lines", "answered", "broken": [indices]}
  watch URL SECONDS     a new connection every 100 ms (1 s timeout each), for SECONDS.
                        -> {"attempts": [[t, ok, laddr or null], ...]} (t: time.time())
"""
import collections
import concurrent.futures
import http.client
import json
import socket
import sys
import time
import urllib.parse


def get(url, source=None, timeout=3.0):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        c.request("GET", u.path or "/")
        r = c.getresponse()
        name, peer = r.read().decode().split()[:2]
        return name, peer
    finally:
        c.close()


def spread(url, n, sources):
    by_node, by_source, by_source_node = collections.Counter(), {}, {}
    failed = 0

    def one(i):
        src = sources[i % len(sources)] if sources else None
        try:
            return src, get(url, src)
        except Exception:
            return src, None

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for src, r in ex.map(one, range(n)):
            if r is None:
                failed += 1
                continue
            name, peer = r
            by_node[peer] += 1
            by_source.setdefault(src or "", collections.Counter())[name] += 1
            by_source_node.setdefault(src or "", collections.Counter())[peer] += 1
    return {"ok": n - failed, "failed": failed, "by_node": by_node,
            "by_source": by_source, "by_source_node": by_source_node}


def hold(host, port, n, seconds):
    conns = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=2)
        conns.append(s.makefile("rwb", buffering=0))
    lines = answered = 0
    broken = set()
    end = time.time() + seconds
    k = 0
    while time.time() < end:
        for i, f in enumerate(conns):
            if i in broken:
                continue
            msg = f"c{i} line{k}\n".encode()
            lines += 1
            try:
                f.write(msg)
                reply = f.readline()
                if reply.endswith(msg):
                    answered += 1
                else:
                    broken.add(i)
            except OSError:
                broken.add(i)
        k += 1
        time.sleep(0.2)
    for f in conns:
        f.close()
    return {"connections": n, "lines": lines, "answered": answered, "broken": sorted(broken)}


def watch(url, seconds):
    out = []
    end = time.time() + seconds
    while time.time() < end:
        t = time.time()
        try:
            _, peer = get(url, timeout=1.0)
            out.append([t, True, peer])
        except Exception:
            out.append([t, False, None])
        time.sleep(max(0.0, 0.1 - (time.time() - t)))
    return {"attempts": out}


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "spread":
        r = spread(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    elif mode == "hold":
        r = hold(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "watch":
        r = watch(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)
    print(json.dumps(r))
