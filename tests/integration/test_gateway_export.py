# SPDX-License-Identifier: MIT
"""`dnslab-probe gateway-export` against a local HTTPS server on loopback that answers in the
Cloudflare v4 API's documented shapes: the envelope, result_info pagination by page number
(rules over three pages, a list whose items take two pages) and by cursor (app types), list
items as arrays of item arrays, error envelopes (a 403 with errors[], a 500 on a later page,
a proxy's non-JSON 502). The export is then loaded by dnslab-resolver as it is and a gzip
Logpush file is replayed through it. No test talks to the real API: every socket is
127.0.0.1, certificates come from a CA made here with the openssl CLI."""
import gzip
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_upstream_tls import make_pki  # noqa: E402

TOKEN = "cf-test-token-7d1f0c2b9e"  # must never appear in anything the export writes or prints
ACCOUNT = "699d98642c564d2e855e9661899b7252"
BLOCK_LIST = "11111111-2222-4333-8444-555555555555"
IP_LIST = "66666666-2222-4333-8444-555555555555"
LOC = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0101"
RULE_LIST = "a1000000-0000-4000-8000-0000000000a1"
RULE_NAME = "a1000000-0000-4000-8000-0000000000a2"

RULES = [
    {"id": RULE_LIST, "name": "Block listed domains", "precedence": 10, "enabled": True,
     "action": "block", "filters": ["dns"],
     "traffic": f"any(dns.domains[*] in ${BLOCK_LIST})", "identity": "", "rule_settings": {}},
    {"id": RULE_NAME, "name": "Block one name", "precedence": 20, "enabled": True,
     "action": "block", "filters": ["dns"], "traffic": 'dns.fqdn == "named.example.com"',
     "identity": "", "rule_settings": {}},
    {"id": "a1000000-0000-4000-8000-0000000000a3", "name": "Block bad answers", "precedence": 30,
     "enabled": True, "action": "block", "filters": ["dns"],
     "traffic": f"any(dns.resolved_ips[*] in ${IP_LIST})", "identity": "", "rule_settings": {}},
    {"id": "a1000000-0000-4000-8000-0000000000a4", "name": "Disabled", "precedence": 40,
     "enabled": False, "action": "block", "filters": ["dns"], "traffic": 'dns.fqdn == "x.example"',
     "identity": "", "rule_settings": {}},
    {"id": "a1000000-0000-4000-8000-0000000000a5", "name": "Route corp", "precedence": 50,
     "enabled": True, "action": "resolve", "filters": ["dns_resolver"],
     "traffic": 'any(dns.domains[*] == "corp.internal")', "identity": "",
     "rule_settings": {"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": 5354}]}}},
]
LOCATIONS = [{"id": LOC, "name": "HQ", "client_default": True, "doh_subdomain": "hqexport1",
              "networks": [{"network": "127.0.0.0/8"}], "ecs_support": False}]
# As the lists call returns them: a count, no items.
LISTS = [{"id": BLOCK_LIST, "name": "Blocked domains", "type": "DOMAIN", "count": 3,
          "description": "page 2 holds the third"},
         {"id": IP_LIST, "name": "Bad IPs", "type": "IP", "count": 1}]
ITEMS = {BLOCK_LIST: [{"value": "blocked.example.com", "created_at": "2025-01-01T00:00:00Z"},
                      {"value": "ads.example.net"},
                      {"value": "late.example.org", "description": "only on page 2"}],
         IP_LIST: [{"value": "203.0.113.66"}]}
CATEGORIES = [{"id": 21, "name": "Security threats", "class": "free",
               "subcategories": [{"id": 117, "name": "Malware"}, {"id": 80, "name": "Command and Control & Botnet"}]},
              {"id": 26, "name": "Technology", "subcategories": [{"id": 155, "name": "Technology"}]}]
APP_TYPES = [{"id": 505, "application_type_id": 25, "name": "ChatGPT"},
             {"id": 25, "name": "Artificial Intelligence", "description": "AI apps"},
             {"id": 1, "application_type_id": 7, "name": "Cloudflare Dashboard"}]


def envelope(result, info=None):
    e = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        e["result_info"] = info
    return e


