# SPDX-License-Identifier: MIT
"""The gateway_dns query log of the running resolver: records of real queries over UDP, TCP,
DoT and DoH (kdig, curl) carry every one of the dataset's 82 fields with its documented type
(docs/gateway_dns_fields.json, the one list), and the values the lab knows: [log] constants,
identity map users, geo codes, category names, reversed names, resource records, QueryID.
AuthoritativeNameServerIPs is checked against NSD as an authoritative upstream.
Loopback only: every listener binds 127.0.0.1 port 0 (NSD, which cannot, on a free port)."""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import unittest

import harness

FIELDS = json.load(open(os.path.join(harness.ROOT, "docs/gateway_dns_fields.json")))["fields"]
POLICY = os.path.join(harness.ROOT, "fixtures/policy")
FIXTURES = os.path.join(harness.ROOT, "fixtures")

IDENTITIES = [
    {"token": "tok-ada", "email": "ada@example.com", "name": "Ada",
     "user_id": "5a1e0000-0000-4000-8000-000000000001",
     "device_id": "dad71818-0429-11ec-a0dc-000000000001", "device_name": "Laptop MB810",
     "registration_id": "dad71818-0429-11ec-a0dc-0000000000aa"},
]
LOG_TABLE = """[log]
account_id = "699d98642c564d2e855e9661899b7252"
tenant_id = "tenant-7"
colo_code = "SJC"
colo_id = 46
team_name = "acme"
"""


def type_ok(value, t):
    is_int = isinstance(value, int) and not isinstance(value, bool)
    checks = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: is_int,
        "bool": lambda v: isinstance(v, bool),
        "int or string": lambda v: is_int or isinstance(v, str),
        "array[string]": lambda v: isinstance(v, list) and all(isinstance(e, str) for e in v),
        "array[int]": lambda v: isinstance(v, list) and all(
            isinstance(e, int) and not isinstance(e, bool) for e in v),
        "array[object]": lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v),
    }
    return checks[t](value)


def shape_errors(rec):
    """What is wrong with a record's shape: missing fields, wrong types, unknown fields."""
    errors = []
    names = {f["name"] for f in FIELDS}
    for f in FIELDS:
        name, t = f["name"], f["type"]
        if name not in rec:
            errors.append(f"missing {name}")
        elif not type_ok(rec[name], t):
            errors.append(f"{name} is {rec[name]!r}, not {t}")
    errors += [f"unknown field {k}" for k in rec if k not in names and not k.startswith("Lab")]
    return errors


def parse_rr(data):
    """Owner name, type and RDATA of one uncompressed wire record."""
    pos, labels = 0, []
    while data[pos]:
        n = data[pos]
        labels.append(data[pos + 1:pos + 1 + n].decode())
        pos += 1 + n
    pos += 1
    rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
    rdata = data[pos + 10:pos + 10 + rdlen]
    assert len(rdata) == rdlen and pos + 10 + rdlen == len(data), "trailing or short record bytes"
    return ".".join(labels), rtype, rdata


