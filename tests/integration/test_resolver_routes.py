# SPDX-License-Identifier: MIT
"""Resolver-policy routes end to end (issue 17): Internal DNS views with fallback (two fixture
upstreams, an unreachable view), custom resolvers on non-53 loopback ports (TCP retry on TC,
IPv6, private networks, the fastest first), EDNS Client Subnet sent upstream (IPv4 /24, IPv6
/56 from ::1, a client's own ECS) to a peer that records what it received; the routes over
UDP, TCP, DoT and DoH (kdig, curl) with the log records checked against the 82-field list.
Coverage table: docs/policy-e2e.md. Loopback only; every port from the kernel."""
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import PROBE, Resolver, dead_udp_port, kdig, main, run
from test_query_log import shape_errors

HQ = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0001"
SUB = "hq7x2k9m1a"  # HQ's DoH subdomain: the DoT SNI / DoH path that attributes to HQ
GW_HOST = SUB + ".cloudflare-gateway.com"
TRANSPORTS = ("udp", "tcp", "dot", "doh")
PROTOCOL = {"udp": "udp", "tcp": "tcp", "dot": "tls", "doh": "https"}
EVERY_LISTENER = ("dns://127.0.0.1:0", "tls://127.0.0.1:0", "https://127.0.0.1:0/dns-query")


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def ask(r, transport, name, qtype="A", *extra):
    """kdig over one transport of resolver `r`, attributed to HQ: Do53 by source network
    (127.0.0.1) or destination (::1), DoT by SNI, DoH by the lab path /dns-query/<sub>.
    Returns kdig's full text (header, answer, OPT)."""
    args = ["+noall", "+header", "+answer", *extra]
    if transport in ("udp", "tcp"):
        host, port = r.addr(transport)
        args.append("+notcp" if transport == "udp" else "+tcp")
    elif transport == "dot":
        host, port = r.addr("tls")
        args += ["+tls-ca=" + r.ca_file(), "+tls-hostname=" + GW_HOST]
    else:
        host, port = r.addr("https")
        args += ["+tls-ca=" + r.ca_file(), "+tls-hostname=localhost", f"+https=/dns-query/{SUB}"]
    return kdig(host, port, *args, name, qtype)


def answer_data(text, rtype="A"):
    """The RDATA of kdig's answer lines of one type."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 5 and parts[2] == "IN" and parts[3] == rtype:
            out.append(" ".join(parts[4:]))
    return out


# --- a tiny DNS peer on loopback: answers what the test scripts, records what it received ---

def parse_query(msg):
    """(id, flags, qname, qtype, options) of a query: options is {code: bytes} of its OPT."""
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    pos, labels = 12, []
    while msg[pos]:
        n = msg[pos]
        labels.append(msg[pos + 1:pos + 1 + n].decode())
        pos += 1 + n
    pos += 1
    qtype, _ = struct.unpack("!HH", msg[pos:pos + 4])
    question_end = pos + 4
    pos = question_end
    options = {}
    for _ in range(an + ns + ar):
        if msg[pos] != 0:
            break  # a query we send has only the root-named OPT here
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos + 1:pos + 11])
        rdata = msg[pos + 11:pos + 11 + rdlen]
        if rtype == 41:
            i = 0
            while i + 4 <= len(rdata):
                code, olen = struct.unpack("!HH", rdata[i:i + 4])
                options[code] = rdata[i + 4:i + 4 + olen]
                i += 4 + olen
        pos += 11 + rdlen
    return qid, flags, ".".join(labels).lower(), qtype, options, msg[12:question_end]


def ecs_text(option):
    """'192.0.2.0/24' from an ECS option's bytes (RFC 7871 §6), or '' without one."""
    if option is None:
        return ""
    family, source, _scope = struct.unpack("!HBB", option[:4])
    addr = option[4:]
    if family == 1:
        return socket.inet_ntop(socket.AF_INET, addr + bytes(4 - len(addr))) + f"/{source}"
    return socket.inet_ntop(socket.AF_INET6, addr + bytes(16 - len(addr))) + f"/{source}"


def answer(query, records, truncate=False, rcode=0):
    """A response to `query` with (type, rdata bytes) answer records for the question name."""
    qid, flags, _, _, _, question = parse_query(query)
    out_flags = 0x8000 | (flags & 0x0100) | 0x0080 | rcode | (0x0200 if truncate else 0)
    body = b"" if truncate else b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", t, 1, 60, len(rd)) + rd for t, rd in records)
    return struct.pack("!HHHHHH", qid, out_flags, 1, 0 if truncate else len(records), 0, 0) + question + body


