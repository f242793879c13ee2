#!/usr/bin/env python3
"""clang-tidy over source files, skipping those it already found clean in the same form.

A file's verdict depends only on the translation unit clang-tidy sees (the file with every header
it includes, as preprocessed with its compile flags), the .clang-tidy configuration and the
clang-tidy version. That is the cache key: a clean result is remembered as an empty file named by
the key's SHA-256 under $XDG_CACHE_HOME/nimble/tidy (or ~/.cache/...). Findings are never cached.
Run from the repository's root (scripts/lint.sh does); paths inside it are keyed relative to it.

    tidy_cached.py BUILD_DIR FILE...        exit 1 when clang-tidy reports anything
"""
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def preprocess_command(entry):
    """The compile command of compile_commands.json with -E instead of compiling to an object."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-Werror"):
            continue
        out.append(a)
    return out + ["-E", "-P", "-o", "-"]


def main():
    build, files = sys.argv[1], sys.argv[2:]
    entries = {os.path.realpath(e["file"]): e for e in json.load(open(os.path.join(build, "compile_commands.json")))}
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True, check=True).stdout
    config = open(".clang-tidy", "rb").read()
    root = os.getcwd().encode()
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nimble", "tidy")
    os.makedirs(cache, exist_ok=True)

    def check(path):
        entry = entries.get(os.path.realpath(path))
        key = None
        if entry:
            pre = subprocess.run(preprocess_command(entry), cwd=entry["directory"], capture_output=True)
            if pre.returncode == 0:
                # The checkout's own path (in __FILE__ and the build's definitions) is not part of the
                # verdict: a clone elsewhere (CI's) shares the cache.
                text = pre.stdout.replace(root, b"<root>")
                h = hashlib.sha256(version.encode() + config + os.path.relpath(path).encode() + b"\0" + text)
                key = os.path.join(cache, h.hexdigest())
                if os.path.exists(key):
                    return path, "", True
        r = subprocess.run(["clang-tidy", "-p", build, "--quiet", path], capture_output=True, text=True)
        if r.returncode == 0:  # .clang-tidy makes every warning an error
            if key:
                open(key, "w").close()
            return path, "", False
        return path, (r.stdout + r.stderr).strip() or f"{path}: clang-tidy exited {r.returncode}", False

    failed, cached = 0, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for path, findings, hit in pool.map(check, files):
            cached += hit
            if findings:
                failed += 1
                print(findings)
    print(f"clang-tidy: {len(files)} files, {cached} unchanged since a clean run, {failed} with findings",
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