class QueryLogRecords(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-querylog-it-")
        ids = os.path.join(cls.tmp, "identities.json")
        with open(ids, "w") as f:
            json.dump(IDENTITIES, f)
        config = LOG_TABLE + f"""[policy]
rules = "{POLICY}/rules.json"
lists = "{POLICY}/lists.json"
locations = "{POLICY}/locations.json"
categories = "{FIXTURES}/categories/categories.csv"
category_ids = "{FIXTURES}/categories/ids.csv"
geo = "{FIXTURES}/geo/geo.csv"
identities = "{ids}"
"""
        cls.r = harness.Resolver(listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                         "https://127.0.0.1:0/dns-query"), config=config)
        cls.ca = cls.r.ca_file()

    @classmethod
    def tearDownClass(cls):
        cls.r.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kdig(self, transport, name, qtype="A"):
        args = ["+noall", "+answer"]
        if transport in ("udp", "tcp"):
            host, port = self.r.addr(transport)
            args.append("+notcp" if transport == "udp" else "+tcp")
        else:
            host, port = self.r.addr("tls" if transport == "dot" else "https")
            args += ["+tls-ca=" + self.ca, "+tls-hostname=localhost"]
            if transport == "doh":
                args.append("+https=/dns-query")
        return harness.kdig(host, port, *args, name, qtype)

    def curl_doh(self, name, token):
        _, port = self.r.addr("https")
        return harness.run(["curl", "-sS", "--http2", "--cacert", self.ca, "-H", "accept: application/dns-json",
                            "-H", "CF-Authorization: " + token,
                            f"https://localhost:{port}/dns-query?name={name}&type=A"]).stdout

    def record(self, name, protocol, pred=None):
        deadline = time.time() + 5
        while True:
            recs = [r for r in self.r.log_records(timeout=0)
                    if r.get("QueryName") == name and r.get("Protocol") == protocol and (pred is None or pred(r))]
            if recs:
                return recs[-1]
            if time.time() > deadline:
                raise AssertionError(f"no record for {name} over {protocol}")
            time.sleep(0.05)

    def test_every_record_has_the_82_fields_with_their_types(self):
        asked = [("udp", "www.example.com"), ("tcp", "cdn.example.com"), ("dot", "blocked.example.com"),
                 ("doh", "badip.example.com"), ("udp", "portal.example.com"), ("tcp", "nx.example.com")]
        for transport, name in asked:
            self.kdig(transport, name)
        self.curl_doh("www.example.com", "tok-ada")
        protocol = {"udp": "udp", "tcp": "tcp", "dot": "tls", "doh": "https"}
        for transport, name in asked:
            rec = self.record(name, protocol[transport])
            self.assertEqual(shape_errors(rec), [], (transport, name, rec))
        recs = self.r.log_records(wait_for=len(asked) + 1)
        self.assertEqual(len(FIELDS), 82)
        for rec in recs:
            self.assertEqual(shape_errors(rec), [], rec)
        ids = [r["QueryID"] for r in recs]
        self.assertEqual(len(set(ids)), len(ids), "QueryID repeats")
        self.assertTrue(all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids)

    def test_constants_identity_geo_and_names(self):
        self.kdig("udp", "cdn.example.com")
        udp = self.record("cdn.example.com", "udp")
        self.assertEqual((udp["AccountID"], udp["TenantID"], udp["ColoCode"], udp["ColoID"]),
                         ("699d98642c564d2e855e9661899b7252", "tenant-7", "SJC", 46))
        self.assertEqual(udp["Email"], "non_identity@acme.cloudflareaccess.com")
        self.assertEqual(udp["UserID"], "")
        # 127.0.0.1 is CH/EU in fixtures/geo/geo.csv.
        self.assertEqual((udp["SrcIPCountryCode"], udp["SrcIPContinentCode"]), ("CH", "EU"))
        self.assertEqual(udp["QueryNameReversed"], "com.example.cdn")
        self.assertEqual(udp["CNAMEs"], ["edge.example.net"])
        self.assertEqual(udp["CNAMEsReversed"], ["net.example.edge"])
        self.assertEqual(len(udp["ResolvedIPCountryCodes"]), len(udp["ResolvedIPs"]))
        self.assertEqual(udp["InitialResolvedIPs"], udp["ResolvedIPs"])
        self.assertEqual(udp["InitialCategoryNames"], ["Technology", "Technology"])  # 26, 155

        self.curl_doh("www.example.com", "tok-ada")
        doh = self.record("www.example.com", "https", lambda r: r["Email"] == "ada@example.com")
        self.assertEqual((doh["UserID"], doh["DeviceID"], doh["DeviceName"], doh["RegistrationID"]),
                         ("5a1e0000-0000-4000-8000-000000000001", "dad71818-0429-11ec-a0dc-000000000001",
                          "Laptop MB810", "dad71818-0429-11ec-a0dc-0000000000aa"))
        self.assertEqual(doh["ResolvedIPs"], ["192.0.2.10"])
        self.assertEqual((doh["ResolvedIPCountryCodes"], doh["ResolvedIPContinentCodes"]), (["US"], ["NA"]))

    def test_resource_records_match_the_answer(self):
        out = self.kdig("dot", "cdn.example.com")
        rec = self.record("cdn.example.com", "tls")
        rrs = json.loads(rec["ResourceRecordsJSON"])
        self.assertEqual(len(rrs), len([l for l in out.splitlines() if l.strip() and not l.startswith(";")]))
        self.assertEqual(rrs[0], {"name": "cdn.example.com", "type": "CNAME", "class": "IN",
                                  "ttl": rrs[0]["ttl"], "rdata": "edge.example.net."})
        self.assertEqual([r["rdata"] for r in rrs if r["type"] in ("A", "AAAA")], rec["ResolvedIPs"])
        self.assertEqual(rec["RData"], rec["ResourceRecords"])
        for obj, text in zip(rec["ResourceRecords"], rrs):
            owner, rtype, rdata = parse_rr(base64.b64decode(obj["data"], validate=True))
            self.assertEqual(owner, text["name"])
            self.assertEqual(str(rtype), obj["type"])
            if text["type"] == "A":
                self.assertEqual(".".join(str(b) for b in rdata), text["rdata"])

    def test_post_resolution_block_keeps_initial_resolved_ips(self):
        self.kdig("doh", "badip.example.com")
        rec = self.record("badip.example.com", "https")
        self.assertEqual(rec["ResolverDecision"], "blockedRule")
        self.assertEqual(rec["ResolvedIPs"], ["0.0.0.0"])
        self.assertEqual(rec["InitialResolvedIPs"], ["203.0.113.66"])
        self.assertEqual(rec["Policy"], rec["PolicyID"])

    def test_rejects_unknown_log_keys(self):
        cfg = os.path.join(self.tmp, "bad.toml")
        with open(cfg, "w") as f:
            f.write('[log]\naccount = "x"\n')
        p = harness.run([harness.RESOLVER, "--config", cfg, "--listen", "dns://127.0.0.1:0",
                         "--upstream", "fixture:" + harness.ZONES], check=False, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown key 'log.account'", p.stderr)


NSD_CONF = """server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    database: ""
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    verbosity: 1
    server-count: 1
remote-control:
    control-enable: no
zone:
    name: example.com
    zonefile: "{zone}"
"""


class AuthoritativeUpstream(unittest.TestCase):
    """The lab in front of NSD (authoritative: AA=1): its address is the authoritative name
    server that provided the answer. In front of another dnslab-resolver (recursive, no
    AA) the field stays empty."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-querylog-nsd-")
        cls.port = harness.free_udp_tcp_port()
        conf = os.path.join(cls.tmp, "nsd.conf")
        with open(conf, "w") as f:
            f.write(NSD_CONF.format(port=cls.port, dir=cls.tmp,
                                    zone=os.path.join(harness.ZONES, "example.com.zone")))
        cls.nsd_log = open(os.path.join(cls.tmp, "nsd.log"), "w")
        cls.nsd = subprocess.Popen(["nsd", "-d", "-c", conf], stdout=cls.nsd_log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                out = harness.kdig("127.0.0.1", cls.port, "+short", "+time=1", "www.example.com", "A")
                if "192.0.2.10" in out:
                    break
            except AssertionError:
                pass
            if cls.nsd.poll() is not None or time.time() > deadline:
                cls.stop_nsd()
                raise RuntimeError("nsd did not answer: " + open(os.path.join(cls.tmp, "nsd.log")).read())
            time.sleep(0.1)
        cls.r = harness.Resolver(upstream=(f"udp://127.0.0.1:{cls.port}",))

    @classmethod
    def stop_nsd(cls):
        harness.stop_process(cls.nsd)
        cls.nsd_log.close()

    @classmethod
    def tearDownClass(cls):
        cls.r.__exit__(None, None, None)
        cls.stop_nsd()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_authoritative_server_address(self):
        host, port = self.r.addr("udp")
        harness.kdig(host, port, "+short", "www.example.com", "A")
        rec = self.r.wait_record(lambda r: r.get("QueryName") == "www.example.com")
        self.assertEqual(rec["AuthoritativeNameServerIPs"], ["127.0.0.1"])
        self.assertEqual(shape_errors(rec), [])
        # The lab itself is recursive (no AA): a second lab in front of this one learns nothing.
        with harness.Resolver(upstream=(f"udp://{host}:{port}",)) as front:
            fh, fp = front.addr("udp")
            harness.kdig(fh, fp, "+short", "www.example.com", "A")
            rec = front.wait_record(lambda r: r.get("QueryName") == "www.example.com")
            self.assertEqual(rec["AuthoritativeNameServerIPs"], [])
            self.assertEqual(rec["ResolvedIPs"], ["192.0.2.10"])


if __name__ == "__main__":
    harness.main()
