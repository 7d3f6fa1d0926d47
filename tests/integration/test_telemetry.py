# SPDX-License-Identifier: MIT
"""Prometheus metrics and dnstap of a running dnslab-resolver, read by the operators' own tools.

Real queries over UDP, TCP, DoT and DoH (kdig), garbage and a failing upstream go in; the
/metrics page must pass `promtool check metrics` and its counters must have moved by what was
sent; the dnstap output, as a file and through a unix socket (fstrm_capture), must read back
with `dnstap-ldns` as CLIENT_QUERY/CLIENT_RESPONSE per transport and FORWARDER_QUERY/RESPONSE
per upstream exchange, and its `extra` field (decoded here: dnstap-ldns does not print it)
must carry the Gateway decision. Loopback only, ports from the kernel."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import harness

PROMTOOL = shutil.which("promtool")
DNSTAP_LDNS = shutil.which("dnstap-ldns")
FSTRM_CAPTURE = shutil.which("fstrm_capture")

# One block rule so that a ResolverDecision other than the default shows up.
RULES = [{
    "id": "11111111-2222-3333-4444-555555555555", "name": "block example.net",
    "action": "block", "enabled": True, "precedence": 1000, "filters": ["dns"],
    "traffic": 'any(dns.domains[*] == "example.net")',
}]


def scrape(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.headers, r.read().decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def frames(path):
    """Data frames of a Frame Streams file (https://farsightsec.github.io/fstrm/): control
    frames start with a zero length and are skipped."""
    with open(path, "rb") as f:
        data = f.read()
    pos, out = 0, []
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if n == 0:
            (clen,) = struct.unpack_from(">I", data, pos)
            pos += 4 + clen
            continue
        out.append(data[pos:pos + n])
        pos += n
    return out


def protobuf_fields(buf):
    """{field number: [values]} of one protobuf message (varint, fixed32/64, bytes)."""
    fields, pos = {}, 0

    def varint():
        nonlocal pos
        shift = value = 0
        while True:
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    while pos < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            v = varint()
        elif wt == 1:
            v = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wt == 5:
            v = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        elif wt == 2:
            n = varint()
            v = buf[pos:pos + n]
            pos += n
        else:
            raise ValueError(f"wire type {wt}")
        fields.setdefault(num, []).append(v)
    return fields


TYPES = {5: "CQ", 6: "CR", 7: "FQ", 8: "FR"}
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH"}


def decode_dnstap(path, raw=False):
    """[(type mnemonic, socket protocol, extra as dict)] in file order; with raw, the
    Message fields by number."""
    out = []
    for frame in frames(path):
        top = protobuf_fields(frame)
        msg = protobuf_fields(top[14][0])
        if raw:
            out.append(msg)
            continue
        extra = json.loads(top[3][0].decode()) if 3 in top else {}
        out.append((TYPES.get(msg[1][0], msg[1][0]), PROTOCOLS.get(msg.get(3, [0])[0]), extra))
    return out


def dnstap_ldns(path):
    p = harness.run([DNSTAP_LDNS, "-r", path])
    return [l for l in p.stdout.splitlines() if l.strip()]


class Lab:
    """A resolver on every transport with --metrics and --dnstap OUTPUT."""

    def __init__(self, dnstap, upstream=None, config=None):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-telemetry-")
        rules = os.path.join(self.tmp, "rules.json")
        with open(rules, "w") as f:
            json.dump({"success": True, "errors": [], "messages": [], "result": RULES}, f)
        args = ["--metrics", "http://127.0.0.1:0/metrics", "--rules", rules, "--locations",
                os.path.join(harness.ROOT, "fixtures/policy/locations.json")]
        if dnstap:
            args += ["--dnstap", dnstap]
        self.r = harness.Resolver(
            *args, listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                           "https://127.0.0.1:0/dns-query"),
            upstream=upstream or ("fixture:" + harness.ZONES,), config=config)
        self.metrics = next(u.split(" ", 1)[1] for u in self.r.urls if u.startswith("metrics "))
        self.ca = self.r.ca_file()

    def kdig(self, scheme, *args):
        host, port = self.r.addr(scheme)
        extra = {"udp": [], "tcp": ["+tcp"],
                 "tls": ["+tls-ca=" + self.ca, "+tls-hostname=localhost"],
                 "https": ["+tls-ca=" + self.ca, "+tls-hostname=localhost", "+https"]}[scheme]
        return harness.kdig(host, port, *extra, *args)

    def one_per_transport(self, name="example.com"):
        for scheme in ("udp", "tcp", "tls", "https"):
            out = self.kdig(scheme, name, "A", "+short")
            assert "192.0.2.1" in out, (scheme, out)

    def close(self):
        self.r.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)


class ResentAnswers(unittest.TestCase):
    """Without a query log a repeated UDP cache hit is sent the bytes it was sent before, with
    its own ID (docs/design-notes.md, 13); /metrics counts them as cache hits and as resent."""

    def exchange(self, log):
        with harness.Resolver("--metrics", "http://127.0.0.1:0/metrics", log=log) as r:
            metrics = next(u.split(" ", 1)[1] for u in r.urls if u.startswith("metrics "))
            host, port = r.addr("udp")
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            replies = []
            for qid in range(100, 106):  # within well under a second: at most one TTL step
                s.sendto(harness.build_query("example.com", qid=qid, edns_size=1232), (host, port))
                reply, _ = s.recvfrom(4096)
                replies.append(reply)
            s.close()
            tcp = harness.kdig(host, port, "+tcp", "example.com", "A", "+short")
            a = samples(scrape(metrics)[2])
        for qid, reply in zip(range(100, 106), replies):
            qid_back, flags, qd, an, _, _, rcode = harness.header(reply)
            self.assertEqual((qid_back, qd, an, rcode), (qid, 1, 1, 0))
            self.assertEqual(reply[2:4], replies[0][2:4])       # the same flags
            self.assertEqual(len(reply), len(replies[0]))
        self.assertIn("192.0.2.1", tcp)
        self.assertEqual(a["dnslab_cache_hits_total"], 6)       # 5 over UDP, 1 over TCP
        return a["dnslab_cache_hits_resent_total"]

    def test_without_a_log_repeated_hits_are_resent_and_counted(self):
        resent = self.exchange(log=False)
        # Query 1 goes upstream, 2 is built from the cache and kept, 3-6 are resent; a second
        # boundary between two of them makes one more a rebuilt one. TCP is never resent here
        # (another size limit than the kept UDP answer).
        self.assertGreaterEqual(resent, 3)
        self.assertLessEqual(resent, 4)

    def test_with_a_log_every_answer_is_built(self):
        self.assertEqual(self.exchange(log=True), 0)


@unittest.skipUnless(PROMTOOL, "promtool (Debian package prometheus) not installed")
class Metrics(unittest.TestCase):
    def setUp(self):
        self.dead = harness.dead_udp_port()
        # The dead server first: every query it gets fails over to the fixture, so failures
        # are counted on it and answers on the fixture.
        self.lab = Lab(None, upstream=(f"udp://127.0.0.1:{self.dead}", "fixture:" + harness.ZONES),
                       config="[resolver]\ntimeout_ms = 300\ntries = 1\n")

    def tearDown(self):
        self.lab.close()

    def check(self, text):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_promtool_accepts_the_page_and_counters_follow_the_traffic(self):
        status, headers, before = scrape(self.lab.metrics)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        self.check(before)
        b = samples(before)
        self.assertEqual(b['dnslab_queries_total{protocol="udp",rcode="NOERROR"}'], 0)

        self.lab.one_per_transport()                       # 4 answers, the UDP one misses
        self.lab.kdig("udp", "example.com", "A", "+short")  # a cache hit
        self.lab.kdig("udp", "example.net", "A")            # blocked by the rule
        host, port = self.lab.r.addr("udp")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(b"\x01\x02\x03", (host, port))             # shorter than a header
        s.sendto(harness.build_query("example.com", flags=0x8100), (host, port))  # a response
        one = harness.build_query("example.com", qid=7)
        two = one[:4] + b"\x00\x02" + one[6:] + one[12:]  # two questions: FORMERR
        s.sendto(two, (host, port))
        reply, _ = s.recvfrom(4096)
        self.assertEqual(reply[3] & 0x0F, 1)                # FORMERR
        s.close()
        # A TLS client that gives up before its handshake completes.
        _, dot = self.lab.r.addr("tls")
        c = socket.create_connection(("127.0.0.1", dot), timeout=2)
        c.sendall(b"not a ClientHello\r\n\r\n")
        try:
            c.recv(100)
        except OSError:
            pass
        c.close()
        # A DoH request for the wrong path: 404.
        _, doh = self.lab.r.addr("https")
        harness.run(["curl", "-s", "-o", "/dev/null", "--cacert", self.lab.ca,
                     "--resolve", f"localhost:{doh}:127.0.0.1",
                     f"https://localhost:{doh}/not-dns"])

        deadline = time.time() + 5
        while True:
            _, _, after = scrape(self.lab.metrics)
            a = samples(after)
            if a.get('dnslab_tls_handshakes_total{protocol="tls",result="failed"}', 0) >= 1 or \
                    time.time() > deadline:
                break
            time.sleep(0.1)
        self.check(after)

        def moved(key):
            return a.get(key, 0) - b.get(key, 0)

        self.assertEqual(moved('dnslab_queries_total{protocol="udp",rcode="NOERROR"}'), 3)
        self.assertEqual(moved('dnslab_queries_total{protocol="udp",rcode="NXDOMAIN"}'), 0)
        self.assertEqual(moved('dnslab_queries_total{protocol="udp",rcode="FORMERR"}'), 1)
        for proto in ("tcp", "tls", "https"):
            self.assertEqual(moved(f'dnslab_queries_total{{protocol="{proto}",rcode="NOERROR"}}'),
                             1, proto)
        self.assertEqual(moved('dnslab_resolver_decisions_total{decision="blockedByQueryName"}'), 1)
        self.assertEqual(moved('dnslab_resolver_decisions_total{decision="allowedOnNoPolicyMatch"}'), 5)
        # Do53 from 127.0.0.1 is HQ (its network 127.0.0.0/24); DoT/DoH without a location
        # hint take the account's default location; the FORMERR never got to attribution.
        self.assertEqual(moved('dnslab_location_queries_total{location="HQ"}'), 4)
        self.assertEqual(moved('dnslab_location_queries_total{location="Roaming (WARP default)"}'), 2)
        self.assertEqual(moved('dnslab_location_queries_total{location=""}'), 1)
        self.assertEqual(moved('dnslab_formerr_total{reason="qdcount"}'), 1)
        self.assertEqual(moved('dnslab_dropped_total{reason="short_header"}'), 1)
        self.assertEqual(moved('dnslab_dropped_total{reason="response"}'), 1)
        self.assertEqual(moved("dnslab_received_total"), 9)
        self.assertEqual(moved("dnslab_cache_hits_total"), 4)
        self.assertEqual(moved("dnslab_cache_misses_total"), 1)
        self.assertEqual(moved('dnslab_query_duration_seconds_count{protocol="udp"}'), 4)
        # The dead server failed (ICMP refused or timed out) and the fixture answered.
        dead = f"udp://127.0.0.1:{self.dead}"
        # Only the first query went upstream (the rest are cache hits or blocked before
        # resolution): one failure on the dead server, one answer from the fixture.
        self.assertEqual(moved(f'dnslab_upstream_queries_total{{upstream="{dead}"}}'), 1)
        self.assertEqual(moved(f'dnslab_upstream_failures_total{{upstream="{dead}",reason="error"}}')
                         + moved(f'dnslab_upstream_failures_total{{upstream="{dead}",reason="timeout"}}'), 1)
        self.assertEqual(moved(f'dnslab_upstream_duration_seconds_count{{upstream="{dead}"}}'), 0)
        fixture = "fixture:" + harness.ZONES
        self.assertEqual(moved(f'dnslab_upstream_queries_total{{upstream="{fixture}"}}'), 1)
        self.assertEqual(moved(f'dnslab_upstream_duration_seconds_count{{upstream="{fixture}"}}'), 1)
        self.assertEqual(moved("dnslab_upstream_exchange_failures_total"), 0)  # failover worked
        self.assertEqual(a['dnslab_queries_in_flight'], 0)
        self.assertEqual(a['dnslab_queries_waiting_upstream'], 0)
        self.assertEqual(moved('dnslab_tls_handshakes_total{protocol="tls",result="ok"}'), 1)
        self.assertEqual(moved('dnslab_tls_handshakes_total{protocol="tls",result="failed"}'), 1)
        self.assertEqual(moved('dnslab_tls_handshakes_total{protocol="https",result="ok"}'), 2)
        self.assertEqual(moved('dnslab_http_responses_total{status="200"}'), 1)
        self.assertEqual(moved('dnslab_http_responses_total{status="404"}'), 1)
        self.assertEqual(a["dnslab_policy_generation"], 1)
        self.assertEqual(a["dnslab_policy_rules"], 1)
        self.assertNotIn("dnslab_dnstap_frames_total", a)  # dnstap is off here
        # One worker: its series (worker="0") are the process totals.
        self.assertEqual(moved('dnslab_worker_received_total{worker="0"}'), 9)
        self.assertEqual(a['dnslab_worker_received_total{worker="0"}'], a["dnslab_received_total"])
        self.assertEqual(a['dnslab_worker_queries_total{worker="0"}'],
                         sum(v for k, v in a.items() if k.startswith("dnslab_queries_total{")))
        self.assertEqual(a['dnslab_worker_dropped_total{worker="0"}'],
                         sum(v for k, v in a.items() if k.startswith("dnslab_dropped_total{")))
        self.assertEqual(a['dnslab_worker_queries_in_flight{worker="0"}'], 0)
        self.assertEqual(a['dnslab_worker_queries_waiting_upstream{worker="0"}'], 0)
        self.assertFalse([k for k in a if k.startswith("dnslab_worker_") and 'worker="1"' in k])

    def test_reload_moves_the_policy_gauges(self):
        self.lab.r.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while True:
            a = samples(scrape(self.lab.metrics)[2])
            if a["dnslab_policy_generation"] == 2 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(a["dnslab_policy_generation"], 2)
        self.assertEqual(a['dnslab_policy_reloads_total{result="ok"}'], 1)
        self.assertGreater(a["dnslab_policy_loaded_timestamp_seconds"], time.time() - 60)

    def test_other_paths_and_methods(self):
        base = self.lab.metrics.rsplit("/", 1)[0]
        with self.assertRaises(urllib.error.HTTPError) as e:
            scrape(base + "/other")
        self.assertEqual(e.exception.code, 404)
        with self.assertRaises(urllib.error.HTTPError) as e:
            scrape(self.lab.metrics, method="DELETE")
        self.assertEqual(e.exception.code, 405)
        status, headers, body = scrape(self.lab.metrics, method="HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertGreater(int(headers["content-length"]), 1000)
        # Garbage gets 400 and a close; the server keeps serving.
        host, port = re.match(r"http://([^:/]+):(\d+)/", self.lab.metrics).groups()
        c = socket.create_connection((host, int(port)), timeout=2)
        c.sendall(b"\x16\x03\x01 no request line\r\n\r\n")
        self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 400"))
        c.close()
        self.assertEqual(scrape(self.lab.metrics)[0], 200)


class DeadUpstream(unittest.TestCase):
    def test_a_dead_upstream_shows_as_timeouts_servfail_and_exchange_failures(self):
        dead = harness.dead_udp_port()
        # A TCP port nobody listens on: connection refused, counted as an error.
        lab = Lab(None, upstream=(f"tcp://127.0.0.1:{dead}",),
                  config="[resolver]\ntimeout_ms = 300\ntries = 1\n")
        try:
            out = lab.kdig("udp", "example.com", "A")
            self.assertIn("SERVFAIL", out)
            a = samples(scrape(lab.metrics)[2])
            self.assertEqual(a['dnslab_queries_total{protocol="udp",rcode="SERVFAIL"}'], 1)
            self.assertEqual(a["dnslab_upstream_exchange_failures_total"], 1)
            up = f"tcp://127.0.0.1:{dead}"
            self.assertEqual(a[f'dnslab_upstream_queries_total{{upstream="{up}"}}'], 1)
            self.assertEqual(a[f'dnslab_upstream_failures_total{{upstream="{up}",reason="error"}}']
                             + a[f'dnslab_upstream_failures_total{{upstream="{up}",reason="timeout"}}'], 1)
            self.assertEqual(a[f'dnslab_upstream_duration_seconds_count{{upstream="{up}"}}'], 0)
        finally:
            lab.close()


class BadOutputs(unittest.TestCase):
    def test_unusable_metrics_or_dnstap_outputs_stop_the_start_with_a_message(self):
        tmp = tempfile.mkdtemp(prefix="dnslab-telemetry-")
        try:
            for flag, value, want in (
                    ("--metrics", "ftp://127.0.0.1:0/metrics", "want http://"),
                    ("--dnstap", "tcp:127.0.0.1:6000", "unix:PATH or file:PATH"),
                    ("--dnstap", "file:" + os.path.join(tmp, "missing", "tap"), "cannot write")):
                p = subprocess.run([harness.RESOLVER, "--listen", "dns://127.0.0.1:0",
                                    "--upstream", "fixture:" + harness.ZONES, "--state-dir",
                                    os.path.join(tmp, "state"), flag, value],
                                   capture_output=True, text=True, timeout=20)
                self.assertEqual(p.returncode, 2, (flag, value, p.stderr))
                self.assertIn(want, p.stderr, (flag, value))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipUnless(DNSTAP_LDNS, "dnstap-ldns not installed")
class Dnstap(unittest.TestCase):
    def check_messages(self, path, lines):
        """Per transport one CQ and one CR for example.com; the first query also FQ/FR.
        dnstap-ldns 0.2.1 (Debian 12) predates SocketProtocol DOT and DOH and prints "?" for
        them, so the protocol of those is read from the frames by decode_dnstap."""
        def count(kind, proto):
            return len([l for l in lines if f" {kind} 127.0.0.1 {proto} " in l
                        and '"example.com." IN A' in l])
        for kind in ("CQ", "CR"):
            self.assertEqual(count(kind, "UDP"), 1, "\n".join(lines))
            self.assertEqual(count(kind, "TCP"), 1, "\n".join(lines))
            self.assertEqual(count(kind, "DOT") + count(kind, "DOH") + count(kind, "?"), 2,
                             "\n".join(lines))
        decoded = decode_dnstap(path)
        for kind in ("CQ", "CR"):
            self.assertEqual(sorted(p for t, p, _ in decoded if t == kind),
                             sorted(["UDP", "UDP", "TCP", "DOT", "DOH"]), decoded)
        # The upstream is another dnslab-resolver on UDP: FQ/FR name its address and port.
        up_port = self.upstream.addr("udp")[1]
        for kind in ("FQ", "FR"):
            hits = [l for l in lines if f" {kind} 127.0.0.1 UDP " in l]
            self.assertEqual(len(hits), 1, "\n".join(lines))
        forwarder = [m for m in decode_dnstap(path, raw=True) if m[1][0] in (7, 8)]
        self.assertEqual([m[7][0] for m in forwarder], [up_port, up_port])  # response_port
        self.assertEqual(len([l for l in lines if " CQ " in l and "example.net." in l]), 1)
        self.assertEqual(len(decoded), len(lines))
        responses = [e for t, _, e in decoded if t == "CR"]
        blocked = [e for e in responses if e.get("ResolverDecision") == "blockedByQueryName"]
        self.assertEqual(len(blocked), 1, responses)
        self.assertEqual(blocked[0]["PolicyID"], RULES[0]["id"])
        self.assertEqual(blocked[0]["LabPolicyGeneration"], 1)
        allowed = [e for e in responses if e.get("ResolverDecision") == "allowedOnNoPolicyMatch"]
        self.assertEqual(len(allowed), 4)
        queries = {e["LabQueryID"] for t, _, e in decoded if t == "CQ"}
        self.assertEqual(queries, {e["LabQueryID"] for e in responses})
        fq = [e for t, _, e in decoded if t == "FQ"][0]
        self.assertEqual(fq["Upstream"], f"udp://127.0.0.1:{up_port}")
        self.assertEqual(fq["Purpose"], "answer")

    def setUp(self):
        self.upstream = harness.Resolver(log=False)

    def tearDown(self):
        self.upstream.__exit__(None, None, None)

    def lab(self, dnstap):
        host, port = self.upstream.addr("udp")
        return Lab(dnstap, upstream=(f"udp://{host}:{port}",))

    def traffic(self, lab):
        lab.one_per_transport()  # the first one (UDP) goes upstream, the others hit the cache
        out = lab.kdig("udp", "example.net", "A")
        self.assertIn("0.0.0.0", out)  # Gateway's block answer

    def test_file_output_reads_back_with_dnstap_ldns(self):
        tmp = tempfile.mkdtemp(prefix="dnslab-dnstap-")
        path = os.path.join(tmp, "tap.fstrm")
        lab = self.lab("file:" + path)
        try:
            self.traffic(lab)
            frames_total = samples(scrape(lab.metrics)[2])["dnslab_dnstap_frames_total"]
            self.assertEqual(frames_total, 12)
        finally:
            lab.close()  # SIGTERM: the writer flushes and closes the file
        try:
            self.check_messages(path, dnstap_ldns(path))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @unittest.skipUnless(FSTRM_CAPTURE, "fstrm_capture (fstrm-bin) not installed")
    def test_unix_socket_output_reaches_fstrm_capture(self):
        tmp = tempfile.mkdtemp(prefix="dnslab-dnstap-")
        sock = os.path.join(tmp, "tap.sock")
        path = os.path.join(tmp, "captured.fstrm")
        cap = subprocess.Popen([FSTRM_CAPTURE, "-t", "protobuf:dnstap.Dnstap", "-u", sock,
                                "-w", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 5
            while not os.path.exists(sock) and time.time() < deadline:
                time.sleep(0.02)
            self.assertTrue(os.path.exists(sock), "fstrm_capture did not create its socket")
            lab = self.lab("unix:" + sock)
            try:
                # The writer connects on its I/O thread; wait until it has, so no frame is
                # dropped for want of a reader.
                deadline = time.time() + 5
                while time.time() < deadline and not os.path.exists(path):
                    time.sleep(0.05)
                time.sleep(0.2)
                self.traffic(lab)
            finally:
                lab.close()
            cap.send_signal(signal.SIGINT)  # fstrm_capture closes its file on SIGINT
            cap.wait(timeout=10)
            self.check_messages(path, dnstap_ldns(path))
        finally:
            if cap.poll() is None:
                cap.kill()
                cap.wait()
            cap.stderr.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
