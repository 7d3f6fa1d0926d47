# SPDX-License-Identifier: MIT
"""Issue 17: what Gateway would refuse, or what is surely a mistake, in a customer export.
A rules export given as the locations (and the other way round) is refused at start-up with
exit 2 and on SIGHUP with a named reload error (the old policy stays in force); a lists export
without items skips the rules that use it, naming the list and how to get its items; a
dns.location ID missing from the locations export is a warning. `scenario run` shows the
loader's warnings and skipped rules, in text and JSON. Real binaries on loopback only."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import PROBE, RESOLVER, ZONES, main

LIST_ID = "22509276-1c53-4a46-933a-9ff5e5e7b2ec"
HQ_ID = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d00aa"
GONE_ID = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d00ff"

# The locations export: the loopback network is HQ, so the probe's and kdig's queries are
# attributed to it.
LOCATIONS = {"success": True, "errors": [], "result": [
    {"id": HQ_ID, "name": "HQ", "client_default": True, "doh_subdomain": "hq1",
     "networks": [{"network": "127.0.0.0/8"}]}]}

# As `GET /accounts/{id}/gateway/lists` returns it: count, no items.
LISTS_WITHOUT_ITEMS = {"success": True, "errors": [], "result": [
    {"id": LIST_ID, "name": "Blocked domains", "type": "DOMAIN", "count": 2}]}

RULES = {"success": True, "errors": [], "result": [
    {"id": "r-www", "name": "Block www", "precedence": 1, "enabled": True, "action": "block",
     "filters": ["dns"], "traffic": f'dns.location in {{"{HQ_ID}" "{GONE_ID}"}} and '
                                    'dns.fqdn == "www.example.com"'},
    {"id": "r-list", "name": "Block listed", "precedence": 2, "enabled": True, "action": "block",
     "filters": ["dns"], "traffic": f"any(dns.domains[*] in ${LIST_ID})"},
    {"id": "r-typo", "name": "Typo", "precedence": 3, "enabled": True, "action": "block",
     "filters": ["dns"], "traffic": 'dns.fqnd == "www.example.net"'},
]}


def write(path, doc):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    os.replace(tmp, path)  # atomic, like an editor's save


def temp_folder(test, prefix="dnslab-export-checks-"):
    """A new temporary folder, removed when `test` ends."""
    folder = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, folder, True)
    return folder


def write_exports(folder):
    """The mixed export (RULES, LOCATIONS, LISTS_WITHOUT_ITEMS) in `folder` under the names a
    scenario folder uses; returns the paths of the rules, locations and lists files."""
    paths = []
    for name, doc in (("rules", RULES), ("locations", LOCATIONS), ("lists", LISTS_WITHOUT_ITEMS)):
        paths.append(os.path.join(folder, name + ".json"))
        write(paths[-1], doc)
    return paths


def kdig_a(r, name):
    host, port = r.addr("udp")
    out = harness.kdig(host, port, "+noall", "+answer", "+notcp", name, "A")
    return [l.split()[-1] for l in out.splitlines() if l.strip() and not l.startswith(";")]


class WrongExportAtStart(unittest.TestCase):
    def setUp(self):
        self.rules, self.locations, self.lists = write_exports(temp_folder(self))

    def start(self, *args):
        return subprocess.run([RESOLVER, *args, "--listen", "dns://127.0.0.1:0",
                               "--upstream", "fixture:" + ZONES],
                              capture_output=True, text=True, timeout=20)

    def test_swapped_exports_exit_2_saying_what_the_file_is(self):
        cases = [
            # Swapped: the locations load first, so their file is the one named.
            (["--rules", self.locations, "--locations", self.rules],
             f"{self.rules} looks like a Gateway rules export, expected a locations export "
             "(--locations); give it as --rules"),
            (["--rules", self.locations],
             f"{self.locations} looks like a Gateway locations export, expected a rules export "
             "(--rules); give it as --locations"),
            (["--locations", self.rules],
             f"{self.rules} looks like a Gateway rules export, expected a locations export "
             "(--locations); give it as --rules"),
            (["--lists", self.rules],
             f"{self.rules} looks like a Gateway rules export, expected a lists export (--lists)"),
            (["--rules", self.lists],
             f"{self.lists} looks like a Gateway lists export, expected a rules export (--rules)"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                for cmd in (args, ["explain", *args, "--name", "www.example.com"]):
                    p = self.start(*cmd)
                    self.assertEqual(p.returncode, 2, (cmd, p.stderr))
                    self.assertIn(want, p.stderr)

    def test_list_without_items_skips_its_rules_and_strict_refuses(self):
        p = self.start("--rules", self.rules, "--lists", self.lists, "--locations",
                       self.locations, "--strict")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f'rule r-list ("Block listed") skipped: traffic column 23: list {LIST_ID} '
                      '("Blocked domains") has count 2 but no items', p.stderr)
        self.assertIn("dnslab-probe gateway-export", p.stderr)
        self.assertIn("/accounts/{account_id}/gateway/lists/{list_id}/items", p.stderr)
        self.assertIn(f'location ID "{GONE_ID}" is not in the locations export', p.stderr)


    def test_explain_json_carries_the_warning_details(self):
        p = subprocess.run([RESOLVER, "explain", "--rules", self.rules, "--lists", self.lists,
                            "--locations", self.locations, "--name", "www.example.com",
                            "--upstream", "fixture:" + ZONES, "--json"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        details = {d["rule_id"]: d for d in doc["warning_details"]}
        self.assertEqual(sorted(details), ["r-list", "r-typo", "r-www"])
        self.assertFalse(details["r-www"]["skipped"])
        self.assertIn(GONE_ID, details["r-www"]["message"])
        self.assertEqual([s["id"] for s in doc["skipped_rules"]], ["r-list", "r-typo"])
        # The rule with the unknown ID still decides: www at HQ is blocked.
        self.assertEqual(doc["decision"]["PolicyID"], "r-www")


class ExportChecksRunning(unittest.TestCase):
    """The resolver with the mixed export: it starts, warns, enforces what it read; a SIGHUP
    with a rules export in place of the locations is refused and the old policy kept."""

    def setUp(self):
        self.rules, self.locations, self.lists = write_exports(temp_folder(self))
        self.r = harness.Resolver("--rules", self.rules, "--lists", self.lists,
                                  "--locations", self.locations)
        self.addCleanup(self.r.__exit__, None, None, None)

    def events(self, kind, count=1):
        deadline = time.time() + 10
        while time.time() < deadline:
            ev = [e for e in self.r.log_records(events=True) if e.get("LabEvent") == kind]
            if len(ev) >= count:
                return ev
            time.sleep(0.05)
        self.fail(f"no {kind} event: " + self.r.read_stderr())

    def test_warnings_as_data_in_the_policy_loaded_event(self):
        ev = self.events("policy-loaded")[0]
        self.assertEqual(ev["LabSkippedRules"], 2, ev)
        details = ev["LabWarningDetails"]
        self.assertEqual([d["warning"] for d in details], ev["LabWarnings"])
        by_rule = {d["rule_id"]: d for d in details}
        loc = by_rule["r-www"]
        self.assertEqual((loc["rule_name"], loc["field"], loc["skipped"]),
                         ("Block www", "traffic", False))
        self.assertEqual(loc["column"], RULES["result"][0]["traffic"].index(f'"{GONE_ID}"') + 1)
        self.assertIn(GONE_ID, loc["message"])
        lst = by_rule["r-list"]
        self.assertTrue(lst["skipped"])
        self.assertEqual(lst["column"], 23)
        self.assertIn("the lists export was taken without items", lst["message"])
        self.assertIn(f"rule r-list", self.r.read_stderr())
        # The rule with the missing location ID still loads and blocks at HQ.
        self.assertEqual(kdig_a(self.r, "www.example.com"), ["0.0.0.0"])

    def test_sighup_with_a_rules_export_as_the_locations_keeps_the_old_policy(self):
        self.assertEqual(kdig_a(self.r, "www.example.com"), ["0.0.0.0"])
        write(self.locations, RULES)
        self.r.signal(signal.SIGHUP)
        ev = self.events("policy-reload")[0]
        self.assertFalse(ev["LabOk"], ev)
        self.assertIn(f"{self.locations} looks like a Gateway rules export, expected a locations "
                      "export (--locations)", ev["LabError"])
        self.assertIn("policy reload failed, keeping generation", self.r.read_stderr())
        self.assertIsNone(self.r.proc.poll(), "resolver still running")
        self.assertEqual(kdig_a(self.r, "www.example.com"), ["0.0.0.0"])
        # Put back, the reload succeeds.
        write(self.locations, LOCATIONS)
        self.r.signal(signal.SIGHUP)
        ev = self.events("policy-reload", 2)[1]
        self.assertTrue(ev["LabOk"], ev)
        self.assertEqual(len(ev["LabWarningDetails"]), 3)


class ScenarioRunWarnings(unittest.TestCase):
    """`scenario run` shows what the lab's loader skipped or warned about for the scenario's
    export: "policy: 2 rules skipped, 1 warning" and the lines; --json as data."""

    def setUp(self):
        self.dir = os.path.join(temp_folder(self, "dnslab-export-checks-scen-"), "case")
        p = subprocess.run([PROBE, "scenario", "new", self.dir, "--description", "mixed export"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        write_exports(self.dir)
        self.env = dict(os.environ, DNSLAB_RESOLVER=RESOLVER)

    def run_scenario(self, *extra):
        return subprocess.run([PROBE, "scenario", "run", self.dir, "--transports", "udp", *extra],
                              capture_output=True, text=True, timeout=120, env=self.env)

    def test_text_summary_lists_every_warning(self):
        p = self.run_scenario()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("policy: 2 rules skipped, 1 warning", p.stdout)
        lines = [l.strip() for l in p.stdout.splitlines()]
        # Named as in the scenario folder, not as in the run's temporary copy of it.
        self.assertTrue(any(l.startswith("rules.json: rule r-typo (\"Typo\") skipped: traffic "
                                         "column 1: unknown field 'dns.fqnd'") for l in lines),
                        p.stdout)
        self.assertNotIn("dnslab-scenario-", p.stdout)
        self.assertTrue(any("rule r-list (\"Block listed\") skipped" in l for l in lines), p.stdout)
        self.assertTrue(any(f'location ID "{GONE_ID}"' in l for l in lines), p.stdout)

    def test_json_carries_them_as_data(self):
        p = self.run_scenario("--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = json.loads(p.stdout)
        pol = doc["policy"]
        self.assertEqual(pol["summary"], "2 rules skipped, 1 warning")
        self.assertEqual((pol["rules_skipped"], pol["warnings_count"]), (2, 1))
        got = [(w["rule_id"], w["rule_name"], w["field"], w["skipped"]) for w in pol["warnings"]]
        self.assertEqual(sorted(got), sorted([
            ("r-www", "Block www", "traffic", False),
            ("r-list", "Block listed", "traffic", True),
            ("r-typo", "Typo", "traffic", True)]))
        typo = next(w for w in pol["warnings"] if w["rule_id"] == "r-typo")
        self.assertEqual((typo["column"], typo["message"]), (1, "unknown field 'dns.fqnd'"))

    def test_a_clean_export_says_so(self):
        write(os.path.join(self.dir, "rules.json"), {"result": [RULES["result"][0]]})
        write(os.path.join(self.dir, "lists.json"), {"result": []})
        write(os.path.join(self.dir, "locations.json"),
              {"result": LOCATIONS["result"] + [{"id": GONE_ID, "name": "Branch"}]})
        p = self.run_scenario("--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        pol = json.loads(p.stdout)["policy"]
        self.assertEqual((pol["summary"], pol["warnings"]), ("0 warnings", []))


if __name__ == "__main__":
    main()
