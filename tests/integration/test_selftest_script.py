# SPDX-License-Identifier: MIT
"""dnslab-selftest.sh, the POSIX sh form of the customer self-test, under dash and bash against
the lab resolver on loopback: every check and verdict, the schema, that `dnslab-probe selftest
diff` finds its report equal to the binary's, the machines with fewer tools (nslookup and
openssl s_client only, curl only), interception, a dead transport, redaction, bad usage, and no
bashisms (shellcheck -s sh). Loopback only."""
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import unittest

import harness
from test_selftest import (CATEGORY_NAMES, LAB_UPSTREAM, POLICY_ARGS, SCHEMA, by_id,
                           closed_tcp_port, have_ipv6, validate)

SCRIPT = os.path.join(harness.ROOT, "probes/selftest/dnslab-selftest.sh")
SHELLS = ["dash", "bash"]


class SelftestScriptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get("DNSLAB_SANITIZED") == "1":
            # The script is shell: the sanitized pass adds nothing here that the selftest suite
            # does not cover (the same lab resolver, every transport), at two minutes.
            raise unittest.SkipTest("shell script; the plain pass tests it")
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-selftest-sh-")
        cls.v6 = have_ipv6()
        listen = ["udp://127.0.0.1:0", "tcp://127.0.0.1:0", "tls://127.0.0.1:0",
                  "https://127.0.0.1:0/dns-query"]
        if cls.v6:
            listen += ["udp://[::1]:0", "tcp://[::1]:0"]
        cls.lab = harness.Resolver(listen=tuple(listen), upstream=(LAB_UPSTREAM,))
        cls.endpoints = ["udp4", "tcp4", "dot", "doh-h2", "doh-h1"] + (["udp6", "tcp6"]
                                                                       if cls.v6 else [])
        cls.resolv_conf = os.path.join(cls.tmp, "resolv.conf")
        with open(cls.resolv_conf, "w") as f:
            f.write("nameserver 198.18.0.77\nnameserver 2001:db8:ffff::77\nsearch corp.example\n")
        # The binary's report of the same lab, for `selftest diff`.
        cls.binary_report = os.path.join(cls.tmp, "binary", "report.json")
        harness.run([harness.PROBE, "selftest", "--lab", cls.lab.ready, "--quiet", "--out",
                     os.path.dirname(cls.binary_report), "--resolv-conf", cls.resolv_conf],
                    timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def script(self, shell, name, *args, tools=None, expect_rc=None, lab=True):
        out = os.path.join(self.tmp, f"{name}-{shell}")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.tmp}
        if tools is not None:
            env["DNSLAB_SELFTEST_TOOLS"] = tools
        cmd = [shell, SCRIPT]
        if lab:
            cmd += ["--lab", self.lab.ready, "--out", out, "--resolv-conf", self.resolv_conf]
        started = time.monotonic()
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                           env=env, cwd=self.tmp)
        elapsed = time.monotonic() - started
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc, f"{shell}: {p.stdout}\n{p.stderr}")
        report = None
        if lab and os.path.exists(os.path.join(out, "report.json")):
            with open(os.path.join(out, "report.json")) as f:
                report = json.load(f)
        return p, report, out, elapsed

    def diff_with_binary(self, script_report_dir, *extra):
        return subprocess.run([harness.PROBE, "selftest", "diff", self.binary_report,
                               os.path.join(script_report_dir, "report.json"), *extra],
                              capture_output=True, text=True, timeout=20)

    def test_every_check_with_its_verdict_under_dash_and_bash(self):
        with open(SCHEMA) as f:
            schema = json.load(f)
        for shell in SHELLS:
            with self.subTest(shell=shell):
                p, report, out, _ = self.script(shell, "full", "--no-color", expect_rc=0)
                validate(report, schema)
                self.assertEqual(report["tool"], {"name": "dnslab-selftest.sh", "version": "0.1.0",
                                                  "kind": "script"})
                self.assertEqual(report["profile"], "lab")
                checks = by_id(report)
                for e in self.endpoints:
                    self.assertEqual(checks["reachability." + e]["verdict"], "pass",
                                     checks["reachability." + e])
                for e in ["dot", "doh"]:
                    c = checks["tls." + e]
                    self.assertEqual(c["verdict"], "pass", c)
                    self.assertIn(c["data"]["protocol"], ("TLSv1.2", "TLSv1.3"))
                    self.assertTrue(c["data"]["trusted"])
                    self.assertTrue(c["data"]["name_match"])
                    self.assertFalse(c["data"]["interception"])
                    self.assertIn("dnslab lab CA", c["data"]["issuer"])
                    self.assertRegex(c["data"]["chain"][0]["sha256"], r"^[0-9a-f]{64}$")
                    self.assertRegex(c["data"]["chain"][0]["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                ident = checks["interception.identity"]
                self.assertEqual(ident["verdict"], "pass", ident)
                for e in self.endpoints:
                    self.assertEqual(ident["data"]["identity"][e], ['"dnslab"'])
                self.assertEqual(checks["interception.answers"]["verdict"], "pass")
                for n in CATEGORY_NAMES:
                    c = checks[f"policy.{n}.testcategory.com"]
                    self.assertEqual(c["verdict"], "info", c)
                    self.assertEqual(c["data"]["classification"], "allowed")
                    self.assertEqual(set(c["data"]["outcomes"]), set(self.endpoints))
                self.assertEqual(checks["features.edns"]["data"]["udp_size"], 1232)
                tcp = checks["features.tcp-fallback"]
                self.assertEqual(tcp["verdict"], "pass", tcp)
                self.assertTrue(tcp["data"]["udp"]["tc"])
                self.assertEqual(tcp["data"]["tcp"]["records"], 40)
                self.assertEqual(checks["features.dnssec-ad"]["verdict"], "not_applicable")
                ede = checks["features.ede"]
                self.assertEqual(ede["verdict"], "pass", ede)
                self.assertEqual(ede["data"]["endpoints"]["udp4"]["rcode"], "SERVFAIL")
                clock = checks["local.clock"]
                self.assertEqual(clock["verdict"], "pass", clock)
                self.assertLessEqual(abs(clock["data"]["offset_s"]), 2)
                self.assertEqual(checks["local.resolv-conf"]["data"]["nameservers"],
                                 ["198.18.0.77", "2001:db8:ffff::77"])
                self.assertEqual(report["summary"]["fail"], 0)
                self.assertEqual(report["exit_code"], 0)
                self.assertIn("Verdict: OK", p.stdout)
                self.assertIn("selftest [1/7]", p.stderr)
                with tarfile.open(out + ".tar.gz", "r:gz") as tar:
                    self.assertEqual(sorted(tar.getnames()),
                                     ["dnslab-selftest/report.json",
                                      "dnslab-selftest/report.md", "dnslab-selftest/summary.txt"])
                    self.assertEqual(json.load(tar.extractfile("dnslab-selftest/report.json")), report)
                # The binary and the script see the same lab: diff finds nothing.
                d = self.diff_with_binary(out)
                self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
                self.assertIn("reports agree", d.stdout)
                # The HTML report reads the script's report.json too.
                page = os.path.join(out, "report.html")
                s = subprocess.run([harness.PROBE, "selftest", "show", os.path.join(out, "report.json"),
                                    "--html", page, "--no-color"], capture_output=True, text=True, timeout=20)
                self.assertEqual(s.returncode, 0, s.stdout + s.stderr)
                with open(page) as f:
                    html = f.read()
                self.assertIn('<p class="headline ok" id="headline">Verdict: <span class="good">OK</span>', html)
                self.assertIn("<td>reachability.udp4</td>", html)

    def test_nslookup_and_openssl_only_say_what_they_could_not_run(self):
        # A Mac-like machine: no dig/kdig with TLS, so DoT goes through openssl s_client
        # (under bash too in the dead-transport test below).
        for shell in ["dash"]:
            with self.subTest(shell=shell):
                _, report, out, _ = self.script(shell, "nslookup", "--quiet",
                                                tools="nslookup,curl,openssl", expect_rc=0)
                checks = by_id(report)
                for e in self.endpoints:
                    self.assertEqual(checks["reachability." + e]["verdict"], "pass",
                                     checks["reachability." + e])
                self.assertEqual(checks["reachability.dot"]["data"]["tool"], "openssl")
                self.assertEqual(report["local"]["tools"]["dot_client"], "openssl")
                tcp = checks["features.tcp-fallback"]
                self.assertEqual(tcp["verdict"], "skipped")
                self.assertIn("nslookup", tcp["detail"])
                # Every policy name came back over the one pipelined s_client connection.
                malware = checks["policy.malware.testcategory.com"]["data"]["outcomes"]["dot"]
                self.assertEqual(malware["classification"], "allowed", malware)
                self.assertEqual(checks["interception.identity"]["verdict"], "pass")
                # The diff's one line per difference is in its --json (the text is a table).
                lines = json.loads(self.diff_with_binary(out, "--json").stdout)["differences"]
                self.assertEqual(lines, ["features.tcp-fallback: pass -> skipped (A: UDP answer "
                                         "truncated (TC), TCP returned all 40 records; B: needs "
                                         "dig or kdig (nslookup does not show the TC bit))"])

    def test_curl_only(self):
        _, report, _, _ = self.script("dash", "curl-only", "--quiet", tools="curl", expect_rc=0)
        checks = by_id(report)
        self.assertEqual(checks["reachability.udp4"]["verdict"], "skipped")
        self.assertIn("needs dig, kdig or nslookup", checks["reachability.udp4"]["detail"])
        self.assertEqual(checks["tls.dot"]["verdict"], "skipped")
        self.assertIn("needs openssl", checks["tls.dot"]["detail"])
        self.assertEqual(checks["reachability.doh-h2"]["verdict"], "pass")
        self.assertEqual(checks["interception.answers"]["verdict"], "skipped")
        self.assertEqual(checks["policy.malware.testcategory.com"]["data"]["classification"],
                         "allowed")

    def test_interception_and_a_dead_transport(self):
        other = harness.Resolver(listen=("tls://127.0.0.1:0",), upstream=(LAB_UPSTREAM,))
        try:
            _, port = other.addr("tls")
            _, report, _, _ = self.script("dash", "intercept", "--quiet", "--dot",
                                          f"127.0.0.1:{port}", expect_rc=1)
        finally:
            other.__exit__(None, None, None)
        dot = by_id(report)["tls.dot"]
        self.assertEqual(dot["verdict"], "fail", dot)
        self.assertTrue(dot["data"]["interception"])
        self.assertFalse(dot["data"]["expected_issuer_match"])
        self.assertEqual(by_id(report)["reachability.dot"]["verdict"], "fail")
        self.assertEqual(by_id(report)["tls.doh"]["verdict"], "pass")

        dead = closed_tcp_port()
        # With s_client for DoT and no timeout(1): the watcher path that bounds a dead peer.
        for tools in ("nslookup,curl,openssl",):
            with self.subTest(tools=tools):
                _, report, _, elapsed = self.script("bash", "dead", "--quiet", "--timeout", "1500",
                                                    "--dot", f"127.0.0.1:{dead}", tools=tools,
                                                    expect_rc=1)
                checks = by_id(report)
                self.assertEqual(checks["reachability.dot"]["verdict"], "fail")
                self.assertEqual(checks["tls.dot"]["verdict"], "fail")
                self.assertFalse(checks["tls.dot"]["data"]["connected"])
                self.assertEqual(checks["reachability.udp4"]["verdict"], "pass")
                self.assertNotIn("dot", checks["policy.malware.testcategory.com"]["data"]["outcomes"])
                self.assertLess(elapsed, 40, "a dead transport stalled the script")

    def test_redaction(self):
        p, report, out, _ = self.script("dash", "redacted", "--redact", expect_rc=0)
        self.assertTrue(report["redacted"])
        with tarfile.open(out + ".tar.gz", "r:gz") as tar:
            texts = {n: tar.extractfile(n).read().decode() for n in tar.getnames()
                     if n.endswith((".json", ".md", ".txt"))}
        host = socket.gethostname()
        for name, text in list(texts.items()) + [("stdout", p.stdout)]:
            self.assertNotIn("198.18.0.77", text, name)
            self.assertNotIn("2001:db8:ffff::77", text, name)
            if len(host) > 2:
                self.assertNotIn(host, text, name)
        rc = by_id(report)["local.resolv-conf"]["data"]["nameservers"]
        self.assertEqual(len(rc), 2)
        self.assertRegex(rc[0], r"^<ipv4-\d+>$")  # numbered with this machine's own addresses
        self.assertRegex(rc[1], r"^<ipv6-\d+>$")
        self.assertIn("127.0.0.1", texts["dnslab-selftest/report.json"])

    def test_classification_of_blocks_matches_the_binary(self):
        # The sample Gateway policy: block page, 0.0.0.0 block, allow list over category.
        lab = harness.Resolver(*POLICY_ARGS, listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                                     "https://127.0.0.1:0/dns-query"),
                               upstream=(LAB_UPSTREAM,))
        try:
            names = ["--name", "blocked.example.com", "--name", "login.testcategory.com"]
            bin_out = os.path.join(self.tmp, "policy-binary")
            harness.run([harness.PROBE, "selftest", "--lab", lab.ready, "--quiet", "--out", bin_out,
                         "--resolv-conf", self.resolv_conf, *names], timeout=60)
            sh_out = os.path.join(self.tmp, "policy-sh")
            p = subprocess.run(["dash", SCRIPT, "--lab", lab.ready, "--quiet", "--out", sh_out,
                                "--resolv-conf", self.resolv_conf, *names],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            lab.__exit__(None, None, None)
        with open(os.path.join(sh_out, "report.json")) as f:
            checks = by_id(json.load(f))
        self.assertEqual(checks["policy.malware.testcategory.com"]["data"]["classification"],
                         "blockpage")
        self.assertEqual(checks["policy.blocked.example.com"]["data"]["classification"], "blocked")
        self.assertEqual(checks["policy.blocked.example.com"]["data"]["outcomes"]["udp4"]["labels"],
                         ["sinkhole"])
        self.assertEqual(checks["policy.login.testcategory.com"]["data"]["classification"],
                         "allowed")
        d = subprocess.run([harness.PROBE, "selftest", "diff", os.path.join(bin_out, "report.json"),
                            os.path.join(sh_out, "report.json")], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(d.returncode, 0, d.stdout)

    def test_usage_errors_exit_2_and_help_speaks_to_the_customer(self):
        for shell in SHELLS:
            with self.subTest(shell=shell):
                p, _, _, _ = self.script(shell, "none", lab=False, expect_rc=2)
                self.assertIn("name your resolver", p.stderr)
                p, _, _, _ = self.script(shell, "bad", "--frobnicate", lab=False, expect_rc=2)
                self.assertIn("unknown option --frobnicate", p.stderr)
                p, _, _, _ = self.script(shell, "noready", "--lab",
                                         os.path.join(self.tmp, "no-such"), lab=False, expect_rc=2)
                self.assertIn("ready file", p.stderr)
                p, _, _, _ = self.script(shell, "help", "--help", lab=False, expect_rc=0)
                self.assertIn("What it sends, and to whom", p.stdout)
                self.assertIn("attach that file to your ticket", p.stdout)

    def test_posix_sh_without_bashisms(self):
        for shell in ["dash", "bash"]:
            p = subprocess.run([shell, "-n", SCRIPT], capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
        if shutil.which("shellcheck") is None:
            self.skipTest("shellcheck is not installed (scripts/bootstrap installs it)")
        # -S warning: errors and warnings fail the test; SC3xxx are the non-POSIX constructs.
        p = subprocess.run(["shellcheck", "-s", "sh", "-S", "warning", SCRIPT],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)


if __name__ == "__main__":
    harness.main()