class Peer:
    """A DNS server on 127.0.0.1 (or ::1) with the same kernel-chosen port for UDP and TCP.
    `respond(query, over_tcp)` returns the response bytes; every query is recorded."""

    def __init__(self, respond, family=socket.AF_INET, delay=0.0):
        self.respond = respond
        self.delay = delay
        self.received = []  # (transport, qname, qtype, options)
        host = "127.0.0.1" if family == socket.AF_INET else "::1"
        for _ in range(50):
            self.udp = socket.socket(family, socket.SOCK_DGRAM)
            self.udp.bind((host, 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(family, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind((host, self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(8)
        self.stopping = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def _note(self, transport, msg):
        _, _, name, qtype, options, _ = parse_query(msg)
        self.received.append((transport, name, qtype, options))

    def _serve_udp(self):
        self.udp.settimeout(0.2)
        while not self.stopping:
            try:
                msg, addr = self.udp.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            self._note("udp", msg)
            if self.delay:
                time.sleep(self.delay)
            self.udp.sendto(self.respond(msg, False), addr)

    def _serve_tcp(self):
        self.tcp.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(2)
                try:
                    while True:
                        head = conn.recv(2)
                        if len(head) < 2:
                            break
                        n = struct.unpack("!H", head)[0]
                        msg = b""
                        while len(msg) < n:
                            chunk = conn.recv(n - len(msg))
                            if not chunk:
                                break
                            msg += chunk
                        self._note("tcp", msg)
                        out = self.respond(msg, True)
                        conn.sendall(struct.pack("!H", len(out)) + out)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        for t in self.threads:
            t.join(timeout=2)
        self.udp.close()
        self.tcp.close()


def a_record(ip):
    return (1, socket.inet_aton(ip))


def txt_record(text):
    data = text.encode()
    return (16, bytes([len(data)]) + data)


def rules(resolver_rules):
    """A rules export holding only resolver policies (precedence in list order)."""
    result = []
    for i, (traffic, settings) in enumerate(resolver_rules):
        result.append({"id": f"r{i}", "name": f"route {i}", "precedence": 1000 + i, "enabled": True,
                       "action": "resolve", "filters": ["dns_resolver"], "traffic": traffic,
                       "identity": "", "rule_settings": settings})
    return {"success": True, "errors": [], "messages": [], "result": result}


def locations(ecs):
    # `ip` is the location's own IPv6 resolver address: Do53 from ::1 to [::1] is HQ's.
    return {"success": True, "errors": [], "messages": [], "result": [
        {"id": HQ, "name": "HQ", "client_default": False, "doh_subdomain": SUB,
         "ecs_support": ecs, "networks": [{"network": "127.0.0.0/24"}], "ip": "::1",
         "endpoints": {"ipv4": {"enabled": True}, "ipv6": {"enabled": True},
                       "dot": {"enabled": True, "networks": []},
                       "doh": {"enabled": True, "networks": [], "require_token": False}}}]}


ZONE_VIEW = """$ORIGIN corp.example.
$TTL 60
@    IN SOA ns1.corp.example. hostmaster.corp.example. 1 7200 3600 1209600 60
     IN NS  ns1.corp.example.
ns1  IN A   10.20.0.53
app  IN A   10.20.0.10
"""

ZONE_PUBLIC = """$ORIGIN corp.example.
$TTL 60
@    IN SOA ns1.corp.example. hostmaster.corp.example. 1 7200 3600 1209600 60
     IN NS  ns1.corp.example.
ns1  IN A   203.0.113.53
app  IN A   203.0.113.10
www  IN A   203.0.113.80
docs IN A   203.0.113.81
"""


class Lab(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-routes-")
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text if isinstance(text, str) else json.dumps(text))
        return path

    def peer(self, respond, **kw):
        p = Peer(respond, **kw)
        self.peers.append(p)
        return p

    def resolver(self, rule_list, extra_config="", ecs=False, listen=("dns://127.0.0.1:0",),
                 upstream=None):
        cfg = f"""
[policy]
rules = "{self.write('rules.json', rules(rule_list))}"
locations = "{self.write('locations.json', locations(ecs))}"
{extra_config}
"""
        return Resolver(config=cfg, listen=listen,
                        upstream=upstream or ("fixture:" + os.path.dirname(self.write("public/corp.example.zone", ZONE_PUBLIC)),))


class InternalDns(Lab):
    def config(self, fallback):
        view_dir = os.path.dirname(self.write("view/corp.example.zone", ZONE_VIEW))
        return [("any(dns.domains[*] == \"corp.example\")",
                 {"resolve_dns_internally": {"view_id": "view-corp", "fallback": fallback}})], f"""
[internal_dns]
views = {{ "view-corp" = "fixture:{view_dir}" }}
zones = {{ "corp.example" = "zone-0001" }}
"""

    def test_view_answers_and_public_dns_fallback_over_udp_and_doh(self):
        rule_list, extra = self.config("public_dns")
        with self.resolver(rule_list, extra, listen=("dns://127.0.0.1:0", "https://127.0.0.1:0/dns-query")) as r:
            host, port = r.addr("udp")
            # The view holds app: its answer, not the public one.
            self.assertEqual(kdig(host, port, "+short", "app.corp.example", "A").split(), ["10.20.0.10"])
            # The view has no www (NXDOMAIN): fallback public_dns answers from the default upstream.
            self.assertEqual(kdig(host, port, "+short", "www.corp.example", "A").split(), ["203.0.113.80"])
            recs = r.log_records(wait_for=2)
            app = next(x for x in recs if x["QueryName"] == "app.corp.example")
            self.assertEqual(app["InternalDNSViewID"], "view-corp")
            self.assertEqual(app["InternalDNSFallbackStrategy"], "")
            self.assertEqual(app["InternalDNSRCode"], 0)
            self.assertEqual(app["InternalDNSZoneID"], "zone-0001")
            self.assertIsInstance(app["InternalDNSDurationMs"], int)
            self.assertEqual(app["ResolverPolicyID"], "r0")
            www = next(x for x in recs if x["QueryName"] == "www.corp.example")
            self.assertEqual(www["InternalDNSFallbackStrategy"], "public_dns")
            self.assertEqual(www["InternalDNSRCode"], 3)  # the view said NXDOMAIN
            self.assertEqual(www["RCode"], 0)

            # DoH, attributed by the location's DoH path: the same routes, the same fallback.
            _, doh_port = r.addr("https")
            url = f"https://127.0.0.1:{doh_port}/dns-query/hq7x2k9m1a"
            out = run(["kdig", "@127.0.0.1", "-p", str(doh_port), "+https=/dns-query/hq7x2k9m1a",
                       "+tls-ca=" + r.ca_file(), "+retry=0", "+time=3", "+short",
                       "docs.corp.example", "A"]).stdout
            self.assertEqual(out.split(), ["203.0.113.81"], url)
            doh = r.wait_record(lambda x: x["QueryName"] == "docs.corp.example")
            self.assertEqual(doh["Protocol"], "https")
            self.assertEqual(doh["Location"], "HQ")
            self.assertEqual(doh["InternalDNSViewID"], "view-corp")
            self.assertEqual(doh["InternalDNSFallbackStrategy"], "public_dns")

    def test_fallback_none_keeps_the_views_nxdomain(self):
        rule_list, extra = self.config("none")
        with self.resolver(rule_list, extra) as r:
            host, port = r.addr("udp")
            out = kdig(host, port, "www.corp.example", "A")
            self.assertIn("NXDOMAIN", out)
            rec = r.wait_record(lambda x: x["QueryName"] == "www.corp.example")
            self.assertEqual(rec["InternalDNSFallbackStrategy"], "")
            self.assertEqual(rec["InternalDNSRCode"], 3)


class CustomResolvers(Lab):
    def test_non_53_port_answering_tc_over_udp_is_retried_over_tcp(self):
        def respond(q, over_tcp):
            return answer(q, [a_record("10.30.0.7")], truncate=not over_tcp)
        peer = self.peer(respond)
        rule_list = [("any(dns.domains[*] == \"corp.example\")",
                      {"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": peer.port}]}})]
        with self.resolver(rule_list) as r:
            host, port = r.addr("udp")
            self.assertEqual(kdig(host, port, "+short", "db.corp.example", "A").split(), ["10.30.0.7"])
            self.assertEqual([t for t, *_ in peer.received], ["udp", "tcp"])
            rec = r.wait_record(lambda x: x["QueryName"] == "db.corp.example")
            self.assertEqual(rec["CustomResolverAddress"], f"127.0.0.1:{peer.port}")
            self.assertEqual(rec["CustomResolverResponse"], "NOERROR")
            self.assertIsInstance(rec["CustomResolveDurationMs"], int)

    def test_ipv6_resolver_and_private_network_mapping(self):
        v6 = self.peer(lambda q, t: answer(q, [a_record("10.30.0.6")]), family=socket.AF_INET6)
        private = self.peer(lambda q, t: answer(q, [a_record("10.30.0.9")]))
        rule_list = [
            ("any(dns.domains[*] == \"v6.example\")",
             {"dns_resolvers": {"ipv6": [{"ip": "::1", "port": v6.port}]}}),
            ("any(dns.domains[*] == \"corp.example\")",
             {"dns_resolvers": {"ipv4": [{"ip": "10.0.0.53", "port": 53,
                                          "route_through_private_network": True,
                                          "vnet_id": "vnet-office"}]}}),
        ]
        extra = f"""
[private_networks]
vnets = {{ "vnet-office" = "udp://127.0.0.1:{private.port}" }}
"""
        with self.resolver(rule_list, extra) as r:
            host, port = r.addr("udp")
            self.assertEqual(kdig(host, port, "+short", "a.v6.example", "A").split(), ["10.30.0.6"])
            self.assertEqual(kdig(host, port, "+short", "db.corp.example", "A").split(), ["10.30.0.9"])
            self.assertEqual([n for _, n, *_ in private.received], ["db.corp.example"])
            rec = r.wait_record(lambda x: x["QueryName"] == "a.v6.example")
            self.assertEqual(rec["CustomResolverAddress"], f"[::1]:{v6.port}")

    def test_unreachable_private_resolver_is_servfail_never_the_default(self):
        rule_list = [("any(dns.domains[*] == \"corp.example\")",
                      {"dns_resolvers": {"ipv4": [{"ip": "10.0.0.53",
                                                   "route_through_private_network": True}]}})]
        with self.resolver(rule_list) as r:
            host, port = r.addr("udp")
            out = kdig(host, port, "app.corp.example", "A")
            self.assertIn("SERVFAIL", out)
            self.assertNotIn("203.0.113.10", out)

    def test_the_fastest_resolver_is_preferred_after_each_answered_once(self):
        slow = self.peer(lambda q, t: answer(q, [a_record("10.40.0.1")]), delay=0.15)
        fast = self.peer(lambda q, t: answer(q, [a_record("10.40.0.2")]))
        rule_list = [("any(dns.domains[*] == \"corp.example\")",
                      {"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": slow.port},
                                                  {"ip": "127.0.0.1", "port": fast.port}]}})]
        with self.resolver(rule_list) as r:
            host, port = r.addr("udp")
            got = [kdig(host, port, "+short", f"n{i}.corp.example", "A").split() for i in range(6)]
            # The documented order first (each measured once), then the fastest every time.
            self.assertEqual(got[0], ["10.40.0.1"])
            self.assertEqual(got[1:], [["10.40.0.2"]] * 5)
            self.assertEqual(len(slow.received), 1)

    def test_order_setting_keeps_the_documented_order(self):
        slow = self.peer(lambda q, t: answer(q, [a_record("10.40.0.1")]), delay=0.05)
        fast = self.peer(lambda q, t: answer(q, [a_record("10.40.0.2")]))
        rule_list = [("any(dns.domains[*] == \"corp.example\")",
                      {"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": slow.port},
                                                  {"ip": "127.0.0.1", "port": fast.port}]}})]
        with self.resolver(rule_list, '[behaviour]\ncustom_resolver_selection = "order"\n') as r:
            host, port = r.addr("udp")
            got = [kdig(host, port, "+short", f"n{i}.corp.example", "A").split() for i in range(3)]
            self.assertEqual(got, [["10.40.0.1"]] * 3)
            self.assertEqual(len(fast.received), 0)


