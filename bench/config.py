#!/usr/bin/env python3
"""Fulcrum configurations for the benchmark scenarios (scripts/bench), one helper for all.

  config.py base FLOWS LADDRS CAPACITY     the memif pair: TCP and UDP listeners on VIP
                                           10.0.0.10:80, three backends behind the server port
  config.py alone CFG MBUFS                CFG on one net_pcap port (worker alone)
  config.py ipv6 CFG                       an alone CFG made dual-stack: udp/80 on VIP 2001:db8::10 to
                                           the IPv4 backends (6->4), udp/81 to three IPv6 ones (6->6)
  config.py scaling CFG WORKERS RSS MBUFS  CFG on one net_pcap port with WORKERS and rss mode RSS
  config.py flood CFG SYNPROXY             CFG with SynProxy SYNPROXY and the default threshold
  config.py client_addr CFG FIELD          CFG with FIELD (ProxyProtocolV2Enabled, ToaEnabled) on
  config.py half RESULTS PROTO             half the best forward 64 B rate of PROTO in RESULTS (pps)
The configuration goes to stdout (half: a number).
"""
import json
import sys


def base(flows, laddrs, cap):
    backends = ["10.0.2.%d" % (11 + i) for i in range(3)]
    return {
        "workers": 1, "exception_path": "off",
        "ports": [
            {"name": "client", "device": "net_memif0", "address": "10.0.0.1/24", "gateway": "10.0.0.2",
             "static_neighbours": [{"ip": "10.0.0.2", "mac": "02:00:00:00:01:01"}]},
            # The laddrs (10.0.3.0 up) lie outside both subnets: the servers port's routed pool.
            {"name": "servers", "device": "net_memif1", "address": "10.0.2.1/24",
             "static_neighbours": [{"ip": b, "mac": "02:00:00:00:02:01"} for b in backends],
             "local_addresses": ["10.0.%d.%d" % (3 + i // 250, 1 + i % 250) for i in range(laddrs)]}],
        "vips": ["10.0.0.10"],
        "conn_capacity": cap, "mbufs": 65535,
        # The generator opens thousands of flows at once; its stateless clients cannot follow a
        # SYN proxy that drops an ACK, so the proxy stays out of these runs (flood: its own).
        "syn_proxy_threshold": 1 << 24,
        "listeners": [{"VIP": "10.0.0.10", "Protocol": p, "ListenerPort": 80, "BackendServerPort": 8080,
                       "IdleTimeout": 3600} if p == "udp" else
                      {"VIP": "10.0.0.10", "Protocol": p, "ListenerPort": 80, "BackendServerPort": 8080}
                      for p in ("udp", "tcp")],
        "default_server_group": [{"ServerId": "i-%d" % (i + 1), "ServerIp": b} for i, b in enumerate(backends)]}


def one_port(c, mbufs, extra=None):
    """The memif pair's config folded onto one net_pcap port (replays: no generator)."""
    c["mbufs"] = mbufs
    nl = len(c["ports"][1]["local_addresses"])
    port = {"name": "p0", "device": "net_pcap0", "address": "10.0.0.1/24", "gateway": "10.0.0.2",
            "static_neighbours": c["ports"][0]["static_neighbours"] + c["ports"][1]["static_neighbours"]}
    for k in ("address6", "gateway6"):  # (config.py ipv6 puts them on the first port)
        if k in c["ports"][0]:
            port[k] = c["ports"][0][k]
    port.update(extra or {})
    c["ports"] = [port]
    c["local_addresses"] = (["10.0.0.%d" % (100 + i) for i in range(min(nl, 100))] +
                            [a for a in c.get("local_addresses", []) if ":" in a])
    c["default_server_group"] = [dict(b, ServerIp=b["ServerIp"].replace("10.0.2.", "10.0.0."))
                                 for b in c["default_server_group"]]
    for n in port["static_neighbours"]:
        n["ip"] = n["ip"].replace("10.0.2.", "10.0.0.")
    return c


def main(argv):
    what, args = argv[1], argv[2:]
    if what == "base":
        out = base(*(int(a) for a in args))
    elif what == "alone":
        out = one_port(json.load(open(args[0])), int(args[1]))
    elif what == "ipv6":
        out = json.load(open(args[0]))
        p = out["ports"][0]
        six = ["2001:db8::%x" % (0x11 + i) for i in range(3)]
        p["address6"], p["gateway6"] = "2001:db8::1/64", "2001:db8::2"
        p["static_neighbours"] += [{"ip": a, "mac": "02:00:00:00:01:01"} for a in ["2001:db8::2"] + six]
        out["vips"].append("2001:db8::10")
        out.setdefault("local_addresses", [])
        out["local_addresses"] += ["2001:db8::%x" % (0x100 + i) for i in range(4)]
        out["vserver_groups"] = [{"VServerGroupId": "rsp-6", "BackendServers": [
            {"ServerId": "i-6%d" % i, "ServerIp": a, "Port": 8080} for i, a in enumerate(six)]}]
        out["listeners"] += [
            {"VIP": "2001:db8::10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080},
            {"VIP": "2001:db8::10", "Protocol": "udp", "ListenerPort": 80, "BackendServerPort": 8080, "IdleTimeout": 3600},
            {"VIP": "2001:db8::10", "Protocol": "udp", "ListenerPort": 81, "BackendServerPort": 1,
             "VServerGroupId": "rsp-6", "IdleTimeout": 3600}]
    elif what == "scaling":
        c = json.load(open(args[0]))
        c["workers"] = int(args[1])
        out = one_port(c, int(args[3]), {"rss": args[2]})
    elif what == "flood":
        out = json.load(open(args[0]))
        for l in out["listeners"]:
            if l["Protocol"] == "tcp":
                l["SynProxy"] = args[1]
        del out["syn_proxy_threshold"]  # the default (512): the flood must engage it
    elif what == "client_addr":
        out = json.load(open(args[0]))
        for l in out["listeners"]:
            if l["Protocol"] == "tcp" or args[1] != "ToaEnabled":
                l[args[1]] = "on"
    elif what == "half":
        rates = []
        try:
            rates = [r["done_mps"] for r in map(json.loads, open(args[0])) if r.get("scenario") == "forward"
                     and r.get("box") == "fulcrum" and r.get("proto") == args[1] and r.get("frame_size") == 64]
        except FileNotFoundError:
            pass
        print(int(max(rates or [2]) * 1e6 / 2))
        return 0
    else:
        print("config.py: unknown " + what, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
