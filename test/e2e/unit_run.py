#!/usr/bin/env python3
"""Start a Type=notify systemd unit the way systemd would, where systemd is not PID 1
(CI containers), inside a network namespace.

  unit_run.py start UNIT NETNS LOG     EnvironmentFile read, RuntimeDirectory and
      StateDirectory made, ExecStart expanded ($VAR split on whitespace, ${VAR} one
      word) and run with NOTIFY_SOCKET. LOG gets one line per event: "started PID",
      each notification ("READY=1", "STOPPING=1"...), "exit CODE". Runs until the
      service exits.
  unit_run.py reload UNIT PID          ExecReload, with $MAINPID.

The unit's sandboxing is applied as far as plain tools can (a mount namespace of the
service's own, setpriv), so the hardening the unit claims DPDK tolerates is what the
service really runs under: NoNewPrivileges; ProtectSystem=full (/usr, /boot, /etc
read-only); ProtectHome (/home, /root, /run/user empty); PrivateTmp (fresh /tmp,
/var/tmp); ProtectKernelModules, ProtectKernelLogs, ProtectClock (their capabilities
dropped from the bounding set, /usr/lib/modules read-only, /proc/kmsg hidden);
ProtectControlGroups (/sys/fs/cgroup read-only). The seccomp-based ones
(RestrictNamespaces, RestrictRealtime, RestrictSUIDSGID, LockPersonality,
SystemCallArchitectures) are not: the log says so ("hardening: ..." lines).
"""
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile


def service_section(path):
    keys, section = {}, None
    for line in open(path):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    return keys


def environment(keys):
    env = {}
    for f in keys.get("EnvironmentFile", []):
        optional = f.startswith("-")
        f = f.lstrip("-")
        if not os.path.exists(f):
            if optional:
                continue
            sys.exit(f"unit_run: EnvironmentFile {f} is missing")
        for line in open(f):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = " ".join(shlex.split(v)) if v[:1] in "\"'" else v
    return env


def expand(cmdline, env):
    """systemd's rules for a command line: $VAR splits into words, ${VAR} is one word."""
    out = []
    for word in shlex.split(cmdline):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            out += env.get(m.group(1), "").split()
        else:
            out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda x: env.get(x.group(1), ""), word))
    return out


def on(keys, name):
    return keys.get(name, ["no"])[-1] in ("yes", "true", "1", "full", "strict")


def sandbox(keys):
    """(shell mount commands, setpriv arguments, applied, not emulated) for the unit's keys."""
    mounts, caps, applied, skipped = [], [], [], []
    if on(keys, "ProtectSystem"):
        for d in ("/usr", "/boot", "/efi") + (("/etc",) if keys["ProtectSystem"][-1] in ("full", "strict") else ()):
            mounts.append(f"[ -d {d} ] && mount --bind {d} {d} && mount -o remount,bind,ro {d}")
        applied.append("ProtectSystem=" + keys["ProtectSystem"][-1])
    if on(keys, "ProtectHome"):
        for d in ("/home", "/root", "/run/user"):
            mounts.append(f"[ -d {d} ] && mount -t tmpfs -o mode=0000,size=1k tmpfs {d}")
        applied.append("ProtectHome")
    if on(keys, "PrivateTmp"):
        for d in ("/tmp", "/var/tmp"):
            mounts.append(f"mount -t tmpfs -o mode=1777 tmpfs {d}")
        applied.append("PrivateTmp")
    if on(keys, "ProtectKernelModules"):
        mounts.append("[ -d /usr/lib/modules ] && mount --bind /usr/lib/modules /usr/lib/modules && "
                      "mount -o remount,bind,ro /usr/lib/modules")
        caps.append("-sys_module")
        applied.append("ProtectKernelModules")
    if on(keys, "ProtectKernelLogs"):
        mounts.append("mount --bind /dev/null /proc/kmsg")
        caps.append("-syslog")
        applied.append("ProtectKernelLogs")
    if on(keys, "ProtectClock"):
        caps += ["-sys_time", "-wake_alarm"]
        applied.append("ProtectClock")
    if on(keys, "ProtectControlGroups"):
        mounts.append("[ -d /sys/fs/cgroup ] && mount --bind /sys/fs/cgroup /sys/fs/cgroup && "
                      "mount -o remount,bind,ro /sys/fs/cgroup")
        applied.append("ProtectControlGroups")
    priv = []
    if on(keys, "NoNewPrivileges"):
        priv.append("--no-new-privs")
        applied.append("NoNewPrivileges")
    if caps:
        priv += ["--bounding-set", ",".join(caps)]
    for k in ("RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "SystemCallArchitectures"):
        if k in keys:
            skipped.append(k)
    return mounts, priv, applied, skipped


def start(unit, netns, log):
    keys = service_section(unit)
    assert keys.get("Type") == ["notify"], "not a Type=notify unit"
    env = environment(keys)
    mode = int(keys.get("RuntimeDirectoryMode", ["0755"])[-1], 8)
    for d in keys.get("RuntimeDirectory", []):
        os.makedirs(f"/run/{d}", exist_ok=True)
        os.chmod(f"/run/{d}", mode)
    for d in keys.get("StateDirectory", []):
        os.makedirs(f"/var/lib/{d}", mode=0o750, exist_ok=True)
    argv = expand(keys["ExecStart"][0], env)
    mounts, priv, applied, skipped = sandbox(keys)
    # One process throughout (unshare, sh, ip netns exec and setpriv each exec the next):
    # the pid started is the service's.
    script = "set -e; mount --make-rprivate /; " + "; ".join(f"{{ {m}; }} || true" for m in mounts) + \
        '; exec ip netns exec "$0" setpriv ' + " ".join(priv) + ' -- "$@"'
    wrapped = ["unshare", "-m", "sh", "-c", script, netns] + argv
    sock_path = tempfile.mktemp(prefix="notify-", dir="/run")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(0.2)
    child_env = dict(os.environ, NOTIFY_SOCKET=sock_path, **env)
    with open(log, "a", buffering=1) as out:
        out.write("hardening: applied " + ", ".join(applied) + "\n")
        out.write("hardening: not emulated (seccomp) " + ", ".join(skipped) + "\n")
        p = subprocess.Popen(wrapped, env=child_env, stdout=open(log + ".out", "w"), stderr=subprocess.STDOUT)
        out.write(f"started {p.pid}\n")
        while p.poll() is None:
            try:
                msg = s.recv(4096).decode()
                for line in msg.splitlines():
                    out.write(line + "\n")
            except socket.timeout:
                pass
        try:  # what came just before the end
            s.settimeout(0)
            while True:
                for line in s.recv(4096).decode().splitlines():
                    out.write(line + "\n")
        except OSError:
            pass
        out.write(f"exit {p.returncode}\n")
    os.unlink(sock_path)


def reload(unit, pid):
    keys = service_section(unit)
    for cmd in keys.get("ExecReload", []):
        subprocess.run(expand(cmd, {"MAINPID": pid}), check=True)


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(*sys.argv[2:5])
    elif sys.argv[1] == "reload":
        reload(*sys.argv[2:4])
    else:
        sys.exit(__doc__)