def ecs_echo(q, over_tcp):
    """Answers TXT with the ECS the peer received, A with a fixed address."""
    _, _, _, qtype, options, _ = parse_query(q)
    if qtype == 16:
        return answer(q, [txt_record("ecs=" + (ecs_text(options.get(8)) or "none"))])
    return answer(q, [a_record("192.0.2.99")])


class ClientSubnet(Lab):
    echo = staticmethod(ecs_echo)

    def test_location_with_ecs_support_sends_the_client_24(self):
        peer = self.peer(self.echo)
        with self.resolver([], ecs=True, upstream=(f"udp://127.0.0.1:{peer.port}",)) as r:
            host, port = r.addr("udp")
            out = kdig(host, port, "+short", "who.example.com", "TXT")
            self.assertEqual(out.strip(), '"ecs=127.0.0.0/24"')
            _, _, _, options = peer.received[-1]
            self.assertEqual(options[8], b"\x00\x01\x18\x00\x7f\x00\x00")  # family 1, /24, scope 0
            rec = r.wait_record(lambda x: x["QueryName"] == "who.example.com")
            self.assertEqual(rec["LabClientSubnet"], "127.0.0.0/24")
            self.assertEqual(rec["Location"], "HQ")
            # The client never sees the upstream's ECS (RFC 7871 §7.2.2: it sent none).
            self.assertNotIn("CLIENT-SUBNET", kdig(host, port, "who2.example.com", "A").upper())

            # The probe's capture of the exchange shows the subnet the upstream received.
            pcap = os.path.join(self.tmp, "ecs.pcap")
            run([PROBE, "--target", f"lab=udp://{host}:{port}", "--pcap", pcap,
                 "who3.example.com", "TXT"], check=False)
            with open(pcap, "rb") as f:
                self.assertIn(b"ecs=127.0.0.0/24", f.read())

    def test_a_clients_own_ecs_caps_the_prefix_and_comes_back(self):
        # A forwarder's ECS (RFC 7871 §7.1.3), kdig +subnet: the lab keeps using the source
        # address, never with more bits than the client sent (§7.1.1), and answers with the
        # client's option, SCOPE 0 (§7.2.2); over UDP and DoT.
        peer = self.peer(self.echo)
        with self.resolver([], ecs=True, listen=EVERY_LISTENER,
                           upstream=(f"udp://127.0.0.1:{peer.port}",)) as r:
            for t in ("udp", "dot"):
                with self.subTest(transport=t):
                    name = f"fwd-{t}.example.com"
                    out = ask(r, t, name, "TXT", "+subnet=198.51.100.0/16", "+opt")
                    self.assertEqual(answer_data(out, "TXT"), ['"ecs=127.0.0.0/16"'])
                    self.assertEqual([o.get(8) for _, n, _, o in peer.received if n == name],
                                     [b"\x00\x01\x10\x00\x7f\x00"])
                    # kdig sends the address cut to the prefix, 198.51.0.0/16; it comes back as sent.
                    self.assertIn("CLIENT-SUBNET: 198.51.0.0/16/0", out)
                    self.assertEqual(r.wait_record(lambda x: x["QueryName"] == name)["LabClientSubnet"],
                                     "127.0.0.0/16")
            # SOURCE PREFIX-LENGTH 0: nothing upstream (§7.1.2), the option still comes back.
            out = ask(r, "udp", "optout.example.com", "TXT", "+subnet=0.0.0.0/0", "+opt")
            self.assertEqual(answer_data(out, "TXT"), ['"ecs=none"'])
            self.assertIn("CLIENT-SUBNET: 0.0.0.0/0/0", out)

    def test_location_without_ecs_support_sends_none(self):
        peer = self.peer(self.echo)
        with self.resolver([], ecs=False, upstream=(f"udp://127.0.0.1:{peer.port}",)) as r:
            host, port = r.addr("udp")
            self.assertEqual(kdig(host, port, "+short", "who.example.com", "TXT").strip(), '"ecs=none"')
            self.assertNotIn(8, peer.received[-1][3])


