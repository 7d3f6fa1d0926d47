# SPDX-License-Identifier: MIT
"""Selectors real exports use (issue 17), end to end: the real dnslab-resolver with the sample
export plus an application block (Cloudflare's recommended All-DNS-Application-Blocklist,
`app.type.ids in {25}`), indicator-feed blocks on names and on resolved IPs, a private
on-ramp listener (`?internal=1`, dns.src_internal_ip) and a device-posture rule; queried with
kdig over UDP, TCP, DoT and DoH, with the gateway_dns fields checked. `explain` states a
missing posture. Loopback only: every listener binds 127.0.0.1 port 0."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from test_policy import Lab, POLICY, TRANSPORTS, located_rules, policy_args
from test_query_log import shape_errors

APPS = os.path.join(harness.ROOT, "fixtures/applications/applications.json")
FEEDS = os.path.join(harness.ROOT, "fixtures/indicator_feeds/feeds.json")


def rule(rid, precedence, traffic, action="block", **extra):
    r = {"id": rid, "name": rid, "precedence": precedence, "enabled": True, "action": action,
         "filters": ["dns"], "traffic": traffic, "identity": "", "rule_settings": {}}
    r.update(extra)
    return r


EXTRA_RULES = [
    # Cloudflare's recommended policy (learning-paths secure-internet-traffic, API example).
    rule("e1000000-0000-4000-8000-000000000001", 40, "any(app.type.ids[*] in {25})"),
    rule("e1000000-0000-4000-8000-000000000002", 41, "any(dns.indicator_feed[*] in {4243})"),
    rule("e1000000-0000-4000-8000-000000000003", 42, "any(dns.indicator_feed[*] in {4242})",
         rule_settings={"ip_indicator_feeds": True}),
    rule("e1000000-0000-4000-8000-000000000004", 43,
         'dns.src_internal_ip in {127.0.0.0/8} and dns.fqdn == "onramp.example.com"'),
    rule("e1000000-0000-4000-8000-000000000005", 44, 'dns.fqdn == "posture.example.com"',
         action="allow",
         device_posture='any(device_posture.checks.passed[*] in {"1308749e-fcfb-4ebc-b051-fe022b632644"})'),
    rule("e1000000-0000-4000-8000-000000000006", 45, 'dns.fqdn == "posture.example.com"'),
]
APP_RULE, PHISH_RULE, IPFEED_RULE, ONRAMP_RULE, POSTURE_ALLOW, POSTURE_BLOCK = (
    r["id"] for r in EXTRA_RULES)
PROTOCOL = {"udp": "udp", "tcp": "tcp", "dot": "tls", "doh": "https"}


class SelectorsEndToEnd(Lab, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-selectors-it-")
        rules = located_rules(cls.tmp, harness.dead_udp_port(), extra=EXTRA_RULES)
        cls.r = harness.Resolver(*policy_args(rules), "--applications", APPS, "--indicator-feeds", FEEDS,
                                 listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                         "https://127.0.0.1:0/dns-query", "udp://127.0.0.1:0?internal=1"))
        cls.ca = cls.r.ca_file()
        udp = [u for u in cls.r.urls if u.startswith("udp://")]
        assert len(udp) == 2, cls.r.urls
        host, port = udp[1].split("://", 1)[1].rsplit(":", 1)  # listeners come up in order
        cls.internal = (host, int(port))

    @classmethod
    def tearDownClass(cls):
        cls.r.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_application_type_block_on_every_transport(self):
        for t in TRANSPORTS:
            with self.subTest(transport=t):
                a = self.q(t, "images.ai-lab.example")
                self.assertEqual(a.rcode, "NOERROR")
                self.assertEqual(a.rdata("A"), ["0.0.0.0"])
                rec = self.record("images.ai-lab.example", "A")
                # This transport's record, whole: the 82 fields with their documented types.
                self.assertEqual((rec["Protocol"], shape_errors(rec)), (PROTOCOL[t], []))
                self.assertEqual(rec["PolicyID"], APP_RULE)
                self.assertEqual(rec["ResolverDecision"], "blockedByQueryName")
                # The most specific app first: 506 (images.ai-lab.example), then 505.
                self.assertEqual(rec["ApplicationID"], 506)
                self.assertEqual(rec["ApplicationName"], "Lab AI image tool 506")
                self.assertEqual(rec["QueryApplicationIDs"], [506, 505])
                self.assertEqual(rec["QueryApplicationNames"],
                                 ["Lab AI image tool 506", "Lab AI assistant 505"])
        # An app of another type is not blocked, but logged with its application.
        a = self.q("udp", "chat.collab-lab.example")
        self.assertNotEqual(a.rdata("A"), ["0.0.0.0"])
        rec = self.record("chat.collab-lab.example", "A")
        self.assertEqual(rec["PolicyID"], "")
        self.assertEqual(rec["ApplicationID"], 701)

    def test_indicator_feed_block_on_every_transport(self):
        for t in TRANSPORTS:
            with self.subTest(transport=t):
                a = self.q(t, "login.phish.feed-lab.example")
                self.assertEqual(a.rdata("A"), ["0.0.0.0"])
                rec = self.record("login.phish.feed-lab.example", "A")
                # This transport's record, whole: the 82 fields with their documented types.
                self.assertEqual((rec["Protocol"], shape_errors(rec)), (PROTOCOL[t], []))
                self.assertEqual(rec["PolicyID"], PHISH_RULE)
                self.assertEqual(rec["MatchedIndicatorFeedIDs"], [4243])
                self.assertEqual(rec["MatchedIndicatorFeedNames"], ["Lab phishing feed"])
                self.assertEqual(rec["QueryIndicatorFeedIDs"], [4243])
                self.assertEqual(rec["QueryIndicatorFeedNames"], ["Lab phishing feed"])
                self.assertEqual(rec["ApplicationID"], 0)

    def test_app_and_feed_blocks_with_curl_as_the_doh_client(self):
        # curl's DoH JSON API, HQ by the DoH host (curl --resolve keeps the name for SNI/Host).
        host = "hq7x2k9m1a.cloudflare-gateway.com"
        for name, rule_id in (("images.ai-lab.example", APP_RULE),
                              ("login.phish.feed-lab.example", PHISH_RULE),
                              ("www.example.com", IPFEED_RULE)):
            with self.subTest(name=name):
                doc = self.curl_json(name, host=host)
                self.assertEqual(doc["Status"], 0)
                self.assertEqual([a["data"] for a in doc["Answer"]], ["0.0.0.0"])
                rec = self.record(name, "A")
                self.assertEqual((rec["PolicyID"], rec["Protocol"], rec["Location"]),
                                 (rule_id, "https", "HQ"))

    def test_ip_indicator_feed_blocks_after_resolution(self):
        # www.example.com is 192.0.2.10 in fixtures/zones, an address of feed 4242.
        for t in TRANSPORTS:
            with self.subTest(transport=t):
                a = self.q(t, "www.example.com")
                self.assertEqual(a.rdata("A"), ["0.0.0.0"])
                rec = self.record("www.example.com", "A")
                # This transport's record, whole: the 82 fields with their documented types.
                self.assertEqual((rec["Protocol"], shape_errors(rec)), (PROTOCOL[t], []))
                self.assertEqual(rec["PolicyID"], IPFEED_RULE)
                self.assertEqual(rec["InitialResolvedIPs"], ["192.0.2.10"])
                self.assertEqual(rec["MatchedIndicatorFeedIDs"], [4242])
                self.assertEqual(rec["QueryIndicatorFeedIDs"], [4242])

    def test_private_onramp_listener_sets_src_internal_ip(self):
        a = self.udp_to(self.internal, "onramp.example.com")
        self.assertEqual(a.rdata("A"), ["0.0.0.0"])
        self.assertEqual(self.record("onramp.example.com", "A")["PolicyID"], ONRAMP_RULE)
        # The same client and name on the ordinary listener: no internal source, no block.
        b = self.q("udp", "onramp.example.com")
        self.assertNotEqual(b.rdata("A"), ["0.0.0.0"])
        self.assertNotEqual(self.record("onramp.example.com", "A")["PolicyID"], ONRAMP_RULE)

    def test_posture_rule_without_posture_data_is_not_passed(self):
        # No identity map: the allow that needs a passed posture check does not match.
        a = self.q("udp", "posture.example.com")
        self.assertEqual(a.rdata("A"), ["0.0.0.0"])
        self.assertEqual(self.record("posture.example.com", "A")["PolicyID"], POSTURE_BLOCK)


class PostureExplain(unittest.TestCase):
    """explain names the missing posture on the rule's line, text and JSON."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-posture-it-")
        self.rules = os.path.join(self.tmp, "rules.json")
        with open(self.rules, "w") as f:
            json.dump([EXTRA_RULES[4], EXTRA_RULES[5]], f)
        self.ids = os.path.join(self.tmp, "identities.json")
        with open(self.ids, "w") as f:
            json.dump([{"source_ip": "127.0.0.1/32", "email": "nodata@example.com"},
                       {"source_ip": "127.0.0.2/32", "email": "ok@example.com",
                        "device_posture": {"passed": ["1308749e-fcfb-4ebc-b051-fe022b632644"]}}], f)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def explain(self, src, *extra):
        p = subprocess.run([harness.RESOLVER, "explain", "--rules", self.rules, "--identities", self.ids,
                            "--locations", os.path.join(POLICY, "locations.json"), "--name",
                            "posture.example.com", "--src", src, *extra],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_no_posture_data_is_stated(self):
        text = self.explain("127.0.0.1")
        line = [l for l in text.splitlines() if POSTURE_ALLOW in l][0]
        self.assertIn("[not matched]", line)
        self.assertIn("device_posture: no posture data", line)
        self.assertNotIn("treated as true", text)
        doc = json.loads(self.explain("127.0.0.1", "--json"))
        t = [t for t in doc["trace"] if t["id"] == POSTURE_ALLOW][0]
        self.assertEqual(t["verdict"], "not matched")
        self.assertIn("no posture data: the identity-map entry of this device has no device_posture",
                      t["reason"])
        self.assertEqual(doc["decision"]["PolicyID"], POSTURE_BLOCK)

    def test_passed_posture_matches(self):
        doc = json.loads(self.explain("127.0.0.2", "--json"))
        t = [t for t in doc["trace"] if t["id"] == POSTURE_ALLOW][0]
        self.assertEqual(t["verdict"], "matched")
        self.assertNotIn("posture data", t["reason"])


if __name__ == "__main__":
    harness.main()
