#!/usr/bin/env python3
"""Every file path README.md, docs/ and bench/HISTORY.md name, and every one a code
comment names, must exist in the tree.

Checked: markdown link targets (relative to the page) and, inside `code spans`, words
that are repository paths (their first part is a top-level entry: lib/..., test/...,
scripts/...) or source file names (worker.h, lab.sh: some file of that name must exist).
A `file:line` reference must name a line the file has. Generated places (build*/,
bench/results/), absolute paths (installed files), URLs and placeholders (<x>, *, $X)
and installed commands (dpdk-telemetry.py) are not paths of the tree. In code (lib/, src/, test/, scripts/, bench/) the comments are
read the same way (#include lines are not comments). Exit 1 with each missing path and where it was named.
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATED = ("build/", "build-san/", "build-fuzz/", "build-cg/", "bench/results/")
SOURCE_EXT = (".h", ".cpp", ".sh", ".py", ".md", ".build", ".json", ".in")


def tree_files():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout.split("\n")
        return [f for f in out if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file but builds
        found = []
        for d, subdirs, names in os.walk(ROOT):
            subdirs[:] = [s for s in subdirs if not s.startswith((".", "build"))]
            found += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
        return found


def pages():
    found = ["README.md", "bench/HISTORY.md"]
    for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if name.endswith(".md"):
            found.append("docs/" + name)
    return found


def line_count(path):
    with open(os.path.join(ROOT, path), errors="replace") as f:
        return sum(1 for _ in f)


def main():
    files = tree_files()
    names = {os.path.basename(f) for f in files}
    dirs = {os.path.dirname(f) for f in files}
    everything = set(files)
    for d in list(dirs):
        while d:
            everything.add(d)
            d = os.path.dirname(d)
    top = {f.split("/")[0] for f in files}
    missing = []
    checked = 0

    def exists(rel):
        rel = rel.rstrip("/")
        return rel in everything or os.path.exists(os.path.join(ROOT, rel))

    for page in pages():
        text = open(os.path.join(ROOT, page)).read()
        for lineno, line in enumerate(text.split("\n"), 1):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue
                rel = os.path.normpath(os.path.join(os.path.dirname(page), target.split("#")[0]))
                checked += 1
                if not exists(rel):
                    missing.append(f"{page}:{lineno}: link {target}")
            for span in re.findall(r"`([^`]+)`", line):
                for word in span.split():
                    word = word.strip(",;()'\"").rstrip(".")
                    if not word or re.search(r"[<>*${}…|=]", word) or word.startswith(("/", "-", "http", "~")):
                        continue
                    m = re.match(r"^([A-Za-z0-9_.+/-]+?)(?::(\d+)(?:-\d+)?)?$", word)
                    if not m:
                        continue
                    path, at_line = m.group(1), m.group(2)
                    if path.startswith(GENERATED):
                        continue
                    if "/" in path and path.split("/")[0] in top:
                        checked += 1
                        if not exists(path):
                            missing.append(f"{page}:{lineno}: {word}")
                        elif at_line and os.path.isfile(os.path.join(ROOT, path)) and int(at_line) > line_count(path):
                            missing.append(f"{page}:{lineno}: {word} (the file has {line_count(path)} lines)")
                    elif "/" not in path and path.endswith(SOURCE_EXT) and not path.startswith("."):
                        checked += 1
                        if path not in names and not shutil.which(path): # a command, not a file of the tree
                            missing.append(f"{page}:{lineno}: {word} (no file of that name)")
    for f in files:
        if not f.startswith(("lib/", "src/", "test/", "scripts/", "bench/")) or f.endswith((".md", ".png", ".jsonl")):
            continue
        try:
            text = open(os.path.join(ROOT, f)).read()
        except (UnicodeDecodeError, OSError):
            continue
        for lineno, line in enumerate(text.split("\n"), 1):
            if line.lstrip().startswith("#include") or line.startswith("#!"):
                continue
            m = re.search(r"(?://|#)(.*)$", line)
            if not m:
                continue
            for word in re.findall(r"[A-Za-z0-9_./+-]+\.(?:h|cpp|sh|py|md|build|json)\b", m.group(1)):
                if re.search(r"[A-Z]{3,}", word):  # a placeholder (NAME.sh)
                    continue
                checked += 1
                if "/" in word and word.split("/")[0] in top:
                    if not exists(word):
                        missing.append(f"{f}:{lineno}: {word}")
                elif "/" not in word and word not in names and not shutil.which(word):
                    missing.append(f"{f}:{lineno}: {word} (no file of that name)")
    for m in missing:
        print("missing:", m)
    print(f"paths named: {checked} checked in {len(pages())} pages and the code's comments, {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
