# SPDX-License-Identifier: MIT
"""Every shipped reproduction scenario (fixtures/scenarios/*) and its fixed/ variant through
`dnslab-probe scenario run`, the resolver's reaction to each fault (rcode, EDE, log), exit
codes, and scenario pack/unpack with tamper detection. Loopback only."""
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unittest

from harness import PROBE, RESOLVER, ROOT, main

SCEN = os.path.join(ROOT, "fixtures/scenarios")
ENV = dict(os.environ, DNSLAB_RESOLVER=RESOLVER)


def probe(*args, timeout=120):
    return subprocess.run([PROBE, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def run_json(path, *extra):
    p = probe("scenario", "run", path, "--json", *extra)
    try:
        return p.returncode, json.loads(p.stdout), p
    except ValueError:
        raise AssertionError(f"no JSON from scenario run {path} ({p.returncode}): {p.stdout}\n{p.stderr}")


def read(path):
    with open(path) as f:
        return f.read()


def lab_lines(report, name):
    return [r for r in report["lab_log"] if r.get("QueryName") == name]


def one_line(test, report, name):
    lines = lab_lines(report, name)
    test.assertEqual(len(lines), 1, f"lab log lines for {name}: {json.dumps(report['lab_log'])}")
    return lines[0]


class ShippedScenarios(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-scen-shipped-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_reactions(self, rep, want):
        """want: name -> (RCode, EDEErrors, text in LabUpstreamError or None for no error)."""
        for name, (rcode, ede, text) in want.items():
            with self.subTest(name=name):
                line = one_line(self, rep, name)
                self.assertEqual((line["RCode"], line["EDEErrors"]), (rcode, ede))
                if text:
                    self.assertIn(text, line["LabUpstreamError"])
                else:
                    self.assertNotIn("LabUpstreamError", line)

    def test_at_least_six_scenarios_with_readme_and_fix(self):
        dirs = [d for d in sorted(os.listdir(SCEN)) if os.path.isfile(os.path.join(SCEN, d, "scenario.toml"))]
        self.assertGreaterEqual(len(dirs), 6, dirs)
        for d in dirs:
            readme = read(os.path.join(SCEN, d, "README.md"))
            self.assertIn("Reproduces", readme, d)
            self.assertTrue(os.path.isfile(os.path.join(SCEN, d, "expect.toml")), d)
            if not d.endswith("fault-matrix"):  # reference tables, not customer cases
                self.assertTrue(os.path.isfile(os.path.join(SCEN, d, "fixed", "scenario.toml")), d)

    def test_the_indexes_list_every_shipped_scenario(self):
        # fixtures/scenarios/README.md and docs/scenarios.md ("Shipped scenarios") each have a
        # table row `| \`NAME\` | ...` per folder; a folder missing from either, or a row for a
        # folder that is not there, fails.
        shipped = {d for d in os.listdir(SCEN) if os.path.isfile(os.path.join(SCEN, d, "scenario.toml"))}
        for index in (os.path.join(SCEN, "README.md"), os.path.join(ROOT, "docs/scenarios.md")):
            with self.subTest(index=index):
                text = read(index)
                if index.endswith("docs/scenarios.md"):
                    text = text.split("## Shipped scenarios", 1)[1].split("\n## ", 1)[0]
                rows = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, re.M))
                self.assertEqual(sorted(shipped - rows), [], f"scenarios missing from {index}")
                self.assertEqual(sorted(rows - shipped), [], f"rows in {index} without a folder")

    def test_every_scenario_and_fix_passes(self):
        for d in sorted(os.listdir(SCEN)):
            for variant in (d, d + "/fixed"):
                path = os.path.join(SCEN, variant)
                if not os.path.isfile(os.path.join(path, "scenario.toml")):
                    continue
                with self.subTest(scenario=variant):
                    rc, rep, p = run_json(path)
                    self.assertEqual(rc, 0, json.dumps(rep["check"]["summary"]) + p.stderr)
                    self.assertEqual(rep["exit_code"], 0)
                    self.assertGreater(len(rep["check"]["results"]), 0)
                    self.assertTrue(all(r["pass"] for r in rep["check"]["results"]))
                    # Every transport was exercised by the scenario as a whole.
                    self.assertGreaterEqual({r["transport"] for r in rep["check"]["results"]}, {"udp", "tcp", "tls"})

    def test_doh_only_block_decisions_per_transport(self):
        junit = os.path.join(self.tmp, "doh-only-block.xml")
        rc, rep, _ = run_json(os.path.join(SCEN, "doh-only-block"), "--junit", junit)
        self.assertEqual(rc, 0)
        # One JUnit test case per case and target, none failing.
        with open(junit) as f:
            xml = f.read()
        self.assertIn('<testsuite name="dnslab-probe.scenario.doh-only-block" tests="7" failures="0">', xml)
        self.assertIn('<testcase classname="HQ over UDP/TCP/DoT still resolves" name="lab-udp">', xml)
        # Where the lab put each case: the HQ network for plain DNS, the path for DoH.
        loc = {(r["case"], r["transport"]): r["location"] for r in rep["check"]["results"]}
        udp = loc[("HQ over UDP/TCP/DoT still resolves", "udp")]
        self.assertEqual(udp["attributed"]["location"], "HQ")
        self.assertEqual(udp["attributed"]["reason"], "src-network:127.0.0.0/8")
        roaming = loc[("roaming laptop (DoH subdomain) is blocked", "https-post")]
        self.assertEqual(roaming["attributed"]["reason"], "doh-path:r0am1ng3d4")
        by_proto = {}
        for r in lab_lines(rep, "app.partner.example"):
            by_proto.setdefault(r["Protocol"], set()).add(r["ResolverDecision"])
        self.assertEqual(by_proto["udp"], {"allowedOnNoPolicyMatch"})
        self.assertEqual(by_proto["tls"], {"allowedOnNoPolicyMatch"})
        self.assertIn("blockedByQueryName", by_proto["https"])

    def test_ip_block_beats_allow_is_post_resolution(self):
        rc, rep, _ = run_json(os.path.join(SCEN, "ip-block-beats-allow"), "--transports", "udp")
        self.assertEqual(rc, 0)
        line = one_line(self, rep, "cdn.partner.example")
        self.assertEqual(line["ResolverDecision"], "blockedRule")
        self.assertEqual(line["PolicyID"], "c7b20000-0000-4000-8000-000000000010")
        self.assertEqual(line["ResolvedIPs"], ["0.0.0.0"])

    def test_override_refuses_mx(self):
        rc, rep, _ = run_json(os.path.join(SCEN, "override-mx-refused"), "--transports", "tcp")
        self.assertEqual(rc, 0)
        mx = [r for r in lab_lines(rep, "www.partner.example") if r["QueryTypeName"] == "MX"]
        self.assertEqual([r["RCode"] for r in mx], [5])
        self.assertEqual(mx[0]["ResolverDecision"], "overrideApplied")

    def test_private_resolver_timeout_is_servfail_ede22_and_doh_504(self):
        rc, rep, _ = run_json(os.path.join(SCEN, "resolver-policy-timeout"))
        self.assertEqual(rc, 0)
        lines = lab_lines(rep, "wiki.corp.internal")
        self.assertTrue(lines)
        for r in lines:
            self.assertEqual(r["RCode"], 2)
            self.assertEqual(r["EDEErrors"], [22])
            self.assertEqual(r["ResolverPolicyID"], "c7d40000-0000-4000-8000-000000001000")
            self.assertIn("timed out", r["LabUpstreamError"])
        # The DoH client sees the timeout as HTTP 504 (docs/transports.md): checked here
        # because an expectation file cannot state HTTP statuses.
        rc, rep, _ = run_json(os.path.join(SCEN, "resolver-policy-timeout", "fixed"))
        self.assertEqual(rc, 0)

    def test_truncation_then_tcp_refused_is_servfail_ede23(self):
        rc, rep, _ = run_json(os.path.join(SCEN, "udp-truncation-tcp-broken"), "--transports", "udp")
        self.assertEqual(rc, 0)
        line = one_line(self, rep, "big.partner.example")
        self.assertEqual((line["RCode"], line["EDEErrors"]), (2, [23]))
        self.assertIn("connection refused", line["LabUpstreamError"])

    def test_expired_certificate_is_servfail_ede23_with_reason(self):
        rc, rep, _ = run_json(os.path.join(SCEN, "dot-expired-cert"), "--transports", "udp")
        self.assertEqual(rc, 0)
        line = one_line(self, rep, "www.partner.example")
        self.assertEqual((line["RCode"], line["EDEErrors"]), (2, [23]))
        self.assertIn("certificate has expired", line["LabUpstreamError"])
        # The EDE text the client gets names the reason too.
        res = [r for r in rep["check"]["results"] if r["transport"] == "udp"][0]
        self.assertTrue(any("expired" in e["text"] for e in res["result"]["ede"]), res["result"]["ede"])


    def test_doh_upstream_http_status_is_servfail_ede23(self):
        rc, rep, _ = run_json(os.path.join(SCEN, "doh-upstream-http-error"), "--transports", "udp")
        self.assertEqual(rc, 0)
        line = one_line(self, rep, "app.partner.example")
        self.assertEqual((line["RCode"], line["EDEErrors"]), (2, [23]))
        self.assertTrue(line["LabUpstreamError"].endswith("/dns-query: HTTP 504"), line["LabUpstreamError"])

    def test_fault_matrix_reactions_are_logged(self):
        rc, rep, p = run_json(os.path.join(SCEN, "upstream-fault-matrix"), "--transports", "udp")
        self.assertEqual(rc, 0, p.stderr)
        want = {  # name -> (RCode, EDEErrors, text in LabUpstreamError or None)
            "www.partner.example": (0, [], None),
            "drop.faults.partner.example": (2, [22], "injected drop"),
            "slow.faults.partner.example": (0, [], None),
            "servfail.faults.partner.example": (2, [], None),
            "refused.faults.partner.example": (5, [], None),
            "nxdomain.faults.partner.example": (3, [], None),
            "tc.faults.partner.example": (2, [23], "truncated answer (TC) from 127.0.0.1:"),
            "malformed.faults.partner.example": (2, [23], "malformed answer from 127.0.0.1:"),
            "wrongid.faults.partner.example": (2, [23], "answer with wrong ID from 127.0.0.1:"),
            "reset.faults.partner.example": (2, [23], "connection reset after 20 bytes"),
            "udponly.faults.partner.example": (0, [], None),
        }
        self.assert_reactions(rep, want)


    def test_recorded_answers_are_served_and_decided_on(self):
        rc, rep, p = run_json(os.path.join(SCEN, "recorded-geo-answer"), "--transports", "udp")
        self.assertEqual(rc, 0, p.stderr)
        line = one_line(self, rep, "downloads.vendor.example")
        self.assertEqual(line["ResolverDecision"], "blockedRule")
        self.assertEqual(line["PolicyName"], "Block bad hosting ranges")
        self.assertEqual(line["ResolvedIPs"], ["0.0.0.0"])  # the block answer
        rc, rep, p = run_json(os.path.join(SCEN, "recorded-geo-answer", "fixed"), "--transports", "udp")
        self.assertEqual(rc, 0, p.stderr)
        lines = [l for l in lab_lines(rep, "downloads.vendor.example") if l["QueryTypeName"] == "A"]
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["ResolverDecision"], "allowedOnNoPolicyMatch")
        self.assertEqual(lines[0]["ResolvedIPs"], ["203.0.113.66"])  # as recorded at the office

    def test_sni_filtered_dot_upstream_is_servfail_ede23_handshake(self):
        rc, rep, p = run_json(os.path.join(SCEN, "dot-sni-filtered"), "--transports", "udp")
        self.assertEqual(rc, 0, p.stderr)
        line = one_line(self, rep, "www.partner.example")
        self.assertEqual((line["RCode"], line["EDEErrors"]), (2, [23]))
        self.assertIn("TLS handshake failed: connection closed by peer", line["LabUpstreamError"])

    def test_doh_upstream_fault_matrix_reactions_are_logged(self):
        rc, rep, p = run_json(os.path.join(SCEN, "doh-upstream-fault-matrix"), "--transports", "udp")
        self.assertEqual(rc, 0, p.stderr)
        want = {  # name -> (RCode, EDEErrors, text in LabUpstreamError or None)
            "www.partner.example": (0, [], None),
            "http503.faults.partner.example": (2, [23], "/dns-query: HTTP 503"),
            "http429.faults.partner.example": (2, [23], "/dns-query: HTTP 429"),
            "rst.faults.partner.example": (2, [23], "HTTP/2 stream reset by server (INTERNAL_ERROR)"),
            "refused.faults.partner.example": (2, [23], "HTTP/2 stream reset by server (REFUSED_STREAM)"),
            "ok.faults.partner.example": (0, [], None),
        }
        self.assert_reactions(rep, want)


