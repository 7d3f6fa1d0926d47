# SPDX-License-Identifier: MIT
"""`explain` cannot disagree with the resolver: the same query (same ID, flags, EDNS and
location hints) is sent to a running dnslab-resolver over UDP, TCP, DoT and DoH, and given to
`dnslab-resolver explain` with the same flags; the bytes explain says the resolver sends must
be the bytes the resolver sent, for allowed, capped, blocked, block-page, override,
override_host, safe-search, REFUSED-for-other-types and post-resolution-block answers.
Loopback only; the upstream is the fixture zones for both."""
import http.client
import json
import os
import socket
import ssl
import struct
import subprocess
import unittest

import harness
from harness import build_query

POLICY = os.path.join(harness.ROOT, "fixtures/policy")
HQ_HOST = "hq7x2k9m1a.cloudflare-gateway.com"
# The cache is off so that every transport sees the upstream's TTLs, not ones aged by a
# second between two transports; the cache's own arithmetic is tested in the stages tier.
CONFIG = f"""
[resolver]
cache_size = 0
[policy]
rules = "{POLICY}/rules.json"
lists = "{POLICY}/lists.json"
locations = "{POLICY}/locations.json"
categories = "{harness.ROOT}/fixtures/categories/categories.csv"
max_ttl_secs = 120
"""

# (what it shows, name, type)
CASES = [
    ("allowed, capped to the account's maximum TTL", "www.example.com", "A"),
    ("allowed MX from the zone", "example.com", "MX"),
    ("allowed, TTL under the cap", "www.corp.example.com", "A"),
    ("NXDOMAIN with the SOA", "nope.example.com", "A"),
    ("blocked by list (0.0.0.0)", "blocked.example.com", "A"),
    ("blocked, other types REFUSED", "blocked.example.com", "MX"),
    ("block page (security category)", "malware.testcategory.com", "A"),
    ("override_ips", "portal.example.com", "AAAA"),
    ("override_host", "alias.example.com", "A"),
    ("safe search", "www.google.com", "A"),
    ("post-resolution block on a resolved IP", "badip.example.com", "A"),
    ("post-resolution block on an MX target", "mx-bad.example.com", "MX"),
]
TYPES = {"A": 1, "AAAA": 28, "MX": 15}


def framed(sock, payload):
    sock.sendall(struct.pack("!H", len(payload)) + payload)
    return harness.tcp_frames(sock, 1)[0]


class ExplainMatchesResolver(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = harness.Resolver(
            listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0", "https://127.0.0.1:0/dns-query"),
            config=CONFIG)
        cls.ca = cls.lab.ca_file()
        cls.cfg = os.path.join(cls.lab.tmp, "config.toml")

    @classmethod
    def tearDownClass(cls):
        cls.lab.__exit__(None, None, None)

    def tls(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = False
        return ctx

    def send(self, transport, query):
        if transport == "udp":
            return harness.udp_exchange(self.lab.addr("udp"), query)
        if transport == "tcp":
            with socket.create_connection(self.lab.addr("tcp"), timeout=5) as s:
                return framed(s, query)
        if transport == "tls":
            with socket.create_connection(self.lab.addr("tls"), timeout=5) as raw:
                with self.tls().wrap_socket(raw, server_hostname=HQ_HOST) as s:
                    return framed(s, query)
        host, port = self.lab.addr("https")
        c = http.client.HTTPSConnection(host, port, context=self.tls(), timeout=5)
        c.connect()  # SNI is the IP here; the Host header names the location
        c.request("POST", "/dns-query", body=query,
                  headers={"Host": HQ_HOST, "content-type": "application/dns-message",
                           "accept": "application/dns-message"})
        r = c.getresponse()
        body = r.read()
        c.close()
        self.assertEqual(r.status, 200, body)
        return body

    def explain(self, transport, name, qtype, qid):
        args = [harness.RESOLVER, "explain", "--config", self.cfg, "--name", name, "--type", qtype,
                "--protocol", transport, "--src", "127.0.0.1", "--dst", "127.0.0.1",
                "--id", str(qid), "--udp-size", "1232", "--upstream", "fixture:" + harness.ZONES,
                "--json"]
        if transport == "tls":
            args += ["--sni", HQ_HOST]
        if transport == "https":
            args += ["--doh-host", HQ_HOST, "--sni", "127.0.0.1", "--doh-path", "/dns-query"]
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_same_bytes_on_every_transport(self):
        qid = 0x2000
        for what, name, qtype in CASES:
            for transport in ("udp", "tcp", "tls", "https"):
                qid += 1
                with self.subTest(case=what, transport=transport):
                    query = build_query(name, TYPES[qtype], qid=qid, edns_size=1232)
                    got = self.send(transport, query)
                    doc = self.explain(transport, name, qtype, qid)
                    self.assertIn("response_wire", doc, doc.get("pending"))
                    # Header first, so that a flag difference reads as one.
                    self.assertEqual(harness.header(bytes.fromhex(doc["response_wire"])),
                                     harness.header(got))
                    self.assertEqual(doc["response_wire"], got.hex(),
                                     f"explain's answer differs from what the resolver sent:\n"
                                     f"{doc['answer']}")
                    rec = self.lab.wait_record(lambda r: r.get("QueryName") == name
                                               and r.get("Protocol") == transport
                                               and r.get("QueryTypeName") == qtype)
                    self.assertEqual(rec["ResolverDecision"],
                                     doc["log_record"]["ResolverDecision"])
                    self.assertEqual(rec["Location"], "HQ")
                    self.assertEqual(rec["AppliedMaxTTL"], doc["log_record"]["AppliedMaxTTL"])

    def test_cases_cover_what_they_claim(self):
        """The table really contains each kind of answer (so the comparison means something)."""
        decisions = {}
        for what, name, qtype in CASES:
            doc = self.explain("udp", name, qtype, 1)
            decisions[what] = (doc["decision"]["ResolverDecision"], doc["rcode"],
                               doc["log_record"]["AppliedMaxTTL"])
        self.assertEqual(decisions["allowed, capped to the account's maximum TTL"],
                         ("allowedOnNoPolicyMatch", "NOERROR", 120))
        self.assertEqual(decisions["blocked, other types REFUSED"][1], "REFUSED")
        self.assertEqual(decisions["block page (security category)"][0], "blockedByCategory")
        self.assertEqual(decisions["override_host"][0], "overrideApplied")
        self.assertEqual(decisions["safe search"][0], "overrideForSafeSearch")
        self.assertEqual(decisions["post-resolution block on a resolved IP"][0], "blockedRule")
        self.assertEqual(decisions["NXDOMAIN with the SOA"][1], "NXDOMAIN")


if __name__ == "__main__":
    harness.main()
