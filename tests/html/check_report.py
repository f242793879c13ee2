#!/usr/bin/env python3
"""Opens the `nimble optimize` HTML page in headless Chromium and fails on what a reader would see go wrong.

    check_report.py REPORT.html OUT.png REPORT.json   # exit 0, or 1 with one line saying why
    check_report.py --self-test                        # proves the check still catches console errors

Fails when the page logs a console error or an uncaught exception, loads anything (the page must be
self-contained), lacks one chart point per candidate or one bar per stage of REPORT.json, or when the
1200 px wide screenshot is missing or empty. Standard library only; Debian's `chromium` package.

Chromium (156) logs every console message of an ordinary page at INFO level, console.error included:
    [pid:tid:time:INFO:CONSOLE:1] "x", source: file:///page.html (1)
so the log alone cannot tell an error from a log line. The check therefore loads a copy of the page
with a small script first in <head> that re-logs console.error calls and failed or external loads
with a "CONSOLE-ERROR" prefix; uncaught exceptions already log as "Uncaught ...".
"""
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

TIMEOUT_S = 60
PRELUDE = """<script>(function () {
  var report = function (what) { console.log('CONSOLE-ERROR ' + what); };
  console.error = function () { report(Array.prototype.map.call(arguments, String).join(' ')); };
  window.addEventListener('error', function (e) {
    if (e.target && e.target !== window) report('failed to load ' + (e.target.src || e.target.href || e.target.tagName));
  }, true);
  window.addEventListener('load', function () {
    performance.getEntriesByType('resource').forEach(function (r) {
      if (r.name.indexOf('data:') !== 0) report('fetched ' + r.name + ' (the page must be self-contained)');
    });
  });
})();</script>"""


class CheckFailed(Exception):
    pass


def chromium(args, profile):
    exe = os.environ.get("CHROMIUM", "chromium")
    if not shutil.which(exe):
        raise CheckFailed(f"{exe} not found (apt-get install --no-install-recommends chromium)")
    # A fresh profile per run (parallel runs would fight over one); no host resolves, so nothing can be fetched.
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", *args]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"chromium did not finish in {TIMEOUT_S} s")
    errors = [line.strip() for line in run.stderr.splitlines()
              if ("CONSOLE" in line and "ERROR" in line) or "Uncaught" in line]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CheckFailed(f"console error: {errors[0]}{more}")
    if run.returncode != 0:
        last = run.stderr.strip().splitlines()[-1:] or ["no output"]
        raise CheckFailed(f"chromium exited with {run.returncode}: {last[0]}")
    return run.stdout


class Marks(html.parser.HTMLParser):
    """The chart elements of the dumped DOM: data-id of each .point, data-stage of each .bar."""

    def __init__(self):
        super().__init__()
        self.points, self.bars = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "point" in classes:
            self.points.append(a.get("data-id"))
        if "bar" in classes:
            self.bars.append(a.get("data-stage"))

    handle_startendtag = handle_starttag


def png_size(path):
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise CheckFailed(f"no screenshot: {path} is missing or empty")
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


def differ(what, got, want):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want), key=str)
    return (f"{len(got)} {what}, expected {len(want)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(map(str, extra))}" if extra else ""))


def check(page, png, ids, stages):
    """Returns a one-line summary; raises CheckFailed with one line."""
    page, png = os.path.abspath(page), os.path.abspath(png)
    with open(page, encoding="utf-8") as f:
        text = f.read()
    with tempfile.TemporaryDirectory(prefix="check_report.") as tmp:
        # The copy lives alone in a temporary directory, so a relative link to a file beside the page fails too.
        m = re.search(r"<head[^>]*>", text, re.I) or re.search(r"<html[^>]*>", text, re.I)
        at = m.end() if m else 0
        probe = os.path.join(tmp, "page.html")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(text[:at] + PRELUDE + text[at:])
        dom = chromium(["--dump-dom", "file://" + probe], os.path.join(tmp, "profile-dom"))
        if os.path.exists(png):
            os.remove(png)
        chromium([f"--screenshot={png}", "--window-size=1200,2400", "file://" + page], os.path.join(tmp, "profile-png"))
    marks = Marks()
    marks.feed(dom)
    if sorted(marks.points, key=str) != sorted(ids):
        raise CheckFailed("chart points: " + differ("points", marks.points, ids))
    if sorted(marks.bars, key=str) != sorted(stages):
        raise CheckFailed("stage bars: " + differ("bars", marks.bars, stages))
    width, height = png_size(png)
    return f"{len(ids)} points, {len(stages)} bars, no console errors, screenshot {png} ({width}x{height})"


def self_test():
    """The check must fail on each broken page and pass on the clean one: if Chromium changes how it logs
    console messages, this fails instead of the real check silently passing."""
    body = '<svg><circle class="point" data-id="a"/><rect class="bar" data-stage="s"/></svg>'
    pages = {
        "clean": ("", True),
        "console.error": ("<script>console.error('boom')</script>", False),
        "script error": ("<script>no_such_function()</script>", False),
        "rejected promise": ("<script>Promise.reject(new Error('no'))</script>", False),
        "missing file": ('<img src="missing.png">', False),
        "external load": ('<img src="http://example.com/x.png">', False),
    }
    failures = []
    with tempfile.TemporaryDirectory(prefix="check_report_self_test.") as tmp:
        for name, (extra, should_pass) in pages.items():
            page = os.path.join(tmp, "page.html")
            with open(page, "w") as f:
                f.write(f"<!DOCTYPE html><html><head><meta charset=utf-8></head><body>{body}{extra}</body></html>")
            try:
                check(page, os.path.join(tmp, "page.png"), ["a"], ["s"])
                passed, why = True, ""
            except CheckFailed as e:
                passed, why = False, str(e)
            print(f"self-test {name}: {'passed' if passed else 'failed: ' + why}")
            if passed != should_pass:
                failures.append(name)
    if failures:
        raise CheckFailed("self-test: the check got these pages wrong: " + ", ".join(failures))
    return f"self-test: {len(pages)} pages judged as expected"


def main(argv):
    try:
        if argv == ["--self-test"]:
            print(self_test())
            return 0
        if len(argv) != 3:
            print("usage: check_report.py REPORT.html OUT.png REPORT.json | --self-test", file=sys.stderr)
            return 2
        page, png, report = argv
        with open(report, encoding="utf-8") as f:
            r = json.load(f)
        ids = [c["id"] for c in r.get("candidates") or []]
        stages = [s["name"] for s in r.get("stages") or []]
        print("ok: " + check(page, png, ids, stages))
        return 0
    except (CheckFailed, OSError, ValueError, KeyError) as e:
        print(f"check_report: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