ZONE_VIEW_PER_TRANSPORT = ZONE_VIEW + "".join(
    f"app-{t} IN A 10.20.1.{i + 1}\n" for i, t in enumerate(TRANSPORTS))


class RoutesOnEveryTransport(Lab):
    """The issue-17 routes over UDP, TCP, DoT (kdig +tls, SNI of HQ) and DoH (kdig +https on
    HQ's path, curl): one resolver per test, one name per transport so no answer comes from
    the cache, the upstream peer's record of what it was asked, and each log record checked
    against the 82-field list."""

    def resolver_on_every_listener(self, rule_list, extra="", ecs=False, upstream=None):
        return self.resolver(rule_list, extra, ecs=ecs, listen=EVERY_LISTENER, upstream=upstream)

    def assert_record(self, r, name, transport):
        rec = r.wait_record(lambda x: x["QueryName"] == name)
        self.assertEqual(rec["Protocol"], PROTOCOL[transport])
        self.assertEqual(rec["Location"], "HQ")
        self.assertEqual(shape_errors(rec), [])
        return rec

    def test_internal_dns_view_and_public_dns_fallback(self):
        view_dir = os.path.dirname(self.write("view/corp.example.zone", ZONE_VIEW_PER_TRANSPORT))
        public = self.peer(lambda q, t: answer(q, [a_record("203.0.113.80")]))
        rule_list = [("any(dns.domains[*] == \"corp.example\")",
                      {"resolve_dns_internally": {"view_id": "view-corp", "fallback": "public_dns"}})]
        extra = f"""
[internal_dns]
views = {{ "view-corp" = "fixture:{view_dir}" }}
zones = {{ "corp.example" = "zone-0001" }}
"""
        with self.resolver_on_every_listener(rule_list, extra,
                                             upstream=(f"udp://127.0.0.1:{public.port}",)) as r:
            for i, t in enumerate(TRANSPORTS):
                with self.subTest(transport=t):
                    # In the view: its answer; the default upstream is never asked.
                    out = ask(r, t, f"app-{t}.corp.example")
                    self.assertIn("NOERROR", out)
                    self.assertEqual(answer_data(out), [f"10.20.1.{i + 1}"])
                    rec = self.assert_record(r, f"app-{t}.corp.example", t)
                    self.assertEqual((rec["InternalDNSViewID"], rec["InternalDNSFallbackStrategy"],
                                      rec["InternalDNSRCode"], rec["InternalDNSZoneID"]),
                                     ("view-corp", "", 0, "zone-0001"))
                    self.assertEqual(rec["ResolverPolicyID"], "r0")
                    # Not in the view (NXDOMAIN): asked again of the default upstream.
                    out = ask(r, t, f"www-{t}.corp.example")
                    self.assertIn("NOERROR", out)
                    self.assertEqual(answer_data(out), ["203.0.113.80"])
                    rec = self.assert_record(r, f"www-{t}.corp.example", t)
                    self.assertEqual((rec["InternalDNSViewID"], rec["InternalDNSFallbackStrategy"],
                                      rec["InternalDNSRCode"], rec["RCode"]),
                                     ("view-corp", "public_dns", 3, 0))
                    # The view's fields describe the view's exchange: its zone said NXDOMAIN.
                    self.assertEqual(rec["InternalDNSZoneID"], "zone-0001")
            self.assertEqual(sorted(n for _, n, *_ in public.received),
                             sorted(f"www-{t}.corp.example" for t in TRANSPORTS))

    def test_unreachable_view_falls_back_or_fails_as_the_rule_says(self):
        public = self.peer(lambda q, t: answer(q, [a_record("203.0.113.80")]))
        dead = dead_udp_port()  # the view's upstream: nobody listens (ICMP unreachable)
        rule_list = [
            ("any(dns.domains[*] == \"corp.example\")",
             {"resolve_dns_internally": {"view_id": "view-down", "fallback": "public_dns"}}),
            ("any(dns.domains[*] == \"strict.example\")",
             {"resolve_dns_internally": {"view_id": "view-down", "fallback": "none"}}),
        ]
        extra = f"""
[internal_dns]
views = {{ "view-down" = "udp://127.0.0.1:{dead}" }}
"""
        with self.resolver_on_every_listener(rule_list, extra,
                                             upstream=(f"udp://127.0.0.1:{public.port}",)) as r:
            for t in TRANSPORTS:
                with self.subTest(transport=t):
                    out = ask(r, t, f"down-{t}.corp.example")
                    self.assertIn("NOERROR", out)
                    self.assertEqual(answer_data(out), ["203.0.113.80"])
                    rec = self.assert_record(r, f"down-{t}.corp.example", t)
                    self.assertEqual((rec["InternalDNSViewID"], rec["InternalDNSFallbackStrategy"],
                                      rec["InternalDNSRCode"], rec["InternalDNSZoneID"]),
                                     ("view-down", "public_dns", 2, ""))
                    # fallback "none": the view's failure is the client's SERVFAIL.
                    out = ask(r, t, f"down-{t}.strict.example")
                    self.assertIn("SERVFAIL", out)
                    self.assertEqual(answer_data(out), [])
                    rec = self.assert_record(r, f"down-{t}.strict.example", t)
                    self.assertEqual((rec["InternalDNSFallbackStrategy"], rec["RCode"]), ("", 2))
            self.assertEqual(sorted(n for _, n, *_ in public.received),
                             sorted(f"down-{t}.corp.example" for t in TRANSPORTS))

    def test_custom_resolver_answering_tc_is_asked_again_over_tcp(self):
        peer = self.peer(lambda q, over_tcp: answer(q, [a_record("10.30.0.7")], truncate=not over_tcp))
        rule_list = [("any(dns.domains[*] == \"tc.example\")",
                      {"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": peer.port}]}})]
        with self.resolver_on_every_listener(rule_list) as r:
            for t in TRANSPORTS:
                with self.subTest(transport=t):
                    name = f"{t}.tc.example"
                    out = ask(r, t, name)
                    self.assertIn("NOERROR", out)
                    self.assertEqual(answer_data(out), ["10.30.0.7"])
                    # Whatever the client used, the custom resolver is asked over UDP first,
                    # then over TCP on TC (RFC 7766 §5).
                    self.assertEqual([tr for tr, n, *_ in peer.received if n == name], ["udp", "tcp"])
                    rec = self.assert_record(r, name, t)
                    self.assertEqual(rec["CustomResolverAddress"], f"127.0.0.1:{peer.port}")
                    self.assertEqual(rec["CustomResolverResponse"], "NOERROR")
                    self.assertEqual(rec["ResolvedIPs"], ["10.30.0.7"])
                    self.assertGreaterEqual(rec["CustomResolveDurationMs"], 0)

    def test_ipv6_custom_resolver_answering_tc_is_asked_again_over_tcp(self):
        if not have_ipv6():
            self.skipTest("::1 is not available on this machine")
        peer = self.peer(lambda q, over_tcp: answer(q, [a_record("10.30.0.8")], truncate=not over_tcp),
                         family=socket.AF_INET6)
        rule_list = [("any(dns.domains[*] == \"tc.example\")",
                      {"dns_resolvers": {"ipv6": [{"ip": "::1", "port": peer.port}]}})]
        with self.resolver_on_every_listener(rule_list) as r:
            for t in ("udp", "dot"):
                with self.subTest(transport=t):
                    name = f"v6-{t}.tc.example"
                    self.assertEqual(answer_data(ask(r, t, name)), ["10.30.0.8"])
                    self.assertEqual([tr for tr, n, *_ in peer.received if n == name], ["udp", "tcp"])
                    rec = self.assert_record(r, name, t)
                    self.assertEqual(rec["CustomResolverAddress"], f"[::1]:{peer.port}")
                    self.assertEqual(rec["CustomResolverResponse"], "NOERROR")

    def test_client_subnet_sent_upstream(self):
        upstream = self.peer(ecs_echo)
        custom = self.peer(ecs_echo)
        rule_list = [("any(dns.domains[*] == \"corp.example\")",
                      {"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": custom.port}]}})]
        want = b"\x00\x01\x18\x00\x7f\x00\x00"  # family 1, /24, scope 0, 3 address bytes
        with self.resolver_on_every_listener(rule_list, ecs=True,
                                             upstream=(f"udp://127.0.0.1:{upstream.port}",)) as r:
            for t in TRANSPORTS:
                with self.subTest(transport=t):
                    for peer, name in ((upstream, f"who-{t}.example.com"), (custom, f"who-{t}.corp.example")):
                        out = ask(r, t, name, "TXT")
                        self.assertEqual(answer_data(out, "TXT"), ['"ecs=127.0.0.0/24"'])
                        # The client sent no ECS and gets none back (RFC 7871 §7.2.2).
                        self.assertNotIn("CLIENT-SUBNET", out.upper())
                        got = [o.get(8) for _, n, _, o in peer.received if n == name]
                        self.assertEqual(got, [want])
                        rec = self.assert_record(r, name, t)
                        self.assertEqual(rec["LabClientSubnet"], "127.0.0.0/24")
            # curl as the DoH client (JSON API), the location by its DoH path.
            _, port = r.addr("https")
            doc = json.loads(run(["curl", "-sS", "--http2", "--cacert", r.ca_file(),
                                  "-H", "accept: application/dns-json",
                                  f"https://localhost:{port}/dns-query/{SUB}?name=who-curl.example.com&type=TXT"]).stdout)
            self.assertEqual([a["data"] for a in doc["Answer"]], ['"ecs=127.0.0.0/24"'])
            self.assertEqual([o.get(8) for _, n, _, o in upstream.received if n == "who-curl.example.com"], [want])