class FakeApi(http.server.BaseHTTPRequestHandler):
    """The Zero Trust Gateway calls, shaped as the API documents them. Behaviour per account:
    ACCOUNT answers; "acc-fail-late" fails the second page of the block list's items with a
    500 envelope; "acc-proxy" answers the categories call with a proxy's HTML 502."""
    protocol_version = "HTTP/1.1"
    seen = []

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json", chunked=False):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("cf-ray", "8f00000000000000-LAB")
        if chunked:  # some responses framed by chunks, as a CDN in front of the API may do
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 97):
                part = data[i:i + 97]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        FakeApi.seen.append({"path": url.path, "query": q, "auth": self.headers.get("authorization"),
                             "host": self.headers.get("host")})
        if self.headers.get("authorization") != "Bearer " + TOKEN:
            return self.reply(403, {"success": False, "errors": [
                {"code": 10000, "message": "Authentication error"}], "messages": [], "result": None})
        parts = url.path.split("/")
        # /client/v4/accounts/<acc>/gateway/<what>[/<id>/items]
        if parts[:4] != ["", "client", "v4", "accounts"] or len(parts) < 7 or parts[5] != "gateway":
            return self.reply(404, {"success": False, "errors": [{"code": 7003, "message": "No route for that URI"}],
                                    "messages": [], "result": None})
        acc, what = parts[4], parts[6:]
        page = int(q.get("page", "1"))
        if what == ["rules"]:  # three pages of two, page numbers with total_pages
            per = 2
            chunk = RULES[(page - 1) * per:page * per]
            return self.reply(200, envelope(chunk, {"page": page, "per_page": per, "count": len(chunk),
                                                    "total_count": len(RULES), "total_pages": 3}), chunked=page == 2)
        if what == ["locations"]:
            return self.reply(200, envelope(LOCATIONS))
        if what == ["lists"]:
            return self.reply(200, envelope(LISTS, {"page": 1, "per_page": 20, "count": 2, "total_count": 2}))
        if len(what) == 3 and what[0] == "lists" and what[2] == "items" and what[1] in ITEMS:
            items = ITEMS[what[1]]
            if acc == "acc-fail-late" and page == 2:
                return self.reply(500, {"success": False, "errors": [
                    {"code": 2007, "message": "Internal server error"}], "messages": [], "result": None})
            per = 2
            chunk = items[(page - 1) * per:page * per]
            # The documented list-items shape: result is an array of item arrays, and
            # result_info has total_count but no total_pages.
            return self.reply(200, envelope([chunk], {"page": page, "per_page": per, "count": len(chunk),
                                                      "total_count": len(items)}))
        if what == ["categories"]:
            if acc == "acc-proxy":
                return self.reply(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            return self.reply(200, envelope(CATEGORIES))
        if what == ["app_types"]:  # cursor pagination
            cursor = q.get("cursor")
            if cursor is None:
                return self.reply(200, envelope(APP_TYPES[:2], {"cursor": "c/2", "per_page": 2}))
            if cursor == "c/2":
                return self.reply(200, envelope(APP_TYPES[2:], {"cursor": "", "per_page": 2}))
        return self.reply(404, {"success": False, "errors": [{"code": 7003, "message": "No route for that URI"}],
                                "messages": [], "result": None})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that refused our certificate is part of a test, not a failure


class GatewayExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-export-it-")
        make_pki(cls.tmp)
        cls.ca = os.path.join(cls.tmp, "ca.pem")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(cls.tmp, "leaf.pem"), os.path.join(cls.tmp, "leaf.key"))
        cls.httpd = Server(("127.0.0.1", 0), FakeApi)
        cls.httpd.socket = ctx.wrap_socket(cls.httpd.socket, server_side=True)
        cls.port = cls.httpd.server_address[1]
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = f"https://localhost:{cls.port}/client/v4"

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        FakeApi.seen.clear()
        self.work = tempfile.mkdtemp(prefix="out-", dir=self.tmp)

    def export(self, account=ACCOUNT, out=None, token=TOKEN, ca=True, base=None):
        out = out or os.path.join(self.work, "export")
        cmd = [harness.PROBE, "gateway-export", "--account", account, "--out", out,
               "--api-base", base or self.base, "--timeout", "5000"]
        if ca:
            cmd += ["--ca", self.ca]
        env = dict(os.environ)
        env.pop("CLOUDFLARE_API_TOKEN", None)
        if token is not None:
            env["CLOUDFLARE_API_TOKEN"] = token
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        self.assertNotIn(TOKEN, p.stdout + p.stderr)
        return p, out

    def assert_nothing_written(self, out):
        self.assertFalse(os.path.exists(out))
        self.assertEqual([n for n in os.listdir(os.path.dirname(out)) if ".partial-" in n], [])

    def test_export_follows_every_page_and_merges_list_items(self):
        p, out = self.export()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("5 rules, 1 locations, 2 lists (4 items)", p.stdout)
        names = sorted(os.listdir(out))
        self.assertEqual(names, ["README.md", "app_types.json", "categories.json", "category_ids.csv",
                                 "lists.json", "locations.json", "manifest.json", "resolver.toml",
                                 "rules.json", "scenario.toml", "zones"])
        with open(os.path.join(out, "rules.json")) as f:
            rules = json.load(f)
        self.assertTrue(rules["success"])
        self.assertEqual([r["id"] for r in rules["result"]], [r["id"] for r in RULES])
        with open(os.path.join(out, "lists.json")) as f:
            lists = json.load(f)["result"]
        self.assertEqual([i["value"] for i in lists[0]["items"]],
                         ["blocked.example.com", "ads.example.net", "late.example.org"])
        self.assertEqual(lists[0]["count"], 3)
        self.assertEqual(lists[0]["items"][2]["description"], "only on page 2")
        with open(os.path.join(out, "app_types.json")) as f:
            self.assertEqual([a["id"] for a in json.load(f)["result"]], [505, 25, 1])
        with open(os.path.join(out, "category_ids.csv")) as f:
            self.assertEqual(f.read(), "id,name,parent\n21,Security threats,0\n26,Technology,0\n"
                                       "80,Command and Control & Botnet,21\n117,Malware,21\n155,Technology,26\n")
        with open(os.path.join(out, "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual(m["schema"], "dnslab.gateway-export.v1")
        self.assertEqual(m["account_id"], ACCOUNT)
        self.assertEqual(m["api_versions_seen"], ["v4"])
        self.assertEqual(m["counts"], {"rules": 5, "dns_rules": 4, "resolver_rules": 1, "locations": 1,
                                       "lists": 2, "list_items": 4, "categories": 2, "subcategories": 3,
                                       "applications": 2, "application_types": 1})
        self.assertEqual(m["pages"], {"rules": 3, "locations": 1, "lists": 1, "list_items": 3,
                                      "categories": 1, "app_types": 2})
        self.assertEqual(m["requests"], 11)
        self.assertEqual(m["requests"], len(FakeApi.seen))
        # What was asked: the documented paths, the pages as result_info announced them.
        asked = [(s["path"].split(ACCOUNT)[-1], s["query"]) for s in FakeApi.seen]
        self.assertIn(("/gateway/rules", {"page": "3", "per_page": "2"}), asked)
        self.assertIn((f"/gateway/lists/{BLOCK_LIST}/items", {"page": "2", "per_page": "2"}), asked)
        self.assertIn(("/gateway/app_types", {"cursor": "c/2", "per_page": "2"}), asked)
        self.assertTrue(all(s["auth"] == "Bearer " + TOKEN for s in FakeApi.seen))
        self.assertTrue(all(s["host"] == f"localhost:{self.port}" for s in FakeApi.seen))
        # The token is in nothing written.
        for dirpath, _, files in os.walk(out):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    self.assertNotIn(TOKEN.encode(), f.read(), name)

    def test_the_resolver_loads_the_export_as_it_is(self):
        p, out = self.export()
        self.assertEqual(p.returncode, 0, p.stderr)
        with harness.Resolver("--config", os.path.join(out, "resolver.toml")) as r:
            host, port = r.addr("udp")
            # late.example.org came from the second page of the list's items call.
            for name in ("late.example.org", "blocked.example.com", "named.example.com"):
                harness.kdig(host, port, "+short", name, "A")
                rec = r.wait_record(lambda x, n=name: x.get("QueryName") == n)
                self.assertTrue(rec["ResolverDecision"].startswith("blocked"), rec)
                self.assertEqual(rec["AccountID"], ACCOUNT)  # [log] account_id of the export
                self.assertEqual(rec["Location"], "HQ")
            rec = r.wait_record(lambda x: x.get("QueryName") == "late.example.org")
            self.assertEqual(rec["PolicyID"], RULE_LIST)
            # 203.0.113.66 (badip.example.com in the fixture zones) is in the IP list.
            harness.kdig(host, port, "+short", "badip.example.com", "A")
            rec = r.wait_record(lambda x: x.get("QueryName") == "badip.example.com")
            self.assertEqual(rec["ResolverDecision"], "blockedRule")
            self.assertEqual(rec["InitialResolvedIPs"], ["203.0.113.66"])

    def test_a_gzip_logpush_file_replays_through_the_export(self):
        p, out = self.export()
        self.assertEqual(p.returncode, 0, p.stderr)
        base = {"Location": "HQ", "LocationID": LOC, "QueryType": 1, "QueryTypeName": "A",
                "Protocol": "udp", "SrcIP": "198.51.100.7", "RCode": 0}
        records = [
            dict(base, QueryName="late.example.org", ResolverDecision="blockedByQueryName",
                 PolicyID=RULE_LIST, ResolvedIPs=["0.0.0.0"]),
            dict(base, QueryName="named.example.com", ResolverDecision="blockedByQueryName",
                 PolicyID=RULE_NAME, ResolvedIPs=["0.0.0.0"], Protocol="https"),
            dict(base, QueryName="www.customer-site.example", ResolverDecision="allowedOnNoPolicyMatch",
                 PolicyID="", ResolvedIPs=["192.0.2.44"], Protocol="tls"),
        ]
        log = os.path.join(self.work, "20260101T000000Z_20260101T000100Z_3f2a.log.gz")
        with gzip.open(log, "wt") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
        rp = subprocess.run([harness.PROBE, "replay", log, "--scenario", out, "--json"], capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, DNSLAB_RESOLVER=harness.RESOLVER))
        self.assertEqual(rp.returncode, 0, rp.stdout[-3000:] + rp.stderr)
        rep = json.loads(rp.stdout)
        self.assertEqual(rep["summary"]["records"], 3)
        self.assertEqual(rep["summary"]["agree"], 3)

    def test_forbidden_token_is_reported_as_the_api_states_it(self):
        p, out = self.export(token="wrong-token")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"GET /client/v4/accounts/{ACCOUNT}/gateway/rules: HTTP 403: error 10000: "
                      "Authentication error", p.stderr)
        self.assertNotIn("wrong-token", p.stdout + p.stderr)
        self.assert_nothing_written(out)
        self.assertEqual(len(FakeApi.seen), 1)  # stops at the first error

    def test_an_error_on_a_later_page_leaves_nothing_behind(self):
        p, out = self.export(account="acc-fail-late")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"GET /client/v4/accounts/acc-fail-late/gateway/lists/{BLOCK_LIST}/items?page=2&per_page=2: "
                      "HTTP 500: error 2007: Internal server error", p.stderr)
        self.assertIn("nothing was written", p.stderr)
        self.assert_nothing_written(out)

    def test_a_non_json_error_body_is_quoted(self):
        p, out = self.export(account="acc-proxy")
        self.assertEqual(p.returncode, 1)
        self.assertIn("gateway/categories: HTTP 502: <html><body>502 Bad Gateway</body></html>", p.stderr)
        self.assert_nothing_written(out)

    def test_trust_store_and_usage(self):
        # Without --ca the lab CA is not trusted: the certificate check fails the connection.
        p, out = self.export(ca=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("certificate verify failed", p.stderr)
        self.assert_nothing_written(out)
        self.assertEqual(FakeApi.seen, [])  # the token never left over an untrusted connection
        p, out = self.export(token=None)
        self.assertEqual(p.returncode, 2)
        self.assertIn("CLOUDFLARE_API_TOKEN is not set", p.stderr)
        p, out = self.export(base=f"http://127.0.0.1:{self.port}/client/v4")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--api-base must be an https:// URL", p.stderr)
        taken = os.path.join(self.work, "taken")
        os.makedirs(taken)
        with open(os.path.join(taken, "keep.txt"), "w") as f:
            f.write("mine")
        p, _ = self.export(out=taken)
        self.assertEqual(p.returncode, 2)
        self.assertIn("exists and is not an empty folder", p.stderr)
        self.assertEqual(os.listdir(taken), ["keep.txt"])
        self.assertEqual(FakeApi.seen, [])


if __name__ == "__main__":
    harness.main()
