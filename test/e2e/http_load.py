#!/usr/bin/env python3
"""http_load.py URL N [SOURCE_IP]: N HTTP GETs, each on a new connection; prints how many
replies each backend name gave ("web1 300 web2 600 ...") and the failures."""
import collections
import http.client
import sys
import urllib.parse

url, n = sys.argv[1], int(sys.argv[2])
source = (sys.argv[3], 0) if len(sys.argv) > 3 else None
u = urllib.parse.urlparse(url)
counts = collections.Counter()
for _ in range(n):
    try:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=3, source_address=source)
        c.request("GET", u.path or "/")
        counts[c.getresponse().read().decode().split()[0]] += 1
        c.close()
    except Exception:
        counts["failed"] += 1
print(" ".join(f"{k} {v}" for k, v in sorted(counts.items())))