class RunnerBehaviour(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-scen-it-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_failed_expectation_exits_1(self):
        d = os.path.join(self.tmp, "flipped")
        shutil.copytree(os.path.join(SCEN, "override-mx-refused"), d)
        with open(os.path.join(d, "expect.toml"), "w") as f:
            f.write('[[case]]\nname = "www.partner.example"\ntype = "MX"\nlocation = "hq7x2k9m1a"\nrcode = "NOERROR"\n')
        p = probe("scenario", "run", d, "--transports", "udp", "--no-color")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("FAIL", p.stdout)

    def test_a_location_plain_dns_cannot_carry_fails_the_case(self):
        # doh-only-block's HQ owns 127.0.0.0/8: a plain DNS query from the lab's loopback is
        # HQ's whatever EDNS 65011 says, so "the roaming location over UDP" cannot be tested
        # that way. The case used to pass (allowed at HQ looked like allowed at Roaming).
        d = os.path.join(self.tmp, "roaming-udp")
        shutil.copytree(os.path.join(SCEN, "doh-only-block"), d)
        with open(os.path.join(d, "expect.toml"), "w") as f:
            f.write('[[case]]\nid = "roaming over udp"\nname = "app.partner.example"\ntransports = ["udp", "tls"]\n'
                    'location = "r0am1ng3d4"\nexpect = "allowed"\n')
        p = probe("scenario", "run", d, "--no-color")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("FAIL  roaming over udp  [lab-udp]", p.stdout)
        self.assertIn("cannot set this location over udp: the lab attributed the query to HQ "
                      "(src-network:127.0.0.0/8)", p.stdout)
        # DoT carries it (EDNS 65011): applied, and the case is judged on Roaming's answer.
        self.assertIn("PASS  roaming over udp  [lab-tls]", p.stdout)
        self.assertIn("lab location: Roaming (edns-65011:r0am1ng3d4)", p.stdout)

    def test_new_writes_a_skeleton_that_runs_green(self):
        d = os.path.join(self.tmp, "case-1234")
        p = probe("scenario", "new", d, "--description", 'app "x" fails over DoH')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(sorted(os.listdir(d)), ["README.md", "answers.txt", "expect.toml", "lists.json",
                                                 "locations.json", "rules.json", "scenario.toml"])
        self.assertIn('Reproduces: **"app "x" fails over DoH"**', read(os.path.join(d, "README.md")))
        for export in ("rules.json", "lists.json", "locations.json"):
            self.assertEqual(json.loads(read(os.path.join(d, export)))["result"], [])
        html = os.path.join(self.tmp, "case.html")
        rc, rep, p = run_json(d, "--html", html)
        self.assertEqual(rc, 0, json.dumps(rep["check"]) + p.stderr)
        self.assertEqual(rep["description"], 'app "x" fails over DoH')
        results = rep["check"]["results"]
        self.assertEqual({r["transport"] for r in results}, {"udp", "tcp", "tls", "https-get", "https-post"})
        self.assertTrue(all(r["pass"] for r in results), results)
        # The answer came from answers.txt through the fixture upstream.
        self.assertTrue(all(r["result"]["answer"][0]["rdata"] == ["203.0.113.7"] for r in results), results)
        self.assertIn('class="headline ok"', read(html))

        # The customer's case is then one edit away: a changed answer fails its case.
        with open(os.path.join(d, "answers.txt"), "w") as f:
            f.write("www.example.org A 198.51.100.1\n")
        p = probe("scenario", "run", d, "--transports", "udp", "--no-color")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)

        # A non-empty folder is refused, and left as it was.
        before = {n: read(os.path.join(d, n)) for n in os.listdir(d)}
        p = probe("scenario", "new", d)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("is not empty", p.stderr)
        self.assertEqual({n: read(os.path.join(d, n)) for n in os.listdir(d)}, before)
        # An empty one is taken; a file in the way is refused.
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        self.assertEqual(probe("scenario", "new", empty).returncode, 0)
        self.assertTrue(os.path.isfile(os.path.join(empty, "scenario.toml")))
        p = probe("scenario", "new", os.path.join(d, "README.md"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("not a directory", p.stderr)

    def test_cannot_run_exits_2_and_leaves_nothing_running(self):
        d = os.path.join(self.tmp, "broken")
        shutil.copytree(os.path.join(SCEN, "override-mx-refused"), d)
        with open(os.path.join(d, "scenario.toml"), "a") as f:
            f.write('\n[[helper]]\nname = "x"\nupstream = ["${upstream.nosuch.udp}"]\n')
        p = probe("scenario", "run", d)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nosuch", p.stderr)
        p = probe("scenario", "run", self.tmp)  # not a scenario folder
        self.assertEqual(p.returncode, 2)

    def test_other_certificate_faults_of_a_lab_served_dot_upstream(self):
        # The dot-expired-cert scenario with the helper serving the other bad certificates.
        for cert, reason in (("wrong-name.pem", "hostname mismatch"), ("selfsigned.pem", "self-signed certificate")):
            with self.subTest(cert=cert):
                d = os.path.join(self.tmp, cert)
                shutil.copytree(os.path.join(SCEN, "dot-expired-cert"), d)
                path = os.path.join(d, "scenario.toml")
                with open(path) as f:
                    text = f.read().replace("certs/expired.pem", "certs/" + cert)
                with open(path, "w") as f:
                    f.write(text)
                rc, rep, p = run_json(d, "--transports", "udp")
                self.assertEqual(rc, 0, p.stderr)
                line = one_line(self, rep, "www.partner.example")
                self.assertEqual((line["RCode"], line["EDEErrors"]), (2, [23]))
                self.assertIn(reason, line["LabUpstreamError"])

    def test_pack_unpack_roundtrip_and_tamper(self):
        arc = os.path.join(self.tmp, "case.tar.gz")
        p = probe("scenario", "pack", os.path.join(SCEN, "dot-expired-cert"), "-o", arc)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(arc) as t:
            manifest = json.load(t.extractfile("manifest.json"))
            names = t.getnames()
        self.assertEqual(manifest["schema"], "dnslab.scenario.pack.v1")
        self.assertEqual(manifest["behaviour_source"], "policy-loaded")
        self.assertIn("gateway_domain", manifest["behaviour"])
        self.assertIn("dnslab-resolver", manifest["dnslab_version"]["resolver"])
        paths = {f["path"] for f in manifest["files"]}
        self.assertIn("certs/expired.pem", paths)
        self.assertIn("dot-expired-cert/scenario.toml", names)
        out = os.path.join(self.tmp, "out")
        p = probe("scenario", "unpack", arc, "-C", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        unpacked = os.path.join(out, "dot-expired-cert")
        self.assertEqual(read(os.path.join(unpacked, "certs/expired.pem")),
                         read(os.path.join(SCEN, "dot-expired-cert/certs/expired.pem")))
        # The unpacked copy replays identically.
        rc, rep, _ = run_json(unpacked, "--transports", "udp")
        self.assertEqual(rc, 0)
        # Tampered: one byte of a rule file changed, manifest untouched.
        x = os.path.join(self.tmp, "x")
        with tarfile.open(arc) as t:
            t.extractall(x)
        with open(os.path.join(x, "dot-expired-cert/scenario.toml"), "a") as f:
            f.write("# edited\n")
        bad = os.path.join(self.tmp, "bad.tar.gz")
        with tarfile.open(bad, "w:gz", format=tarfile.GNU_FORMAT) as t:
            t.add(os.path.join(x, "manifest.json"), "manifest.json")
            t.add(os.path.join(x, "dot-expired-cert"), "dot-expired-cert")
        p = probe("scenario", "unpack", bad, "-C", os.path.join(self.tmp, "out2"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("tampered", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out2", "dot-expired-cert")))


class HostileArchives(unittest.TestCase):
    """`scenario unpack` reads archives from other people (issue 12 defect 8): every hostile
    shape is refused with exit 2 and a named error, and nothing is written. A manifest that
    is an array, or whose `files` are not objects, used to abort with exit 134."""

    SCHEMA = "dnslab.scenario.pack.v1"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-scen-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.out = os.path.join(self.tmp, "deep", "er", "out")  # ../../ stays inside tmp
        os.makedirs(self.out)

    def archive(self, manifest, entries=(("case/scenario.toml", b"x"),), special=()):
        """A tar.gz with manifest.json (bytes or a JSON value), regular `entries` and
        `special` TarInfo members (links), as an attacker would write it."""
        path = os.path.join(self.tmp, f"a{len(os.listdir(self.tmp))}.tar.gz")
        data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as t:
            for name, body in (("manifest.json", data), *entries):
                info = tarfile.TarInfo(name)
                info.size = len(body)
                t.addfile(info, io.BytesIO(body))
            for info in special:
                t.addfile(info)
        return path

    def manifest(self, files):
        return {"schema": self.SCHEMA, "scenario": "case", "files": files}

    def assert_refused(self, path, needle):
        p = probe("scenario", "unpack", path, "-C", self.out)
        self.assertEqual(p.returncode, 2, (p.returncode, p.stderr))
        self.assertIn(needle, p.stderr)
        self.assertEqual(os.listdir(self.out), [], "nothing may be written")
        written = [f for _, _, fs in os.walk(self.tmp) for f in fs if f in ("evil", "link")]
        self.assertEqual(written, [], "nothing may be written outside either")

    def test_manifest_shapes(self):
        good_sha = hashlib.sha256(b"x").hexdigest()
        cases = [
            ([1, 2, 3], "manifest.json is not dnslab.scenario.pack.v1 (expected an object, got array)"),
            ("just a string", "expected an object, got string"),
            (b"{not json", "(not JSON)"),
            ({"schema": self.SCHEMA, "scenario": ["case"], "files": []}, '"scenario" is not a string'),
            ({"schema": self.SCHEMA, "scenario": "case", "files": {"path": "x"}}, '"files" is not an array'),
            (self.manifest([1, "scenario.toml"]), "files[0]: expected an object with path and sha256, got number"),
            (self.manifest(["scenario.toml"]), "files[0]: expected an object with path and sha256, got string"),
            (self.manifest([{"path": 5, "sha256": good_sha}]), 'files[0]: "path" and "sha256" must be strings'),
            (self.manifest([{"path": "scenario.toml", "sha256": 1e300}]), '"path" and "sha256" must be strings'),
            (self.manifest([{"path": "scenario.toml", "sha256": good_sha}] * 2), "is listed twice"),
        ]
        for manifest, needle in cases:
            with self.subTest(manifest=manifest):
                self.assert_refused(self.archive(manifest), needle)

    def test_path_traversal_symlinks_and_hardlinks_are_refused(self):
        sha = hashlib.sha256(b"x").hexdigest()
        # A manifest that lists a path climbing out of the folder.
        self.assert_refused(self.archive(self.manifest([{"path": "../../evil", "sha256": sha}]),
                                         entries=(("case/../../evil", b"x"),)),
                            "unsafe path '../../evil'")
        # An entry outside the scenario folder, or absolute.
        for entry in ("../evil", "/tmp/evil", "case/../../evil", "other/scenario.toml"):
            with self.subTest(entry=entry):
                self.assert_refused(
                    self.archive(self.manifest([{"path": "scenario.toml", "sha256": sha}]),
                                 entries=(("case/scenario.toml", b"x"), (entry, b"x"))),
                    "refused: unexpected entry")
        # Links: a symlink or hardlink would let a later file land anywhere.
        for kind, target in ((tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "case/scenario.toml")):
            with self.subTest(kind=kind):
                link = tarfile.TarInfo("case/link")
                link.type = kind
                link.linkname = target
                self.assert_refused(
                    self.archive(self.manifest([{"path": "scenario.toml", "sha256": sha}]),
                                 special=(link,)),
                    "only regular files are allowed")


if __name__ == "__main__":
    main()
