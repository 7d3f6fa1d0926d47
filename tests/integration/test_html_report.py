# SPDX-License-Identifier: MIT
"""The HTML report looked at in a real browser: headless Chromium (Debian package chromium)
renders the pages dnslab-probe writes for the matrix, `check`, `selftest` (report.html, also in
the bundle), `selftest diff` and `replay` against lab resolvers on loopback. A screenshot is
taken and its pixels checked for the verdict colours; the DOM Chromium built (--dump-dom) is
read for the verdicts. A hostile TXT record and a hostile target name must come out as text.

Chromium runs with a throwaway profile and HOME, every host name mapped to NOTFOUND and a dead
loopback proxy for anything it would fetch on its own (component updates), so nothing leaves
the machine; --no-sandbox only as root, where Chromium's sandbox cannot start."""
import html.parser
import json
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import unittest
import zlib

import harness
from harness import PROBE, ROOT, main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-headless-shell")
# In CI (and under scripts/lab test, which runs scripts/bootstrap first) a missing Chromium is
# a failure, not a skip: the HTML report must be looked at in a browser.
IN_CI = os.environ.get("DNSLAB_CI") == "1" or os.environ.get("CI", "") not in ("", "0", "false")
WINDOW = (1200, 1600)

HOSTILE_TXT = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
HOSTILE_TARGET = "<b>evil</b>"
ANSWERS = f"""\
evil.example.org     TXT  "{HOSTILE_TXT}"
www.example.org      A    203.0.113.7
blocked.example.org  A    0.0.0.0
"""
# The second resolver disagrees about www.example.org.
OTHER_ANSWERS = """\
evil.example.org     TXT  "something else"
www.example.org      A    198.51.100.9
blocked.example.org  A    0.0.0.0
"""
QUESTIONS = "evil.example.org TXT\nwww.example.org A\nblocked.example.org A\n"

# The badge colours of the page's stylesheet (probes/report/html.cpp).
GREEN, RED, PURPLE = (0x1A, 0x7F, 0x37), (0xCF, 0x22, 0x2E), (0x82, 0x50, 0xDF)


def probe(*args, timeout=120):
    # replay starts the lab resolver itself: the one under test.
    return subprocess.run([PROBE, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, DNSLAB_RESOLVER=harness.RESOLVER))


def chromium(*args, timeout=90):
    with tempfile.TemporaryDirectory(prefix="dnslab-chromium-") as home:
        cmd = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--user-data-dir=" + os.path.join(home, "profile"),
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-default-apps",
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]
        if os.geteuid() == 0:
            cmd.append("--no-sandbox")
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=home)


def png_pixels(path):
    """(width, height, set of RGB pixels) of an 8-bit RGB or RGBA PNG (RFC 2083), unfiltered."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack("!IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        for x in range(0, stride, bpp):
            colours.add(tuple(line[x:x + 3]))
        prev = line
    return width, height, colours


class Dom(html.parser.HTMLParser):
    """The parts of the DOM the tests read: every element with its attributes, the page
    title, the text of each verdict row (badges and cells), and the whole text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.rows, self.text, self.title = [], [], [], ""
        self._stack, self._row, self._cell, self._badge = [], None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        self._stack.append(tag)
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and self._in("table") and "verdicts" in self._table_class:
            self._row = {"badges": [], "cells": []}
        elif tag == "td" and self._row is not None:
            self._cell = ""
        if "badge" in classes and self._row is not None:
            self._badge = ""
        if tag == "table":
            self._table_class = attrs.get("class") or ""

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop() != tag:
            pass
        if tag == "span" and self._badge is not None:
            self._row["badges"].append(self._badge.strip().lower())
            self._badge = None
        elif tag == "td" and self._cell is not None:
            self._row["cells"].append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row["cells"]:  # not the header row
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._stack and self._stack[-1] == "title" and "svg" not in self._stack:
            self.title += data
        if self._badge is not None:
            self._badge += data
        if self._cell is not None:
            self._cell += data

    _table_class = ""

    def _in(self, tag):
        return tag in self._stack

    def row(self, name):
        for r in self.rows:
            if name in r["cells"]:
                return r
        raise AssertionError(f"no verdict row for {name!r} in {self.rows}")

    def all_text(self):
        return "".join(self.text)


