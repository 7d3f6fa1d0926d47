# SPDX-License-Identifier: MIT
"""dnslab-probe selftest against the lab resolver on loopback: every check with its verdict,
TLS interception by a foreign CA, a dead transport, redaction, the bundle and its schema,
expectation files, report diff. Loopback only."""
import email.utils
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import unittest

import harness
from test_probe import start_peer  # peers without a ready file (dnsdist, Unbound)

PROBE = harness.PROBE
SCHEMA = os.path.join(harness.ROOT, "fixtures/selftest/report.schema.json")
LAB_EXPECT = os.path.join(harness.ROOT, "fixtures/selftest/lab-expect.toml")
# The documented lab upstream: fixture zones plus one name that answers SERVFAIL with EDE.
LAB_UPSTREAM = "fixture:" + harness.ZONES + "?fault=servfail.example.com:malformed"
CATEGORY_NAMES = ["anonymizer", "commandandcontrolandbotnet", "compromiseddomain", "cryptomining",
                  "malware", "newdomains", "parkedandforsaledomains", "phishing",
                  "potentiallyunwantedsoftware", "privateipaddress", "spam", "spyware", "unreachable",
                  "nudity"]


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def closed_tcp_port():
    """A loopback TCP port nobody listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- a small JSON Schema validator (the subset report.schema.json uses) --------------------
def validate(instance, schema, root=None, path="$"):
    """Raises AssertionError naming the path of the first violation."""
    root = root if root is not None else schema
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        return validate(instance, target, root, path)
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    t = schema.get("type")
    if t == "integer":
        assert isinstance(instance, int) and not isinstance(instance, bool), f"{path}: not an integer"
    elif t == "number":
        assert isinstance(instance, (int, float)) and not isinstance(instance, bool), f"{path}: not a number"
    elif t is not None:
        assert isinstance(instance, types[t]), f"{path}: not {t}"
    if "const" in schema:
        assert instance == schema["const"], f"{path}: {instance!r} != {schema['const']!r}"
    if "enum" in schema:
        assert instance in schema["enum"], f"{path}: {instance!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], instance), f"{path}: {instance!r} !~ {schema['pattern']}"
    if "minimum" in schema:
        assert instance >= schema["minimum"], f"{path}: below minimum"
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            assert key in instance, f"{path}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                validate(instance[key], sub, root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            validate(item, schema["items"], root, f"{path}[{i}]")


# RFC 9110 §5.6.7 IMF-fixdate.
HTTP_DATE = (r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
             r"\d{4} \d\d:\d\d:\d\d GMT$")


def selftest(*args, timeout=60):
    return subprocess.run([PROBE, "selftest", *args], capture_output=True, text=True, timeout=timeout)


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


class SelftestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-selftest-it-")
        cls.v6 = have_ipv6()
        listen = ["udp://127.0.0.1:0", "tcp://127.0.0.1:0", "tls://127.0.0.1:0",
                  "https://127.0.0.1:0/dns-query"]
        if cls.v6:
            listen += ["udp://[::1]:0", "tcp://[::1]:0"]
        cls.lab = harness.Resolver(listen=tuple(listen), upstream=(LAB_UPSTREAM,))
        cls.ca = cls.lab.ca_file()
        # A second resolver: its own --state-dir, hence its own lab CA (a foreign issuer).
        cls.other = harness.Resolver(listen=("tls://127.0.0.1:0",), upstream=(LAB_UPSTREAM,))
        cls.resolv_conf = os.path.join(cls.tmp, "resolv.conf")
        with open(cls.resolv_conf, "w") as f:
            # Addresses that look like a customer's (benchmark and documentation ranges that
            # no fixture answer contains): --redact must remove them everywhere.
            f.write("# test\nnameserver 198.18.0.77\nnameserver 2001:db8:ffff::77\nsearch corp.example\n")

    @classmethod
    def tearDownClass(cls):
        cls.other.__exit__(None, None, None)
        cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_lab(self, name, *extra, expect_rc=None):
        out = os.path.join(self.tmp, name)
        bundle = out + ".tar.gz"
        started = time.monotonic()
        p = selftest("--lab", self.lab.ready, "--out", out, "--bundle", bundle,
                     "--resolv-conf", self.resolv_conf, "--no-color", *extra)
        elapsed = time.monotonic() - started
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc, p.stdout + p.stderr)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        return p, report, bundle, elapsed

    def test_lab_every_check_with_its_verdict(self):
        p, report, bundle, _ = self.run_lab("plain", expect_rc=0)
        checks = by_id(report)
        self.assertEqual(report["schema"], "dnslab.selftest.v1")
        self.assertEqual(report["profile"], "lab")
        endpoints = ["udp4", "tcp4", "dot", "doh-h2", "doh-h1"] + (["udp6", "tcp6"] if self.v6 else [])
        for e in endpoints:
            c = checks["reachability." + e]
            self.assertEqual(c["verdict"], "pass", c)
            self.assertGreater(c["data"]["latency"]["query_ms"], 0)
        for e in ["dot", "doh"]:
            c = checks["tls." + e]
            self.assertEqual(c["verdict"], "pass", c)
            self.assertIn(c["data"]["protocol"], ("TLSv1.2", "TLSv1.3"))
            self.assertTrue(c["data"]["trusted"])
            self.assertTrue(c["data"]["name_match"])
            self.assertFalse(c["data"]["interception"])
            self.assertIn("dnslab lab CA", c["data"]["issuer"])
            self.assertGreaterEqual(len(c["data"]["chain"]), 1)
        ident = checks["interception.identity"]
        self.assertEqual(ident["verdict"], "pass", ident)
        self.assertEqual(set(ident["data"]["identity"]), set(endpoints))
        for e in endpoints:
            self.assertEqual(ident["data"]["identity"][e], ['"dnslab"'])
        self.assertEqual(checks["interception.answers"]["verdict"], "pass")
        for n in CATEGORY_NAMES:
            c = checks[f"policy.{n}.testcategory.com"]
            self.assertEqual(c["verdict"], "info", c)  # no expectation: reported, not judged
            self.assertEqual(c["data"]["classification"], "allowed")
            self.assertEqual(set(c["data"]["outcomes"]), set(endpoints))
        self.assertEqual(checks["features.edns"]["verdict"], "pass")
        self.assertEqual(checks["features.edns"]["data"]["udp_size"], 1232)
        tcp = checks["features.tcp-fallback"]
        self.assertEqual(tcp["verdict"], "pass", tcp)
        self.assertTrue(tcp["data"]["udp"]["tc"])
        self.assertEqual(tcp["data"]["tcp"]["records"], 40)
        self.assertEqual(checks["features.dnssec-ad"]["verdict"], "not_applicable")
        ede = checks["features.ede"]
        self.assertEqual(ede["verdict"], "pass", ede)
        self.assertEqual(ede["data"]["endpoints"]["udp4"]["rcode"], "SERVFAIL")
        self.assertTrue(ede["data"]["endpoints"]["udp4"]["ede"])
        # The lab's DoH answers carry an RFC 9110 Date: the clock hint is measured, not N/A.
        clock = checks["local.clock"]
        self.assertEqual(clock["verdict"], "pass", clock)
        self.assertRegex(clock["data"]["http_date"], HTTP_DATE)
        self.assertLessEqual(abs(clock["data"]["offset_s"]), 2, clock)
        rc = checks["local.resolv-conf"]
        self.assertEqual(rc["verdict"], "info")
        self.assertEqual(rc["data"]["nameservers"], ["198.18.0.77", "2001:db8:ffff::77"])
        self.assertIn(checks["local.systemd-resolved"]["verdict"], ("info", "not_applicable"))
        self.assertEqual(checks["local.system"]["verdict"], "info")
        self.assertEqual(report["summary"]["fail"], 0)
        self.assertEqual(report["exit_code"], 0)
        self.assertIn("Verdict: OK", p.stdout)
        self.assertIn("selftest [1/7]", p.stderr)  # progress on stderr

        # The bundle unpacks and its report validates against the schema.
        with tarfile.open(bundle, "r:gz") as tar:
            names = tar.getnames()
            self.assertEqual(sorted(names), ["dnslab-selftest/report.html", "dnslab-selftest/report.json",
                                             "dnslab-selftest/report.md", "dnslab-selftest/summary.txt"])
            packed = json.load(tar.extractfile("dnslab-selftest/report.json"))
            md = tar.extractfile("dnslab-selftest/report.md").read().decode()
        with open(SCHEMA) as f:
            schema = json.load(f)
        validate(packed, schema)
        self.assertEqual(packed, report)
        self.assertIn("| PASS | `tls.dot`", md)
        # Per check: rcode, answer and the reason in words; no raw JSON anywhere.
        self.assertIn("| PASS | `reachability.udp4` Reachability over udp4 | NOERROR | 192.0.2.10 | "
                      "answered NOERROR in", md)
        self.assertIn("| PASS | `features.tcp-fallback` Large answer: TC over UDP, then TCP | NOERROR | "
                      "40 TXT records over TCP, TC over UDP |", md)
        self.assertNotIn("```json", md)
        self.assertNotIn('{"', md)
        self.assertIn(f"Attach {bundle} to the ticket", p.stdout)
        # The validator itself must be able to fail.
        broken = dict(packed, profile="office")
        with self.assertRaises(AssertionError):
            validate(broken, schema)

    def test_doh_responses_carry_date_over_h2_and_http1(self):
        # RFC 9110 §6.6.1: every answer of the DoH listener, success or error, carries Date;
        # the self-test reads it over HTTP/1.1, so HTTP/2 is checked here with curl.
        _, port = self.lab.addr("https")
        query = "AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE"  # example.com A, ID 0 (RFC 8484 §4.1)
        for http in ("--http2", "--http1.1"):
            for path, status in ((f"/dns-query?dns={query}", 200), ("/elsewhere", 404)):
                with self.subTest(http=http, path=path):
                    before = time.time()
                    p = subprocess.run(["curl", "-sS", http, "--cacert", self.ca, "--max-time", "10",
                                        "-D", "-", "-o", "/dev/null", f"https://127.0.0.1:{port}{path}"],
                                       capture_output=True, text=True, timeout=20)
                    after = time.time()
                    self.assertEqual(p.returncode, 0, p.stderr)
                    head = p.stdout.splitlines()
                    self.assertIn(f" {status}", head[0])
                    self.assertTrue(head[0].startswith("HTTP/2" if http == "--http2" else "HTTP/1.1"), head[0])
                    dates = [l.split(":", 1)[1].strip() for l in head if l.lower().startswith("date:")]
                    self.assertEqual(len(dates), 1, p.stdout)
                    self.assertRegex(dates[0], HTTP_DATE)
                    sent = email.utils.parsedate_to_datetime(dates[0]).timestamp()
                    self.assertGreaterEqual(sent, int(before) - 1)
                    self.assertLessEqual(sent, after + 1)

    def test_interception_foreign_ca_on_dot(self):
        _, other_port = self.other.addr("tls")
        p, report, _, _ = self.run_lab("intercept", "--dot", f"127.0.0.1:{other_port}",
                                       "--expected-issuer", self.ca, expect_rc=1)
        checks = by_id(report)
        dot = checks["tls.dot"]
        self.assertEqual(dot["verdict"], "fail", dot)
        self.assertTrue(dot["data"]["interception"])
        self.assertFalse(dot["data"]["expected_issuer_match"])
        self.assertTrue(dot["data"]["connected"])
        self.assertIn("expected issuer", dot["detail"])
        # The foreign chain is described, fingerprints differ from the genuine DoH chain.
        doh = checks["tls.doh"]
        self.assertEqual(doh["verdict"], "pass")
        self.assertNotEqual(dot["data"]["chain"][0]["sha256"], doh["data"]["chain"][0]["sha256"])
        # The DoT exchange itself is refused by certificate verification.
        self.assertEqual(checks["reachability.dot"]["verdict"], "fail")
        self.assertIn("FAIL", p.stdout)

    def test_dead_transport_fails_without_stalling(self):
        dead = closed_tcp_port()
        p, report, _, elapsed = self.run_lab("dead", "--dot", f"127.0.0.1:{dead}", "--timeout", "1500",
                                             expect_rc=1)
        checks = by_id(report)
        self.assertEqual(checks["reachability.dot"]["verdict"], "fail")
        self.assertEqual(checks["tls.dot"]["verdict"], "fail")
        self.assertEqual(checks["reachability.udp4"]["verdict"], "pass")
        self.assertEqual(checks["reachability.doh-h2"]["verdict"], "pass")
        # Later checks skip the dead endpoint instead of waiting for it.
        self.assertNotIn("dot", checks["policy.malware.testcategory.com"]["data"]["outcomes"])
        self.assertEqual(checks["features.tcp-fallback"]["verdict"], "pass")
        self.assertLess(elapsed, 15, "a dead transport stalled the self-test")
        # The verdict names what failed; the end says what to attach.
        self.assertIn("Verdict: PROBLEMS FOUND in reachability.dot, tls.dot (see the FAIL lines)", p.stdout)
        self.assertIn("Attach " + os.path.join(self.tmp, "dead.tar.gz") + " to the ticket", p.stdout)

    def test_redaction(self):
        _, report, bundle, _ = self.run_lab("redacted", "--redact", expect_rc=0)
        self.assertTrue(report["redacted"])
        with tarfile.open(bundle, "r:gz") as tar:
            texts = {n: tar.extractfile(n).read().decode() for n in tar.getnames()}
        host = socket.gethostname()
        for name, text in texts.items():
            self.assertNotIn("198.18.0.77", text, name)
            self.assertNotIn("2001:db8:ffff::77", text, name)
            if len(host) > 2:
                self.assertNotIn(host, text, name)
        rc = by_id(report)["local.resolv-conf"]["data"]["nameservers"]
        self.assertEqual(len(rc), 2)
        self.assertTrue(all(re.fullmatch(r"<ipv[46]-\d+>", a) for a in rc), rc)
        # Loopback endpoints are not the customer's: they stay readable.
        self.assertIn("127.0.0.1", texts["dnslab-selftest/report.json"])
        # report.html is rendered from the redacted report: the placeholders are text there,
        # never markup (redacting the rendered page would have put <ipv4-1> tags into it).
        page = texts["dnslab-selftest/report.html"]
        self.assertIn("nameservers: &lt;ipv4-", page)
        self.assertNotRegex(page, r"<ipv[46]-")

    def test_expectation_file_pass_and_fail(self):
        _, report, _, _ = self.run_lab("expect-ok", "--expect", LAB_EXPECT, expect_rc=0)
        c = by_id(report)["policy.malware.testcategory.com"]
        self.assertEqual(c["verdict"], "pass", c)
        self.assertEqual(c["data"]["expect"], "allowed")
        bad = os.path.join(self.tmp, "bad-expect.toml")
        with open(bad, "w") as f:
            f.write('[[case]]\nname = "malware.testcategory.com"\nexpect = "blocked"\n')
        _, report, _, _ = self.run_lab("expect-bad", "--expect", bad, expect_rc=1)
        c = by_id(report)["policy.malware.testcategory.com"]
        self.assertEqual(c["verdict"], "fail", c)
        self.assertTrue(c["data"]["failures"])
        self.assertEqual(c["data"]["classification"], "allowed")

    def test_customer_names(self):
        _, report, _, _ = self.run_lab("names", "--name", "www.example.com", "--name", "nope.example.com",
                                       expect_rc=0)
        checks = by_id(report)
        self.assertEqual(checks["policy.www.example.com"]["data"]["classification"], "allowed")
        # NXDOMAIN everywhere is an answer, not a block.
        self.assertEqual(checks["policy.nope.example.com"]["data"]["classification"], "allowed")

    def test_diff_reports(self):
        self.run_lab("diff-a", expect_rc=0)
        _, other_port = self.other.addr("tls")
        self.run_lab("diff-b", "--dot", f"127.0.0.1:{other_port}", "--expected-issuer", self.ca, expect_rc=1)
        a = os.path.join(self.tmp, "diff-a", "report.json")
        b = os.path.join(self.tmp, "diff-b", "report.json")
        same = subprocess.run([PROBE, "selftest", "diff", a, a], capture_output=True, text=True, timeout=20)
        self.assertEqual(same.returncode, 0, same.stdout + same.stderr)
        self.assertIn("reports agree", same.stdout)
        d = subprocess.run([PROBE, "selftest", "diff", a, b, "--json"], capture_output=True, text=True, timeout=20)
        self.assertEqual(d.returncode, 1, d.stdout + d.stderr)
        lines = json.loads(d.stdout)["differences"]
        self.assertTrue(any(l.startswith("tls.dot: pass -> fail") for l in lines), lines)
        self.assertTrue(any(l.startswith("reachability.dot: pass -> fail") for l in lines), lines)
        checks = {c["check"]: c for c in json.loads(d.stdout)["checks"]}
        self.assertTrue(checks["tls.dot"]["before"].startswith("pass: TLSv1"), checks["tls.dot"])
        self.assertTrue(checks["tls.dot"]["after"].startswith("fail: certificate chain"))
        # For people: a table check / before / after, short lines, no JSON.
        t = subprocess.run([PROBE, "selftest", "diff", a, b], capture_output=True, text=True, timeout=20)
        self.assertEqual(t.returncode, 1)
        rows = t.stdout.splitlines()
        self.assertTrue(any(re.match(r"^check\s+before\s+after$", r) for r in rows), t.stdout)
        self.assertTrue(any(re.match(r"^tls\.dot\s+pass: TLSv1.*\s+fail: certificate chain", r) for r in rows),
                        t.stdout)
        self.assertTrue(all(len(r) < 200 for r in rows), t.stdout)
        self.assertNotIn("{", t.stdout)

    def test_cannot_run_exits_2(self):
        p = selftest("--lab", os.path.join(self.tmp, "no-such-ready"), "--out", os.path.join(self.tmp, "x"))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("ready file", p.stderr)  # named explicitly: the file is the problem
        p = subprocess.run([PROBE, "selftest", "diff", self.resolv_conf, self.resolv_conf],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2)

    def test_name_checks_switch_off(self):
        _, report, _, _ = self.run_lab("off", "--large-name", "", "--error-name", "", "--signed-name", "",
                                       expect_rc=0)
        checks = by_id(report)
        self.assertEqual(checks["features.tcp-fallback"]["verdict"], "skipped")
        self.assertEqual(checks["features.tcp-fallback"]["detail"], "switched off (--large-name '')")
        self.assertEqual(checks["features.ede"]["verdict"], "skipped")
        self.assertEqual(checks["features.ede"]["detail"], "switched off (--error-name '')")
        self.assertEqual(checks["features.dnssec-ad"]["verdict"], "skipped")

    def test_no_arguments_without_a_ready_file_says_how_to_run(self):
        env = dict(os.environ, DNSLAB_READY_FILE=os.path.join(self.tmp, "no-lab-here.ready"))
        p = subprocess.run([PROBE, "selftest"], capture_output=True, text=True, timeout=20, env=env,
                           cwd=self.tmp)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("dnslab-selftest --location SUB", p.stderr)
        self.assertIn("https://SUB.cloudflare-gateway.com/dns-query", p.stderr)
        self.assertIn("SUB.cloudflare-gateway.com (DoT)", p.stderr)
        self.assertNotIn("cannot read lab ready file", p.stderr)
        self.assertEqual(os.listdir(self.tmp).count("dnslab-selftest"), 0)  # nothing written

    def test_plain_dns_answered_by_another_resolver_is_a_fail(self):
        # Unbound on the plain DNS path, forwarding to the lab: same answers, but its own
        # identity. DoT and DoH still reach the lab (its CA): plain DNS is intercepted.
        def unbound(port):
            conf = os.path.join(self.tmp, "unbound-ident.conf")
            with open(conf, "w") as f:
                f.write(UNBOUND_IDENTITY_CONF.format(port=port, tmp=self.tmp, lab=self.lab.addr("udp")[1]))
            return ["unbound", "-d", "-c", conf], port

        peer, port = start_peer(unbound, self.tmp)
        try:
            p, report, _, _ = self.run_lab("identity", "--ipv4", f"127.0.0.1:{port}", expect_rc=1)
        finally:
            peer.stop()
        checks = by_id(report)
        ident = checks["interception.identity"]
        self.assertEqual(ident["verdict"], "fail", ident)  # never a mere warning
        self.assertEqual(ident["data"]["identity"]["udp4"], ['"resolver-on-the-path"'])
        self.assertEqual(ident["data"]["identity"]["dot"], ['"dnslab"'])
        self.assertIn("intercepted or redirected", ident["detail"])
        self.assertEqual(checks["interception.answers"]["verdict"], "pass")
        self.assertIn("Verdict: PROBLEMS FOUND in interception.identity", p.stdout)

    def test_wrapper_script_passes_through(self):
        wrapper = os.path.join(harness.ROOT, "probes/selftest/dnslab-selftest")
        out = os.path.join(self.tmp, "wrapper")
        env = dict(os.environ, DNSLAB_PROBE=PROBE)
        p = subprocess.run([wrapper, "--lab", self.lab.ready, "--out", out, "--quiet", "--json",
                            "--resolv-conf", self.resolv_conf], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(json.loads(p.stdout)["schema"], "dnslab.selftest.v1")
        self.assertEqual(p.stderr, "")  # --quiet: no progress line
        self.assertTrue(os.path.exists(out + ".tar.gz"))


UNBOUND_IDENTITY_CONF = harness.UNBOUND_SERVER + """  hide-identity: no
  identity: "resolver-on-the-path"
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{lab}
"""

# A lab whose zones hold nothing but the reach name: none of the optional names (the large
# TXT answer, the error name, the category test names) is served.
BARE_ZONE = """$ORIGIN example.com.
$TTL 300
@ IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@ IN NS ns1.example.com.
ns1 IN A 192.0.2.53
www IN A 192.0.2.10
"""

# Gateway's answer to a source address that is no location's: REFUSED, for every name.
DNSDIST_REFUSE_CONF = """setSecurityPollSuffix("")
setLocal("127.0.0.1:{port}")
addAction(AllRule(), RCodeAction(DNSRCode.REFUSED))
"""


class SelftestFalseVerdicts(unittest.TestCase):
    """Issue 13: no false FAIL on a lab without the optional names, no false PASS from a
    resolver that refuses."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-selftest-verdicts-")
        zones = os.path.join(cls.tmp, "zones")
        os.makedirs(zones)
        with open(os.path.join(zones, "example.com.zone"), "w") as f:
            f.write(BARE_ZONE)
        cls.lab = harness.Resolver(listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                           "https://127.0.0.1:0/dns-query"),
                                   upstream=("fixture:" + zones,))
        cls.resolv_conf = os.path.join(cls.tmp, "resolv.conf")
        with open(cls.resolv_conf, "w") as f:
            f.write("nameserver 198.18.0.77\n")

    @classmethod
    def tearDownClass(cls):
        cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_selftest(self, name, *args):
        out = os.path.join(self.tmp, name)
        p = selftest(*args, "--out", out, "--resolv-conf", self.resolv_conf, "--no-color", "--timeout", "1500")
        with open(os.path.join(out, "report.json")) as f:
            return p, by_id(json.load(f))

    def test_names_the_lab_does_not_serve_are_skipped(self):
        p, checks = self.run_selftest("bare", "--lab", self.lab.ready)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        tcp = checks["features.tcp-fallback"]
        self.assertEqual(tcp["verdict"], "skipped", tcp)
        self.assertTrue(tcp["detail"].startswith("big.example.com is not served by this resolver (NXDOMAIN)"),
                        tcp)
        ede = checks["features.ede"]
        self.assertEqual(ede["verdict"], "skipped", ede)
        self.assertTrue(ede["detail"].startswith("servfail.example.com is not served by this resolver "
                                                 "(NXDOMAIN)"), ede)
        for c in checks.values():
            self.assertNotEqual(c["verdict"], "fail", c)
        self.assertIn("Verdict: OK", p.stdout)

    def test_refusing_resolver_is_a_failure_with_the_explanation(self):
        def dnsdist(port):
            conf = os.path.join(self.tmp, "dnsdist-refuse.conf")
            with open(conf, "w") as f:
                f.write(DNSDIST_REFUSE_CONF.format(port=port))
            return ["dnsdist", "--supervised", "--disable-syslog", "-C", conf], port

        peer, port = start_peer(dnsdist, self.tmp)
        try:
            p, checks = self.run_selftest("refused", "--ipv4", f"127.0.0.1:{port}")
        finally:
            peer.stop()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        for e in ("udp4", "tcp4"):
            c = checks["reachability." + e]
            self.assertEqual(c["verdict"], "fail", c)
            self.assertEqual(c["data"]["rcode"], "REFUSED")
            self.assertIn("this source IP is not a Gateway location?", c["detail"])
        malware = checks["policy.malware.testcategory.com"]
        self.assertEqual(malware["data"]["classification"], "refused", malware)
        self.assertEqual(malware["detail"], "resolver refused (not a Gateway location?) on udp4, tcp4")
        self.assertNotIn("blocked", malware["detail"])
        # Nothing is judged against a resolver that refused: no false interception.
        self.assertEqual(checks["interception.answers"]["verdict"], "skipped")
        self.assertIn("Verdict: PROBLEMS FOUND in reachability.udp4, reachability.tcp4", p.stdout)


