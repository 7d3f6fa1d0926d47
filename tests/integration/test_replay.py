# SPDX-License-Identifier: MIT
"""`dnslab-probe replay`: a customer's gateway_dns export re-asked through a scenario on
loopback, per-record agreement of ResolverDecision / PolicyID / answer, exit codes, --json,
progress, and answers/categories synthesised from the log."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import PROBE, RESOLVER, ROOT, main

SCEN = os.path.join(ROOT, "fixtures/scenarios/doh-only-block")
LOG = os.path.join(SCEN, "gateway_dns.jsonl")
ENV = dict(os.environ, DNSLAB_RESOLVER=RESOLVER)


def records():
    with open(LOG) as f:
        return [json.loads(l) for l in f]


def replay(log, scenario=SCEN, *extra, timeout=120):
    return subprocess.run([PROBE, "replay", log, "--scenario", scenario, *extra],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


class Replay(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-replay-it-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sample_log_agrees_with_the_scenario(self):
        p = replay(LOG, SCEN, "--json")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        rep = json.loads(p.stdout)
        self.assertEqual(rep["schema"], "dnslab.replay.v1")
        self.assertEqual(rep["summary"]["records"], 8)
        self.assertEqual(rep["summary"]["agree"], 8)
        protos = {r["protocol"] for r in rep["records"]}
        self.assertEqual(protos, {"udp", "tcp", "tls", "https"})
        # news.example-cdn.net exists only in the log: its answer was synthesised from ResolvedIPs.
        cdn = [r for r in rep["records"] if r["query"].startswith("news.example-cdn.net")][0]
        self.assertEqual(cdn["lab"]["ResolvedIPs"], ["203.0.113.7"])
        self.assertGreaterEqual(rep["synthesised"]["answered_names"], 1)
        self.assertEqual(rep["synthesised"]["categorised_names"], 1)
        blocked = [r for r in rep["records"] if r["log"]["ResolverDecision"] == "blockedByQueryName"]
        self.assertEqual(len(blocked), 2)
        for r in blocked:
            self.assertEqual(r["lab"]["PolicyID"], "c7a10000-0000-4000-8000-000000000001")

    def test_in_process_gives_the_child_resolvers_results(self):
        """Replay drives the stage runner in process when the scenario allows it; on the
        shipped scenarios and on edited logs (a wrong PolicyID, a wrong decision, another
        protocol, DoH location hints) it must judge every record as a child resolver does."""
        recs = records()
        edited = [dict(r) for r in recs]
        edited[0]["PolicyID"] = "00000000-0000-4000-8000-00000000dead"
        edited[1]["ResolverDecision"] = "blockedByQueryName"
        logs = {"shipped": LOG}
        path = os.path.join(self.tmp, "edited.jsonl")
        with open(path, "w") as f:
            f.write("\n".join(json.dumps(r) for r in edited) + "\n")
        logs["edited"] = path
        shipped = [d for d in sorted(os.listdir(os.path.join(ROOT, "fixtures/scenarios")))
                   if os.path.exists(os.path.join(ROOT, "fixtures/scenarios", d,
                                                  "gateway_dns.jsonl"))]
        self.assertIn("doh-only-block", shipped)
        cases = [(name, log, []) for name, log in logs.items()]
        cases.append(("over udp", LOG, ["--protocol", "udp"]))
        cases += [(d, os.path.join(ROOT, "fixtures/scenarios", d, "gateway_dns.jsonl"), [])
                  for d in shipped]
        for name, log, extra in cases:
            with self.subTest(log=name):
                scen = SCEN if name in ("shipped", "edited", "over udp") else os.path.join(
                    ROOT, "fixtures/scenarios", name)
                inproc = replay(log, scen, "--json", *extra)
                child = replay(log, scen, "--json", "--child-resolver", *extra)
                a, b = json.loads(inproc.stdout), json.loads(child.stdout)
                self.assertEqual(a["summary"]["mode"], "in-process", a["summary"])
                self.assertEqual(b["summary"]["mode"], "child-resolver")
                self.assertEqual(inproc.returncode, child.returncode)
                self.assertEqual(a["records"], b["records"])
                for k in ("agree", "decision_differs", "policy_differs", "answer_differs",
                          "rcode_differs", "errors"):
                    self.assertEqual(a["summary"][k], b["summary"][k], k)
                if name == "edited":
                    self.assertEqual(a["summary"]["agree"], len(recs) - 2)

    def test_logpush_gzip_file_reads_like_the_plain_one(self):
        """Logpush delivers gzip-compressed JSON lines (`*.log.gz`); a damaged file stops the
        run instead of being replayed as a shorter log."""
        import gzip
        with open(LOG, "rb") as f:
            data = f.read()
        gz = os.path.join(self.tmp, "20250102T030000Z_20250102T030100Z_abc.log.gz")
        with gzip.open(gz, "wb") as f:
            f.write(data)
        p = replay(gz, SCEN, "--json")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        self.assertEqual(json.loads(p.stdout)["summary"]["agree"], 8)
        with open(gz, "rb") as f:
            packed = f.read()
        cut = os.path.join(self.tmp, "cut.log.gz")
        with open(cut, "wb") as f:
            f.write(packed[:len(packed) - 12])  # the last block and the gzip trailer are gone
        p = replay(cut, SCEN)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("corrupt or truncated gzip data", p.stderr)

    def test_fixed_variant_disagrees_where_the_fix_changes_behaviour(self):
        junit = os.path.join(self.tmp, "replay.xml")
        p = replay(LOG, os.path.join(SCEN, "fixed"), "--json", "--junit", junit)
        with open(junit) as f:
            xml = f.read()
        self.assertIn('<testsuite name="dnslab-probe.replay" tests="8" failures="3">', xml)
        self.assertIn('name="line 2: app.partner.example A over udp at HQ"', xml)
        self.assertEqual(p.returncode, 1, p.stderr)
        rep = json.loads(p.stdout)
        bad = [r for r in rep["records"] if not r["agree"]]
        self.assertEqual(sorted(r["line"] for r in bad), [2, 4, 8])
        for r in bad:
            self.assertIn("ResolverDecision", r["differs"])
            self.assertEqual(r["lab"]["ResolverDecision"], "blockedByQueryName")
        # Text output: summary table and the disagreeing records.
        p = replay(LOG, os.path.join(SCEN, "fixed"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("disagreeing records:", p.stdout)
        self.assertIn("line 2: app.partner.example A over udp at HQ", p.stdout)

    def test_edited_policy_id_is_reported(self):
        recs = records()
        recs[0]["PolicyID"] = "00000000-0000-4000-8000-00000000dead"
        log = os.path.join(self.tmp, "edited.jsonl")
        with open(log, "w") as f:
            f.write("\n".join(json.dumps(r) for r in recs) + "\n")
        p = replay(log, SCEN, "--json")
        self.assertEqual(p.returncode, 1)
        rep = json.loads(p.stdout)
        self.assertEqual(rep["summary"]["policy_differs"], 1)
        self.assertEqual([r["differs"] for r in rep["records"] if not r["agree"]], [["PolicyID"]])

    def test_many_records_complete_with_progress(self):
        # Completeness only: how fast is bench/replay.sh's job (timed bounds are noise here).
        recs = records()
        log = os.path.join(self.tmp, "big.jsonl")
        n = 12000
        with open(log, "w") as f:
            for i in range(n):
                f.write(json.dumps(recs[i % len(recs)]) + "\n")
        p = replay(log, SCEN, "--json", timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        rep = json.loads(p.stdout)
        self.assertEqual(rep["summary"]["agree"], n)
        self.assertEqual(len(rep["records"]), n)
        # Every record answered and matched to its own lab log line, in input order.
        self.assertTrue(all(r["agree"] and not r.get("error") for r in rep["records"]))
        self.assertEqual([r["line"] for r in rep["records"]], list(range(1, n + 1)))
        self.assertIn(f"{n}/{n} queries", p.stderr)

    def test_bad_input_exits_2(self):
        bad = os.path.join(self.tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write("{not json\n")
        self.assertEqual(replay(bad).returncode, 2)
        empty = os.path.join(self.tmp, "empty.jsonl")
        with open(empty, "w") as f:
            f.write('{"LabEvent":"policy-loaded"}\n')
        self.assertEqual(replay(empty).returncode, 2)


if __name__ == "__main__":
    main()