@unittest.skipUnless(CHROMIUM or IN_CI, "chromium not installed (scripts/bootstrap installs it)")
class HtmlInChromium(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CHROMIUM:
            raise AssertionError("chromium is missing: scripts/bootstrap installs it")
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-html-it-")
        answers = os.path.join(cls.tmp, "answers.txt")
        with open(answers, "w") as f:
            f.write(ANSWERS)
        other = os.path.join(cls.tmp, "other.txt")
        with open(other, "w") as f:
            f.write(OTHER_ANSWERS)
        cls.questions = os.path.join(cls.tmp, "questions.txt")
        with open(cls.questions, "w") as f:
            f.write(QUESTIONS)
        cls.lab = harness.Resolver(
            listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0", "https://127.0.0.1:0/dns-query"),
            upstream=("fixture:" + harness.ZONES + "?answers=" + answers + "&ra=1",))
        cls.other = harness.Resolver(
            upstream=("fixture:" + harness.ZONES + "?answers=" + other + "&ra=1",))

    @classmethod
    def tearDownClass(cls):
        for r in (cls.lab, cls.other):
            r.stop()
            shutil.rmtree(r.tmp, ignore_errors=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def lab_targets(self):
        host, port = self.lab.addr("udp")
        return ["--target", f"{HOSTILE_TARGET}=udp://{host}:{port}",
                "--target", self.lab.url("tcp"), "--target", self.lab.url("tls"),
                "--target", self.lab.url("https"), "--ca", self.lab.ca_file()]

    def look(self, page, shot):
        """Chromium's DOM of `page`, after checking that it rendered a screenshot of it."""
        p = chromium(f"--window-size={WINDOW[0]},{WINDOW[1]}", "--screenshot=" + shot,
                     "file://" + page)
        self.assertTrue(os.path.isfile(shot), p.stdout + p.stderr)
        self.assertGreater(os.path.getsize(shot), 10000, "a near-empty screenshot")
        width, height, colours = png_pixels(shot)
        self.assertEqual((width, height), WINDOW)
        self.assertGreater(len(colours), 50, "the screenshot is (nearly) one colour")
        p = chromium("--dump-dom", "file://" + page)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("</html>", p.stdout)
        return Dom(p.stdout), colours

    def assert_inert(self, dom):
        """Nothing in the DOM can run or fetch."""
        tags = {t for t, _ in dom.elements}
        for tag in ("script", "img", "iframe", "object", "embed", "link", "base", "form"):
            self.assertNotIn(tag, tags)
        for tag, attrs in dom.elements:
            for a in attrs:
                self.assertFalse(a.startswith("on"), (tag, attrs))
                self.assertNotIn(a, ("src", "href", "srcset", "action", "formaction", "poster"), (tag, attrs))

    def test_matrix_page_shows_verdicts_colours_answers_and_latency(self):
        page = os.path.join(self.tmp, "matrix.html")
        host, port = self.other.addr("udp")
        p = probe(*self.lab_targets(), "--target", f"other=udp://{host}:{port}", "--repeat", "3",
                  # TTLs age in the lab's cache between exchanges: not a difference here.
                  "--ttl-tolerance", "30", "-f", self.questions, "--no-color", "--html", page)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # the other resolver differs
        dom, colours = self.look(page, os.path.join(self.tmp, "matrix.png"))
        self.assert_inert(dom)
        self.assertEqual(dom.title, "dnslab-probe")  # the TXT's script never ran
        self.assertEqual(dom.row("www.example.org A")["badges"], ["differ"])
        self.assertEqual(dom.row("evil.example.org TXT")["badges"], ["differ"])
        self.assertEqual(dom.row("blocked.example.org A")["badges"], ["identical", "blocked"], p.stdout)
        text = dom.all_text()
        self.assertIn("3 questions: 1 identical, 0 equivalent, 2 differ", text)
        # The hostile TXT data and target name are text on the page, in the answers per class.
        self.assertIn(HOSTILE_TXT, text)
        self.assertIn(HOSTILE_TARGET + ", tcp@", text)
        self.assertIn("198.51.100.9", text)
        self.assertIn("203.0.113.7", text)
        # The latency chart: per target a query bar (p95 light behind p50); connect bars for
        # tls and https (the Do53 client, c-ares, times no TCP connect; UDP has none).
        def bars(cls):
            return len([a for t, a in dom.elements if t == "rect" and a.get("class") == cls])
        self.assertEqual(bars("q95"), 5)
        self.assertEqual(bars("q50"), 5 + 1)  # and one in the legend
        self.assertEqual(bars("c95"), 2)
        self.assertIn("connect", text)
        self.assertIn("latency per target over 3 questions and 3 passes (pass 1 cold)", text)
        # The colours on screen: differ red, identical green, blocked purple.
        for colour in (RED, GREEN, PURPLE):
            self.assertIn(colour, colours)

    def test_check_page_shows_pass_and_fail_per_case(self):
        cases = os.path.join(self.tmp, "cases.toml")
        with open(cases, "w") as f:
            f.write('[[case]]\nid = "sinkholed"\nname = "blocked.example.org"\nexpect = "blocked"\n\n'
                    '[[case]]\nid = "wrong on purpose"\nname = "www.example.org"\nanswer = ["192.0.2.1"]\n')
        page = os.path.join(self.tmp, "check.html")
        p = probe("check", cases, *self.lab_targets(), "--html", page, "--no-color")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        dom, colours = self.look(page, os.path.join(self.tmp, "check.png"))
        self.assert_inert(dom)
        # cells: badges, group (the case id), name (the target), detail
        rows = [r for r in dom.rows if r["cells"][1] == "sinkholed"]
        self.assertEqual(len(rows), 4, dom.rows)
        self.assertTrue(all(r["badges"] == ["pass", "blocked"] for r in rows), rows)
        wrong = [r for r in dom.rows if r["cells"][1] == "wrong on purpose"]
        self.assertEqual(len(wrong), 4)
        self.assertTrue(all(r["badges"] == ["fail"] for r in wrong), wrong)
        self.assertIn(HOSTILE_TARGET, [r["cells"][2] for r in wrong])
        self.assertIn("4 passed, 4 failed", dom.all_text())
        self.assertIn(RED, colours)

    def test_selftest_bundle_html_and_diff_page(self):
        out = os.path.join(self.tmp, "st")
        bundle = out + ".tar.gz"
        extra = os.path.join(self.tmp, "selftest-extra.html")
        p = probe("selftest", "--lab", self.lab.ready, "--out", out, "--bundle", bundle, "--quiet",
                  "--no-color", "--html", extra)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        page = os.path.join(out, "report.html")
        with tarfile.open(bundle, "r:gz") as tar:
            self.assertIn("dnslab-selftest/report.html", tar.getnames())
            packed = tar.extractfile("dnslab-selftest/report.html").read().decode()
        with open(page) as f:
            self.assertEqual(f.read(), packed)
        with open(extra) as f:
            self.assertEqual(f.read(), packed)
        # A report read back renders the same page.
        shown = os.path.join(self.tmp, "shown.html")
        p = probe("selftest", "show", os.path.join(out, "report.json"), "--html", shown, "--no-color")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("Verdict: OK", p.stdout)
        with open(shown) as f:
            self.assertEqual(f.read(), packed)
        dom, colours = self.look(page, os.path.join(self.tmp, "selftest.png"))
        self.assert_inert(dom)
        self.assertEqual(dom.title, "dnslab self-test report")
        for check in ("reachability.udp4", "reachability.tcp4", "reachability.dot",
                      "reachability.doh-h2", "tls.dot", "interception.identity"):
            self.assertEqual(dom.row(check)["badges"], ["pass"], check)
        self.assertEqual(dom.row("reachability.udp6")["badges"], ["skipped"])
        text = dom.all_text()
        self.assertIn("Verdict: OK", text)
        self.assertIn("Latency", text)
        self.assertIn(GREEN, colours)

        # selftest diff: the same report with one check failed.
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        for c in report["checks"]:
            if c["id"] == "tls.dot":
                c["verdict"], c["detail"] = "fail", "certificate issued by <i>Evil CA</i>"
        changed = os.path.join(self.tmp, "changed.json")
        with open(changed, "w") as f:
            json.dump(report, f)
        diff_page = os.path.join(self.tmp, "diff.html")
        p = probe("selftest", "diff", os.path.join(out, "report.json"), changed, "--html", diff_page,
                  "--no-color")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        dom, _ = self.look(diff_page, os.path.join(self.tmp, "diff.png"))
        self.assert_inert(dom)
        row = dom.row("tls.dot")
        self.assertEqual(row["badges"], ["differ"])
        self.assertIn("fail: certificate issued by <i>Evil CA</i>", row["cells"][-1])
        self.assertIn("1 differences", dom.all_text())

    def test_replay_page(self):
        scen = os.path.join(ROOT, "fixtures/scenarios/doh-only-block")
        log = os.path.join(scen, "gateway_dns.jsonl")
        # Through a child resolver the lab is asked over the wire: a latency chart per protocol.
        page = os.path.join(self.tmp, "replay.html")
        p = probe("replay", log, "--scenario", scen, "--child-resolver", "--html", page)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        dom, colours = self.look(page, os.path.join(self.tmp, "replay.png"))
        self.assert_inert(dom)
        self.assertGreater(len(dom.rows), 1)
        self.assertTrue(all(r["badges"][0] == "pass" for r in dom.rows), dom.rows)
        self.assertTrue(any("blocked" in r["badges"] for r in dom.rows), dom.rows)
        text = dom.all_text()
        self.assertIn("0 disagree", text)
        self.assertIn("the lab's latency per protocol over the replayed records", text)
        self.assertEqual(len([a for t, a in dom.elements if t == "rect" and a.get("class") == "q95"]), 4)
        self.assertIn(PURPLE, colours)
        # In process nothing crosses a wire: the same verdicts, no chart.
        page = os.path.join(self.tmp, "replay-in-process.html")
        p = probe("replay", log, "--scenario", scen, "--html", page)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        inproc, _ = self.look(page, os.path.join(self.tmp, "replay-in-process.png"))
        self.assertEqual(inproc.rows, dom.rows)
        self.assertIn("asked in process", inproc.all_text())
        self.assertFalse(any(t == "svg" for t, _ in inproc.elements))

if __name__ == "__main__":
    main()
