#!/usr/bin/env python3
"""Drive `fulcrum -i` through a pseudo-terminal like an operator at a keyboard.

usage: pty_prompt.py SCRIPT.json -- COMMAND...
SCRIPT is a list of [keys, expected substring] pairs: the keys are typed (a TAB included
as \\t), then the output is read until the expected text appears (or 10 s pass). Prints
one line per step, "ok" or "FAIL", and exits non-zero if any step failed."""
import json
import os
import pty
import select
import sys
import time

steps = json.load(open(sys.argv[1]))
cmd = sys.argv[sys.argv.index("--") + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)

buf = b""


def read_until(text, timeout):
    global buf
    end = time.time() + timeout
    while time.time() < end:
        if text.encode() in buf:
            return True
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            buf += data
    return text.encode() in buf


failed = 0
if not read_until("fulcrum> ", 30):
    print("FAIL no prompt within 30 s:", buf.decode(errors="replace")[-2000:])
    sys.exit(1)
for keys, expect in steps:
    buf = b""
    os.write(fd, keys.encode())
    ok = read_until(expect, 10)
    failed += not ok
    shown = keys.replace("\t", "<TAB>").replace("\n", "<ENTER>")
    print(("  ok   " if ok else "  FAIL ") + f"typed {shown!r}, saw {expect!r}")
    if not ok:
        print(buf.decode(errors="replace")[-1500:])
# `quit` was the last step: the process must end.
end = time.time() + 15
status = None
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    try:
        os.read(fd, 65536)
    except OSError:
        pass
    time.sleep(0.1)
else:
    print("  FAIL fulcrum did not exit after quit")
    os.kill(pid, 9)
    failed += 1
if status is not None and os.WIFEXITED(status):
    print(f"  ok   fulcrum exited with status {os.WEXITSTATUS(status)} after quit" if os.WEXITSTATUS(status) == 0
          else f"  FAIL fulcrum exit status {os.WEXITSTATUS(status)}")
    failed += os.WEXITSTATUS(status) != 0
sys.exit(1 if failed else 0)