class ClientSubnetIPv6(Lab):
    """A client on ::1 through HQ (its `ip` is ::1; DoT by SNI, DoH by path): the upstream
    receives ECS family 2, SOURCE PREFIX-LENGTH 56, SCOPE 0 and the address cut to 7 bytes
    (RFC 7871 §6: ADDRESS is truncated to the prefix, host bits zero; ::1/56 is ::/56)."""

    WANT = b"\x00\x02\x38\x00" + bytes(7)

    def setUp(self):
        if not have_ipv6():
            self.skipTest("::1 is not available on this machine")
        super().setUp()

    def test_v6_client_sends_its_56_upstream_and_the_probe_capture_shows_it(self):
        upstream = self.peer(ecs_echo, family=socket.AF_INET6)
        listen = ("dns://[::1]:0", "tls://[::1]:0", "https://[::1]:0/dns-query", "dns://127.0.0.1:0")
        with self.resolver([], ecs=True, listen=listen, upstream=(f"udp://[::1]:{upstream.port}",)) as r:
            for t in TRANSPORTS:
                with self.subTest(transport=t):
                    name = f"v6-{t}.example.com"
                    out = ask(r, t, name, "TXT")
                    self.assertEqual(answer_data(out, "TXT"), ['"ecs=::/56"'])
                    got = [o.get(8) for _, n, _, o in upstream.received if n == name]
                    self.assertEqual(got, [self.WANT])
                    rec = r.wait_record(lambda x: x["QueryName"] == name)
                    self.assertEqual((rec["Protocol"], rec["Location"], rec["SrcIP"]),
                                     (PROTOCOL[t], "HQ", "::1"))
                    self.assertEqual(rec["LabClientSubnet"], "::/56")
                    self.assertEqual(shape_errors(rec), [])

            # One resolver, one name, a client on 127.0.0.1 then one on ::1: each subnet gets
            # its own upstream query and answer (the cache is keyed per subnet, RFC 7871 §7.3.1).
            v4 = next(u for u in r.urls if u.startswith("udp://127.0.0.1:"))
            v4_port = int(v4.rsplit(":", 1)[1])
            host, port = r.addr("udp")
            self.assertEqual(kdig("127.0.0.1", v4_port, "+short", "shared.example.com", "TXT").strip(),
                             '"ecs=127.0.0.0/24"')
            self.assertEqual(kdig(host, port, "+short", "shared.example.com", "TXT").strip(), '"ecs=::/56"')
            self.assertEqual([o.get(8) for _, n, _, o in upstream.received if n == "shared.example.com"],
                             [b"\x00\x01\x18\x00\x7f\x00\x00", self.WANT])

            # The probe's capture: IPv6/UDP packets between ::1 and the listener, the answer
            # carrying the subnet the upstream received.
            pcap = os.path.join(self.tmp, "ecs6.pcap")
            run([PROBE, "--target", f"lab=udp://[{host}]:{port}", "--pcap", pcap,
                 "v6-probe.example.com", "TXT"], check=False)
            packets = read_pcap(pcap)
            self.assertEqual(len(packets), 2, packets)
            for p in packets:
                self.assertEqual(p[0] >> 4, 6)  # IPv6 (LINKTYPE_RAW)
                self.assertEqual(p[6], 17)      # next header UDP
                self.assertEqual({p[8:24], p[24:40]}, {socket.inet_pton(socket.AF_INET6, "::1")})
            self.assertIn(port, [struct.unpack("!H", p[42:44])[0] for p in packets[:1]])
            self.assertIn(b"ecs=::/56", packets[1])
            self.assertEqual([o.get(8) for _, n, _, o in upstream.received
                              if n == "v6-probe.example.com"], [self.WANT])

    def test_v6_client_without_ecs_support_sends_none(self):
        upstream = self.peer(ecs_echo, family=socket.AF_INET6)
        with self.resolver([], ecs=False, listen=("dns://[::1]:0",),
                           upstream=(f"udp://[::1]:{upstream.port}",)) as r:
            host, port = r.addr("udp")
            self.assertEqual(kdig(host, port, "+short", "v6-none.example.com", "TXT").strip(), '"ecs=none"')
            self.assertNotIn(8, upstream.received[-1][3])


def read_pcap(path):
    """The packets of a classic little- or big-endian pcap file (LINKTYPE_RAW expected)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">"
    assert magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"), magic
    assert struct.unpack(endian + "I", data[20:24])[0] == 101, "not LINKTYPE_RAW"
    pos, out = 24, []
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        out.append(data[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    return out


if __name__ == "__main__":
    main()