# The sample Gateway export (fixtures/policy/README.md): rule 100 allows the corporate list
# (login.testcategory.com included), rule 200 blocks security categories 21/32 with the block
# page, rule 300 blocks the "Blocked domains" list without it.
POLICY_ARGS = ("--rules", os.path.join(harness.ROOT, "fixtures/policy/rules.json"),
               "--lists", os.path.join(harness.ROOT, "fixtures/policy/lists.json"),
               "--locations", os.path.join(harness.ROOT, "fixtures/policy/locations.json"),
               "--categories", os.path.join(harness.ROOT, "fixtures/categories/categories.csv"))
BLOCK_PAGE = ["162.159.36.12", "162.159.46.12"]
# Category test names whose fixture category has parent 21 (security threats) or 32
# (security risks); the other two are content categories (161 Unreachable, 125 Nudity).
SECURITY_NAMES = [n for n in CATEGORY_NAMES if n not in ("unreachable", "nudity")]


class SelftestPolicyTest(unittest.TestCase):
    """The self-test against the lab with the sample Gateway policy loaded, every transport."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-selftest-policy-")
        cls.lab = harness.Resolver(*POLICY_ARGS, listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                                         "https://127.0.0.1:0/dns-query"),
                                   upstream=(LAB_UPSTREAM,))
        cls.resolv_conf = os.path.join(cls.tmp, "resolv.conf")
        with open(cls.resolv_conf, "w") as f:
            f.write("nameserver 198.18.0.77\n")

    @classmethod
    def tearDownClass(cls):
        cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_lab(self, name, *extra, expect_rc):
        out = os.path.join(self.tmp, name)
        p = selftest("--lab", self.lab.ready, "--out", out, "--resolv-conf", self.resolv_conf, "--no-color", *extra)
        self.assertEqual(p.returncode, expect_rc, p.stdout + p.stderr)
        with open(os.path.join(out, "report.json")) as f:
            return p, by_id(json.load(f))

    def assert_outcome(self, check, classification, answer):
        self.assertEqual(check["data"]["classification"], classification, check)
        self.assertEqual(set(check["data"]["outcomes"]), set(ENDPOINTS), check)
        for endpoint, o in check["data"]["outcomes"].items():
            with self.subTest(check=check["id"], endpoint=endpoint):
                self.assertEqual(o["classification"], classification, o)
                self.assertEqual(o["rcode"], "NOERROR", o)
                self.assertEqual(sorted(o["answer"]), sorted(answer), o)

    def test_outcomes_per_transport(self):
        p, checks = self.run_lab("outcomes", "--name", "www.example.com", "--name", "blocked.example.com",
                                 "--name", "login.testcategory.com", expect_rc=0)
        for e in ENDPOINTS:
            self.assertEqual(checks["reachability." + e]["verdict"], "pass", checks["reachability." + e])
        for n in SECURITY_NAMES:
            c = checks[f"policy.{n}.testcategory.com"]
            self.assertEqual(c["verdict"], "info", c)  # no expectation: reported, transports agree
            self.assert_outcome(c, "blockpage", BLOCK_PAGE)
        # Content categories are not blocked by the sample: their fixture addresses come back.
        self.assert_outcome(checks["policy.unreachable.testcategory.com"], "allowed", ["192.0.2.123"])
        self.assert_outcome(checks["policy.nudity.testcategory.com"], "allowed", ["192.0.2.124"])
        self.assert_outcome(checks["policy.www.example.com"], "allowed", ["192.0.2.10"])
        # Block without the block page: 0.0.0.0. Allow list (precedence 100) beats the
        # phishing category block (200).
        self.assert_outcome(checks["policy.blocked.example.com"], "blocked", ["0.0.0.0"])
        self.assert_outcome(checks["policy.login.testcategory.com"], "allowed", ["192.0.2.131"])
        self.assertIn("blockpage on udp4, tcp4, dot, doh-h2, doh-h1", checks["policy.malware.testcategory.com"]["detail"])
        self.assertIn("Verdict: OK", p.stdout)
        # The resolver saw the blocks as policy decisions, not upstream answers.
        rec = self.lab.wait_record(lambda r: r.get("QueryName", "").rstrip(".") == "malware.testcategory.com")
        self.assertEqual(rec["ResolverDecision"], "blockedByCategory", rec)
        self.assertEqual(rec["PolicyName"], "Block security threats", rec)

    def test_expectations_judge_the_outcomes(self):
        good = os.path.join(self.tmp, "policy-expect.toml")
        with open(good, "w") as f:
            f.write('[[case]]\nname = "malware.testcategory.com"\nexpect = "blockpage"\n\n'
                    '[[case]]\nname = "newdomains.testcategory.com"\nexpect = "blockpage"\n\n'
                    '[[case]]\nname = "blocked.example.com"\nexpect = "blocked"\n\n'
                    '[[case]]\nname = "www.example.com"\nexpect = "allowed"\n')
        _, checks = self.run_lab("expect-policy", "--expect", good, expect_rc=0)
        for name, cls in (("malware.testcategory.com", "blockpage"), ("newdomains.testcategory.com", "blockpage"),
                          ("blocked.example.com", "blocked"), ("www.example.com", "allowed")):
            c = checks["policy." + name]
            self.assertEqual(c["verdict"], "pass", c)
            self.assertEqual(c["data"]["expect"], cls)
            self.assertEqual(c["data"]["classification"], cls)
        # The plain lab's expectations (every name allowed at its fixture address) fail here.
        p, checks = self.run_lab("expect-plain", "--expect", LAB_EXPECT, expect_rc=1)
        c = checks["policy.malware.testcategory.com"]
        self.assertEqual(c["verdict"], "fail", c)
        self.assertEqual(c["data"]["classification"], "blockpage")
        self.assertTrue(c["data"]["failures"])
        self.assertIn("FAIL", p.stdout)


ENDPOINTS = ["udp4", "tcp4", "dot", "doh-h2", "doh-h1"]

if __name__ == "__main__":
    harness.main()
