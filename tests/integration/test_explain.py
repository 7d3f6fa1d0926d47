# SPDX-License-Identifier: MIT
"""`dnslab-resolver explain`: the offline dry run over the sample export (fixtures/policy),
text and --json, for a block, overrides, post-resolution blocks from a live fixture upstream
(--upstream fixture:DIR) and from an answer file (--answer), schedules with --at, location
hints, and bad inputs (exit 2 with a message). No network at all."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

POLICY = os.path.join(harness.ROOT, "fixtures/policy")
INPUTS = ["--rules", os.path.join(POLICY, "rules.json"), "--lists", os.path.join(POLICY, "lists.json"),
          "--locations", os.path.join(POLICY, "locations.json"),
          "--categories", os.path.join(harness.ROOT, "fixtures/categories/categories.csv")]
FIXTURE = "fixture:" + harness.ZONES
# Wednesday 2024-07-03: 16:30 UTC is 18:30 in Paris (CEST), 15:30 UTC is 17:30.
EVENING = "2024-07-03T16:30:00Z"
AFTERNOON = "2024-07-03T15:30:00Z"


def explain(*args, check=True):
    p = subprocess.run([harness.RESOLVER, "explain", *INPUTS, *args], capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"explain {args} exited {p.returncode}: {p.stderr}")
    return p


def explain_json(*args):
    return json.loads(explain(*args, "--json").stdout)


def answer_lines(text):
    """Records of the ';; answer' message's ANSWER SECTION: (owner, ttl, type, data)."""
    part = re.split(r";; answer \(as sent, \d+ bytes\)\n", text, maxsplit=1)[1]
    if ";; ANSWER SECTION:" not in part:
        return []
    out = []
    for line in part.split(";; ANSWER SECTION:\n", 1)[1].splitlines():
        if not line.strip() or line.startswith(";"):
            break
        f = line.split("\t")
        f = [x for x in f if x != ""]
        out.append((f[0], int(f[1]), f[3], f[4]))
    return out


def trace_line(doc, rule_id, phase="pre"):
    return [t for t in doc["trace"] if t["id"] == rule_id and t["phase"] == phase][0]


