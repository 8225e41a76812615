#!/usr/bin/env python3
"""Hostile clients of Fulcrum's control socket and metrics port, all at once, while a
well-formed request is timed every 50 ms. Prints one line per case and a JSON summary.
usage: ctl_clients.py SOCKET METRICS_PORT"""
import json, os, socket, sys, threading, time

SOCK, MPORT = sys.argv[1], int(sys.argv[2])
results, lock = {}, threading.Lock()


def note(case, value):
    with lock:
        results[case] = value


def ask(payload, timeout=10.0):
    """Send bytes, close the write side, return the reply text ("" if none)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    # A socket with a timeout is non-blocking underneath: when a burst of clients has
    # filled the listen backlog, connect() says EAGAIN at once where a blocking one
    # (fulcrumctl's) waits. Wait the same way here, within the timeout.
    give_up = time.monotonic() + timeout
    while True:
        try:
            s.connect(SOCK)
            break
        except BlockingIOError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.01)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon answered early (a too-large request) and closed
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out.decode("utf-8", "replace")


def code(reply):
    try:
        return json.loads(reply.splitlines()[0]).get("Code", "?")
    except Exception:
        return "no reply" if not reply else "unparsable"


probe_times, stop = [], threading.Event()


def prober():
    while not stop.is_set():
        t = time.monotonic()
        r = ask(json.dumps({"Action": "DescribeBackendServers"}).encode(), timeout=5)
        probe_times.append((time.monotonic() - t, code(r)))
        time.sleep(0.05)


def requests_cases():
    cases = {
        "non-string Action": b'{"Action": 1}',
        "missing Action": b'{"BackendServers": []}',
        "wrong types": json.dumps({"Action": "AddBackendServers", "BackendServers": [{"ServerId": 5, "ServerIp": [], "Weight": {}}]}).encode(),
        "invalid UTF-8": b'{"Action": "AddBackendServers", "BackendServers": "\xff\xfe"}',
        "100k-deep nesting": b"[" * 100000 + b"]" * 100000,
        "10 MB request": b'{"Action": "' + b"x" * (10 << 20) + b'"}',
    }
    for name, payload in cases.items():
        note(name, code(ask(payload)))
    # Every field kind with a wrong type (a number where a string goes, and the reverse).
    bad = 0
    for field in ("VIP", "ListenerPort", "BackendServerPort", "Scheduler", "VServerGroupId", "HealthCheck", "AclEntries"):
        for v in (1, "x", [], {}, None, True):
            c = code(ask(json.dumps({"Action": "CreateLoadBalancerTCPListener", field: v}).encode()))
            bad += c not in ("InvalidParameter",)
    note("wrong type in every field kind (42 requests)", "InvalidParameter" if bad == 0 else f"{bad} other")


def hang_up():
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        s.sendall(json.dumps({"Action": "DescribeBackendServers"}).encode())
        s.shutdown(socket.SHUT_WR)
        s.close()  # before the reply
    note("20 clients that hang up before the reply", "done")


def silent():
    held = []
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        held.append(s)
    time.sleep(3)
    answered = sum(1 for s in held if s.recv(4096))  # each told its request was not whole
    for s in held:
        s.close()
    note("100 silent clients", f"{answered} answered")


def trickle():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    msg = json.dumps({"Action": "DescribeBackendServers"}).encode()
    try:
        for b in msg:
            s.send(bytes([b]))
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(5)
    try:
        note("trickling client (1 byte / 100 ms)", code(s.recv(4096).decode("utf-8", "replace")))
    except Exception as e:
        note("trickling client (1 byte / 100 ms)", f"closed ({e.__class__.__name__})")
    s.close()


def metrics_never_reads():
    held = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", MPORT))
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        held.append(s)
    time.sleep(2)
    for s in held:
        s.close()
    ok = socket.create_connection(("127.0.0.1", MPORT), timeout=5)
    ok.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        b = ok.recv(65536)
        if not b:
            break
        data += b
    note("metrics clients that never read, then a scrape", "200" if b" 200 " in data.split(b"\r\n")[0] else "failed")


def metrics_idle_full():
    # More idle clients than the port takes (64): a scraper that sends a whole request at
    # once still gets its answer, long before the idle ones' 5 s deadline.
    held = [socket.create_connection(("127.0.0.1", MPORT)) for _ in range(70)]
    time.sleep(0.5)
    start = time.monotonic()
    ok = socket.create_connection(("127.0.0.1", MPORT), timeout=5)
    ok.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    data = b""
    try:
        while True:
            b = ok.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    took = time.monotonic() - start
    for s in held:
        s.close()
    good = data.split(b"\r\n")[0].find(b" 200 ") >= 0 and took < 2
    note("70 idle metrics clients, then a scrape", "200" if good else f"failed ({took:.1f} s)")


def non_root():
    # Mode 0600: the kernel refuses the connection. Loosened to 0666: SO_PEERCRED does.
    pid = os.fork()
    if pid == 0:
        os.setgid(65534)
        os.setuid(65534)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(SOCK)
            os._exit(1)
        except PermissionError:
            pass
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    first = "EACCES" if os.WEXITSTATUS(st) == 0 else "connected"
    os.chmod(SOCK, 0o666)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setgid(65534)
        os.setuid(65534)
        out = ask(json.dumps({"Action": "AddBackendServers", "BackendServers": [{"ServerId": "x", "ServerIp": "10.10.2.99"}]}).encode())
        os.write(w, code(out).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    second = os.read(r, 100).decode()
    os.chmod(SOCK, 0o600)
    note("non-root peer", f"{first}; with the socket opened to all: {second}")


p = threading.Thread(target=prober)
p.start()
time.sleep(0.3)
workers = [threading.Thread(target=f) for f in (requests_cases, hang_up, silent, trickle, metrics_never_reads, non_root)]
for t in workers:
    t.start()
for t in workers:
    t.join()
metrics_idle_full()
time.sleep(0.3)
stop.set()
p.join()
worst = max(t for t, _ in probe_times)
for k, v in results.items():
    print(f"  {k}: {v}")
print("summary: " + json.dumps({"cases": results, "probes": len(probe_times),
                                "probe_failures": sum(1 for _, c in probe_times if c != "Success"),
                                "probe_max_ms": round(worst * 1000, 1)}))