class Explain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-explain-it-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def answer_file(self, text):
        path = os.path.join(self.tmp, f"answer-{abs(hash(text))}.txt")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_selector_table_in_docs_matches_the_registry(self):
        p = subprocess.run([harness.RESOLVER, "selectors", "--markdown"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(harness.ROOT, "docs/policy.md")) as f:
            doc = f.read()
        table = doc.split("<!-- selectors:begin -->\n", 1)[1].split("<!-- selectors:end -->", 1)[0]
        self.assertEqual(table, p.stdout, "regenerate with: dnslab-resolver selectors --markdown")
        # Every selector has an input now (issue 17): none is refused at load.
        self.assertIn("`app.ids` | Array<Int> | pre-resolution | application catalogue", p.stdout)
        self.assertNotIn("not in this lab", p.stdout)

    def test_src_internal_ip_comes_from_the_explain_flag(self):
        rules = os.path.join(self.tmp, "internal-ip-rules.json")
        with open(rules, "w") as f:
            json.dump([{"id": "r-internal", "name": "internal", "precedence": 1, "enabled": True,
                        "action": "block", "filters": ["dns"],
                        "traffic": 'dns.fqdn == "x.example" and dns.src_internal_ip in {10.0.0.0/8}'}], f)
        locs = os.path.join(self.tmp, "all-locations.json")
        with open(locs, "w") as f:
            json.dump([{"id": "l-all", "name": "All", "networks": [{"network": "0.0.0.0/0"}]}], f)
        base = [harness.RESOLVER, "explain", "--rules", rules, "--locations", locs, "--name", "x.example", "--json"]
        on = json.loads(subprocess.run(base + ["--src-internal-ip", "10.1.2.3"], capture_output=True,
                                       text=True, timeout=10, check=True).stdout)
        self.assertEqual(trace_line(on, "r-internal")["verdict"], "matched")
        off = json.loads(subprocess.run(base, capture_output=True, text=True, timeout=10, check=True).stdout)
        self.assertEqual(trace_line(off, "r-internal")["verdict"], "not matched")
        self.assertIn("dns.src_internal_ip", trace_line(off, "r-internal")["reason"])
        p = subprocess.run(base + ["--src-internal-ip", "nope"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--src-internal-ip must be an IP address", p.stderr)

    def test_not_matched_names_the_clause_and_the_fact(self):
        with open(os.path.join(POLICY, "locations.json")) as f:
            locs = json.load(f)
        locs = locs.get("result", locs)
        hq = [l for l in locs if l["name"] == "HQ"][0]["id"]
        branch = [l for l in locs if l["name"] == "Branch"][0]["id"]
        rules = os.path.join(self.tmp, "location-rules.json")
        with open(rules, "w") as f:
            json.dump([{"id": "r-hq-only", "name": "HQ only", "precedence": 1, "enabled": True,
                        "action": "block", "filters": ["dns"],
                        "traffic": f'dns.location in {{"{hq}"}} and dns.fqdn == "www.example.com"'}], f)
        p = subprocess.run([harness.RESOLVER, "explain", "--rules", rules, "--locations",
                            os.path.join(POLICY, "locations.json"), "--name", "www.example.com",
                            "--src", "127.0.1.9", "--json"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = trace_line(json.loads(p.stdout), "r-hq-only")
        self.assertEqual(line["verdict"], "not matched")
        self.assertEqual(line["reason"],
                         f'traffic: dns.location in {{"{hq}"}}: dns.location is "{branch}" (Branch)')

    def test_block_text(self):
        out = explain("--name", "blocked.example.com", "--type", "AAAA").stdout
        self.assertIn("query: blocked.example.com AAAA from 127.0.0.1", out)
        self.assertIn("location: HQ (0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0001) — src-network:127.0.0.0/24", out)
        self.assertRegex(out, r'\[not matched\] #100 allow "Allow corporate domains"')
        self.assertRegex(out, r'\[matched\] #300 block "Block listed domains" \(a1000000-0000-4000-8000-000000000003\)')
        self.assertRegex(out, r'\[skipped\] #400 override "Override portal" .*an earlier rule decided')
        self.assertIn("decision: blockedByQueryName (2) by block rule \"Block listed domains\"", out)
        self.assertIn("in the pre-resolution phase", out)
        self.assertIn("status: NOERROR", out)
        self.assertEqual(answer_lines(out), [("blocked.example.com.", 60, "AAAA", "::")])

    def test_phase_headings_once_in_evaluation_order(self):
        # A query decided before resolution: its trace lists post rules (700, 800) between pre
        # rules (600, 900) in precedence order; the text groups them: pre, then resolver, then
        # post, each heading exactly once (it used to print the pre heading twice).
        out = explain("--name", "blocked.example.com").stdout
        heads = [h for h in re.findall(r"^== (.*) ==$", out, re.M) if "polic" in h]
        self.assertEqual(heads, ["pre-resolution DNS policies", "resolver policies", "post-resolution DNS policies"])
        pre = out.split("== pre-resolution DNS policies ==", 1)[1].split("== resolver policies ==", 1)[0]
        self.assertIn("#900 block", pre)
        self.assertNotIn("#700 block", pre)
        # and one that resolved
        out = explain("--name", "www.example.com", "--upstream", FIXTURE).stdout
        heads = [h for h in re.findall(r"^== (.*) ==$", out, re.M) if "polic" in h]
        self.assertEqual(heads, ["pre-resolution DNS policies", "resolver policies", "post-resolution DNS policies"])
        pre = out.split("== pre-resolution DNS policies ==", 1)[1].split("== resolver policies ==", 1)[0]
        self.assertIn("#960 block \"Disabled block\"", pre)
        self.assertIn("[skipped] #960", pre)
        self.assertIn("disabled", pre.split("#960", 1)[1].splitlines()[0])
        self.assertIn("expired", pre.split("#950", 1)[1].splitlines()[0])
        post = out.split("== post-resolution DNS policies ==", 1)[1]
        self.assertIn("#700 block", post)
        self.assertIn("#800 block", post)
        self.assertIn("decision: allowedOnNoPolicyMatch (5)", out)
        self.assertEqual(answer_lines(out), [("www.example.com.", 300, "A", "192.0.2.10")])

    def test_block_page_json(self):
        doc = explain_json("--name", "www.malware.testcategory.com")
        self.assertEqual(doc["schema"], "dnslab.explain.v1")
        self.assertEqual(doc["decision"]["ResolverDecision"], "blockedByCategory")
        self.assertEqual(doc["decision"]["code"], 3)
        self.assertEqual(doc["decision"]["PolicyID"], "a1000000-0000-4000-8000-000000000002")
        self.assertEqual(doc["decision"]["phase"], "pre-resolution")
        self.assertEqual(doc["categories"]["MatchedCategoryIDs"], [21])
        self.assertEqual(doc["categories"]["InitialCategoryIDs"], [21, 117])  # inherited from malware
        self.assertEqual(doc["rcode"], "NOERROR")
        self.assertEqual(doc["location"]["name"], "HQ")
        self.assertIn("162.159.36.12", doc["answer"])
        self.assertIn("162.159.46.12", doc["answer"])
        self.assertEqual(trace_line(doc, "a1000000-0000-4000-8000-000000000002")["verdict"], "matched")
        self.assertEqual(trace_line(doc, "b2000000-0000-4000-8000-000000000001", "resolver")["verdict"], "skipped")
        # MX on a block: REFUSED
        self.assertEqual(explain_json("--name", "malware.testcategory.com", "--type", "MX")["rcode"], "REFUSED")

    def test_override_ips_and_host(self):
        out = explain("--name", "portal.example.com").stdout
        self.assertIn("decision: overrideApplied (8)", out)
        self.assertEqual(answer_lines(out), [("portal.example.com.", 60, "A", "192.0.2.10")])
        doc = explain_json("--name", "portal.example.com", "--type", "AAAA")
        self.assertEqual(doc["decision"]["PolicyID"], "a1000000-0000-4000-8000-000000000004")
        self.assertIn("2001:db8::10", doc["answer"])
        # override_host: the CNAME plus the target's records from the fixture upstream
        out = explain("--name", "alias.example.com", "--upstream", FIXTURE).stdout
        self.assertEqual(answer_lines(out), [("alias.example.com.", 60, "CNAME", "www.example.net."),
                                             ("www.example.net.", 300, "A", "192.0.2.201")])
        # safe search, same mechanism
        out = explain("--name", "www.google.com", "--type", "AAAA", "--upstream", FIXTURE).stdout
        self.assertIn("decision: overrideForSafeSearch (7)", out)
        self.assertEqual(answer_lines(out), [("www.google.com.", 60, "CNAME", "forcesafesearch.google.com."),
                                             ("forcesafesearch.google.com.", 300, "AAAA", "2001:db8:5afe::120")])

    def test_post_resolution_block_from_fixture_upstream(self):
        out = explain("--name", "badip.example.com", "--upstream", FIXTURE).stdout
        self.assertIn(";; upstream answer (seen by post-resolution rules)", out)
        self.assertIn("badip.example.com.\t60\tIN\tA\t203.0.113.66", out)
        self.assertIn("decision: blockedRule (9)", out)
        self.assertIn("in the post-resolution phase", out)
        self.assertEqual(answer_lines(out), [("badip.example.com.", 60, "A", "0.0.0.0")])
        doc = explain_json("--name", "badip.example.com", "--upstream", FIXTURE)
        self.assertEqual(doc["decision"]["PolicyID"], "a1000000-0000-4000-8000-000000000009")
        self.assertEqual(doc["decision"]["phase"], "post-resolution")
        self.assertEqual(trace_line(doc, "a1000000-0000-4000-8000-000000000009", "post")["verdict"], "matched")
        self.assertIn("evaluated after resolution", trace_line(doc, "a1000000-0000-4000-8000-000000000009")["reason"])
        # CNAME into a malware-categorised name: the category rule matches after resolution
        doc = explain_json("--name", "tracker.example.com", "--upstream", FIXTURE)
        self.assertEqual(doc["decision"]["ResolverDecision"], "blockedByCategory")
        self.assertEqual(doc["categories"]["CNAMECategoryIDs"], [21, 117])
        self.assertIn("162.159.36.12", doc["answer"])

    def test_post_resolution_block_from_answer_file(self):
        bad = self.answer_file("www.example.org. 300 IN A 198.51.100.20\n")
        out = explain("--name", "www.example.org", "--answer", bad).stdout
        self.assertIn("decision: blockedRule (9)", out)
        self.assertEqual(answer_lines(out), [("www.example.org.", 60, "A", "0.0.0.0")])
        good = self.answer_file("www.example.org. 300 IN A 192.0.2.1\n")
        out = explain("--name", "www.example.org", "--answer", good).stdout
        self.assertIn("decision: allowedOnNoPolicyMatch (5)", out)
        self.assertEqual(answer_lines(out), [("www.example.org.", 300, "A", "192.0.2.1")])
        mx = self.answer_file("example.org. 300 IN MX 10 mx1.badmail.example.net.\n")
        doc = explain_json("--name", "example.org", "--type", "MX", "--answer", mx)
        self.assertEqual(doc["decision"]["PolicyID"], "a1000000-0000-4000-8000-00000000000a")
        self.assertEqual(doc["rcode"], "REFUSED")

    def test_schedule_with_at(self):
        out = explain("--name", "casino.example.com", "--at", EVENING).stdout
        self.assertIn("decision: blockedByCategory (3)", out)
        self.assertRegex(out, r'\[matched\] #900 block "Block gambling in the evening"')
        self.assertEqual(answer_lines(out), [("casino.example.com.", 60, "A", "0.0.0.0")])
        doc = explain_json("--name", "casino.example.com", "--at", AFTERNOON, "--upstream", FIXTURE)
        self.assertEqual(doc["decision"]["ResolverDecision"], "allowedOnNoPolicyMatch")
        line = trace_line(doc, "a1000000-0000-4000-8000-00000000000b")
        self.assertEqual(line["verdict"], "skipped")
        self.assertIn("outside its schedule (Europe/Paris)", line["reason"])
        self.assertIn("192.0.2.109", doc["answer"])
        self.assertEqual(doc["time"], 1720020600)
        # Saturday: all day
        self.assertEqual(explain_json("--name", "casino.example.com", "--at", "2024-07-06T09:00:00Z")
                         ["decision"]["ResolverDecision"], "blockedByCategory")

    def test_location_hints(self):
        doc = explain_json("--name", "doh-blocked.example.com", "--protocol", "https", "--doh-subdomain", "r0am1ng3d4")
        self.assertEqual(doc["location"]["name"], "Roaming (WARP default)")
        self.assertEqual(doc["decision"]["PolicyID"], "a1000000-0000-4000-8000-000000000008")
        doc = explain_json("--name", "blocked.example.com", "--src", "127.0.1.5")
        self.assertEqual(doc["location"]["name"], "Branch")
        doc = explain_json("--name", "blocked.example.com", "--src", "127.0.2.5")
        self.assertIsNone(doc["location"])
        self.assertEqual(doc["decision"]["ResolverDecision"], "allowedOnNoLocation")
        doc = explain_json("--name", "news.example.net", "--request-categories", '{"categories":[122]}')
        self.assertEqual(doc["categories"]["RequestContextCategoryIDs"], [122])
        out = explain("--name", "intranet.corp.internal").stdout
        self.assertIn("route: custom:127.0.0.1:5354 (resolver policy b2000000-0000-4000-8000-000000000001)", out)

    def test_bad_inputs_exit_2_with_a_message(self):
        cases = [
            (("--name", "a..b"), "--name must be a domain name"),
            (("--name", "a.com", "--type", "BOGUS"), "unknown --type 'BOGUS'"),
            (("--name", "a.com", "--at", "yesterday"), "--at must be an RFC 3339 time"),
            (("--name", "a.com", "--src", "nope"), "--src must be an IP address"),
            (("--name", "a.com", "--protocol", "quic"), "--protocol must be udp, tcp, tls (dot) or https (doh)"),
            (("--name", "a.com", "--answer", "/nonexistent/answer.txt"), "/nonexistent/answer.txt"),
            (("--name", "a.com", "--request-categories", "{"), "--request-categories must be JSON"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                p = explain(*args, check=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(msg, p.stderr)
                self.assertTrue(p.stderr.startswith("dnslab-resolver explain: "), p.stderr)
                self.assertEqual(p.stdout, "")
        # a broken rules file: the error names the rule, the field and the column
        rules = os.path.join(self.tmp, "bad-rules.json")
        with open(rules, "w") as f:
            json.dump([{"id": "typo-rule", "action": "block", "filters": ["dns"],
                        "traffic": "dns.fqdn == \"a.com\" or dns.nosuch == 1"}], f)
        p = subprocess.run([harness.RESOLVER, "explain", "--strict", "--rules", rules, "--name",
                            "a.com"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("typo-rule", p.stderr)
        self.assertIn("dns.nosuch", p.stderr)
        self.assertRegex(p.stderr, r"column \d+")
        # --name is required (CLI11 usage error)
        p = subprocess.run([harness.RESOLVER, "explain", *INPUTS], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--name", p.stderr)


if __name__ == "__main__":
    harness.main()
