# SPDX-License-Identifier: MIT
"""HTTP details of the DoH listener (issue 12, defect 6), with curl (--http2, --http1.1,
--head), nghttp and raw sockets against dnslab-resolver serving the fixture zones: HEAD gets
headers and no body; bare-LF requests are answered; a missing, duplicated or NUL-containing
Host is 400; a huge content-length is 413 at once; negative answers carry cache-control
max-age from the SOA; a DoH request in flight at SIGTERM is answered. Loopback only."""
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

import harness
import slow_clients
from harness import Resolver, ZONES, skip_name


def b64_query(name, qtype=1):
    return base64.urlsafe_b64encode(slow_clients.dns_query(name, qtype, qid=0)).rstrip(b"=").decode()


def freshness(msg):
    """What cache-control max-age must say for a DNS answer (RFC 8484 §5.1): the least TTL
    of the answer records, or for a negative answer min(SOA TTL, SOA MINIMUM)."""
    _, _, qd, an, ns, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    ttls, soa = [], []
    for i in range(an + ns):
        off = skip_name(msg, off)
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        if i < an:
            ttls.append(ttl)
        elif rtype == 6:  # SOA: MINIMUM is the last of its five 32-bit fields
            soa.append(min(ttl, struct.unpack(">I", msg[off + rdlen - 4:off + rdlen])[0]))
        off += rdlen
    return min(ttls) if ttls else min(soa)


def read_response(sock, head_only=False, timeout=3):
    """(status line, headers dict, body) of one HTTP/1.1 response; the body by content-length."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError(f"connection closed after {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    return lines[0], headers, rest[:length], rest[length:]


class BufferedSocket:
    """A socket whose first reads return bytes already received."""

    def __init__(self, pending, sock):
        self.pending, self.sock = pending, sock

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.pending:
            out, self.pending = self.pending[:n], self.pending[n:]
            return out
        return self.sock.recv(n)


class DohHttpDetails(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.res = Resolver(listen=("https://127.0.0.1:0/dns-query",), upstream=("fixture:" + ZONES,))
        cls.port = cls.res.addr("https")[1]
        cls.ca = cls.res.ca_file()

    @classmethod
    def tearDownClass(cls):
        cls.res.__exit__(None, None, None)

    def tearDown(self):
        self.assertIsNone(self.res.proc.poll(), "the resolver must survive every request")

    def url(self, query=""):
        return f"https://localhost:{self.port}/dns-query" + query

    def curl(self, *args, timeout=10):
        return harness.run(["curl", "-sS", "--max-time", "5", "--cacert", self.ca,
                            "--resolve", f"localhost:{self.port}:127.0.0.1", *args],
                           check=False, timeout=timeout)

    def h1(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=5),
                            server_hostname="localhost")
        self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        return s

    # ---- HEAD
    def test_head_gets_headers_and_no_body_over_h2_and_http11(self):
        for http in ("--http2", "--http1.1"):
            for query, status in ((f"?dns={b64_query('www.example.com')}", "200"), ("", "400")):
                with self.subTest(http=http, status=status):
                    p = self.curl(http, "--head", "-w", "%{http_code} %{size_download}", self.url(query))
                    self.assertEqual(p.returncode, 0, p.stderr)  # curl checks no body follows
                    head, _, tail = p.stdout.rpartition("\n\n")  # text mode: CRLF read as LF
                    self.assertEqual(tail.strip(), f"{status} 0")
                    self.assertIn("content-length: ", head.lower())
                    self.assertNotIn("content-length: 0", head.lower())

    def test_head_then_get_on_one_http11_connection(self):
        with self.h1() as s:
            q = b64_query("www.example.com")
            s.sendall(f"HEAD /dns-query?dns={q} HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      f"GET /dns-query?dns={q} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            status, headers, _, rest = read_response(s, head_only=True)
            self.assertIn(" 200 ", status)
            length = int(headers["content-length"])
            self.assertGreater(length, 12)
            # What follows the HEAD's header block is the GET's response, not a body.
            self.assertTrue(b"HTTP/1.1 200 ".startswith(rest[:13]), rest[:40])
            status, _, body, _ = read_response(BufferedSocket(rest, s))
            self.assertIn(" 200 ", status)
            self.assertEqual(len(body), length, "the GET body has the length the HEAD announced")

    # ---- HTTP/1.1 framing
    def test_bare_lf_request_is_answered(self):
        with self.h1() as s:
            s.sendall(f"GET /dns-query?dns={b64_query('www.example.com')} HTTP/1.1\n"
                      f"Host: localhost\n\n".encode())
            status, headers, body, _ = read_response(s, timeout=2)
            self.assertIn(" 200 ", status)
            self.assertEqual(headers["content-type"], "application/dns-message")

    def test_bad_host_is_400(self):
        q = b64_query("www.example.com")
        cases = {
            "missing": b"",
            "duplicated": b"Host: localhost\r\nHost: localhost\r\n",
            "two different": b"Host: localhost\r\nhost: other.example\r\n",
            "with NUL": b"Host: local\x00host\r\n",
        }
        for name, host_lines in cases.items():
            with self.subTest(host=name), self.h1() as s:
                s.sendall(f"GET /dns-query?dns={q} HTTP/1.1\r\n".encode() + host_lines + b"\r\n")
                status, headers, body, _ = read_response(s, timeout=2)
                self.assertIn(" 400 ", status, body)
                self.assertEqual(headers.get("connection"), "close")
                s.settimeout(2)
                self.assertEqual(s.recv(100), b"", "closed after the error")

    def test_huge_content_length_is_413_at_once(self):
        for length in ("70000", "9999999999", "123456789012345678901234567890"):
            with self.subTest(http="1.1", length=length), self.h1() as s:
                started = time.monotonic()
                s.sendall(f"POST /dns-query HTTP/1.1\r\nHost: localhost\r\n"
                          f"Content-Type: application/dns-message\r\nContent-Length: {length}\r\n\r\n"
                          .encode())
                status, _, _, _ = read_response(s, timeout=2)
                self.assertIn(" 413 ", status)
                self.assertLess(time.monotonic() - started, 1.0)
        # HTTP/2: curl announces the length but has one byte to send; the 413 comes back at
        # once, without waiting for the body the length announced.
        for length in ("70000", "99999999999"):
            with self.subTest(http="2", length=length):
                started = time.monotonic()
                p = self.curl("--http2", "-H", "content-type: application/dns-message",
                              "-H", f"content-length: {length}", "--data-binary", "x",
                              "-o", "/dev/null", "-w", "%{http_code} %{size_upload}", self.url())
                status, uploaded = p.stdout.split()
                self.assertEqual(status, "413", p.stderr)
                self.assertLessEqual(int(uploaded), 1, "curl had only one byte to send")
                self.assertLess(time.monotonic() - started, 2.0)

    # ---- caching
    def test_negative_answers_carry_max_age_from_the_soa(self):
        # example.com: SOA TTL 3600 served at 300, MINIMUM 300 (fixtures/zones/README.md). The
        # answers may come from the cache (other tests of this class asked first), aged by a
        # second or more on a loaded machine: max-age must equal the freshness of the very
        # answer it comes with, which is at most the zone's 300 and above 0.
        cases = {"NXDOMAIN": ("nx.example.com", 1), "NODATA": ("mx-only.example.com", 1),
                 "answer": ("www.example.com", 1)}
        tmp = tempfile.mkdtemp(prefix="dnslab-doh-maxage-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        body_file = os.path.join(tmp, "body")

        def max_age(headers):
            values = [line.split("=", 1)[1].strip() for line in headers.lower().splitlines()
                      if line.startswith("cache-control: max-age=")]
            self.assertEqual(len(values), 1, headers)
            return int(values[0])

        for http in ("--http2", "--http1.1"):
            for what, (name, qtype) in cases.items():
                with self.subTest(http=http, answer=what):
                    p = self.curl(http, "-D", "-", "-o", body_file,
                                  self.url(f"?dns={b64_query(name, qtype)}"))
                    with open(body_file, "rb") as f:
                        body = f.read()
                    age = max_age(p.stdout)
                    self.assertEqual(age, freshness(body), p.stdout)
                    self.assertTrue(0 < age <= 300, p.stdout)
            with self.subTest(http=http, answer="JSON NXDOMAIN"):
                p = self.curl(http, "-D", "-", "-o", body_file, "-H", "accept: application/dns-json",
                              self.url("?name=nx.example.com&type=A"))
                with open(body_file, encoding="utf-8") as f:
                    doc = json.load(f)
                soa = [r for r in doc.get("Authority", []) if r.get("type") == 6]
                self.assertEqual(len(soa), 1, doc)
                minimum = int(soa[0]["data"].split()[-1])
                age = max_age(p.stdout)
                self.assertEqual(age, min(soa[0]["TTL"], minimum), (p.stdout, doc))
                self.assertTrue(0 < age <= 300, p.stdout)

    # ---- many streams on one connection
    def test_many_concurrent_streams_each_get_their_own_answer_once(self):
        """300 GETs on one HTTP/2 connection, up to 100 streams open at once (more than the
        listener keeps for reuse, so streams are recycled many times), cache misses answered
        later mixed with cache hits answered at once: every request gets exactly one 200 whose
        body answers its own query (ID, question) and whose headers are RFC 8484's."""
        names = ["www.example.com", "alias.example.com", "cdn.example.com", "mail.example.com",
                 "ipv6only.example.com", "edge.example.net", "www.blocked.example.com",
                 "cdn.example.net", "nx.example.com"]
        cases = [(names[i % len(names)], (1, 28)[(i // len(names)) % 2], 0x1000 + i)
                 for i in range(300)]
        tmp = tempfile.mkdtemp(prefix="dnslab-doh-streams-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        args = ["--http2", "--parallel", "--parallel-max", "100",
                "-w", "##%{urlnum} %{http_code} %{num_connects} %{header_json}\n"]
        queries = []
        for i, (name, qtype, qid) in enumerate(cases):
            q = slow_clients.dns_query(name, qtype, qid)
            queries.append(q)
            dns = base64.urlsafe_b64encode(q).rstrip(b"=").decode()
            args += ["-o", os.path.join(tmp, str(i)), self.url(f"?dns={dns}")]
        p = self.curl(*args, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        seen, connects = set(), 0
        for chunk in p.stdout.split("##")[1:]:
            num, code, conns, headers = chunk.split(" ", 3)
            i = int(num)
            self.assertNotIn(i, seen, "one answer per request")
            seen.add(i)
            connects += int(conns)
            name, qtype, qid = cases[i]
            with self.subTest(request=i, name=name, qtype=qtype):
                self.assertEqual(code, "200")
                with open(os.path.join(tmp, str(i)), "rb") as f:
                    body = f.read()
                h = json.loads(headers)
                self.assertEqual(h["content-type"], ["application/dns-message"])
                self.assertEqual(h["content-length"], [str(len(body))])
                self.assertEqual(len(h["date"]), 1)
                self.assertEqual(struct.unpack(">H", body[:2])[0], qid, "the answer to this query")
                self.assertTrue(body[2] & 0x80, "a response")
                self.assertEqual(body[12:len(queries[i])], queries[i][12:], "its question")
                self.assertEqual(h["cache-control"], [f"max-age={freshness(body)}"])
        self.assertEqual(seen, set(range(len(cases))))
        self.assertEqual(connects, 1, "all on one connection")

    def test_nghttp_sees_max_age_on_nxdomain(self):
        # A name no other test asks: the answer is fresh from the zone (SOA minimum 300), not
        # the cached nx.example.com another test left a second older (max-age=299).
        p = harness.run(["nghttp", "-nv", self.url(f"?dns={b64_query('nx-nghttp.example.com')}")
                         .replace("localhost", "127.0.0.1")], check=False)
        self.assertIn("cache-control: max-age=300", p.stdout)


class DohDrainOnSigterm(unittest.TestCase):
    """A DoH request waiting for the pipeline when SIGTERM arrives is answered, and the
    resolver then exits 0; so are queries over HTTP/1.1 and DoT."""

    def test_requests_in_flight_at_sigterm_are_answered(self):
        res = Resolver(listen=("https://127.0.0.1:0/dns-query", "tls://127.0.0.1:0"),
                       upstream=("fixture:" + ZONES + "?fault=www.example.com:delay=1500",),
                       config="[resolver]\nshutdown_grace_ms = 4000\n")
        try:
            port = res.addr("https")[1]
            dot = res.addr("tls")[1]
            ca = res.ca_file()
            url = f"https://localhost:{port}/dns-query?dns={b64_query('www.example.com')}"
            clients = []
            for http in ("--http2", "--http1.1"):
                clients.append(subprocess.Popen(
                    ["curl", "-sS", http, "--max-time", "5", "--cacert", ca,
                     "--resolve", f"localhost:{port}:127.0.0.1", "-o", "/dev/null",
                     "-w", "%{http_code} %{size_download}", url],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            clients.append(subprocess.Popen(
                ["kdig", "@127.0.0.1", "-p", str(dot), "+tls", f"+tls-ca={ca}",
                 "+tls-hostname=localhost", "+retry=0", "+time=5", "+short", "www.example.com"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            # All three are waiting for the delayed fixture answer (1.5 s; under the 2 s upstream timeout) when the signal
            # arrives; nothing is logged before an answer.
            time.sleep(0.8)
            self.assertEqual(res.log_records(), [])
            res.signal(signal.SIGTERM)
            outs = [c.communicate(timeout=10) for c in clients]
            for (out, err), what in zip(outs, ("h2", "http/1.1", "dot")):
                with self.subTest(client=what):
                    if what == "dot":
                        self.assertEqual(out.strip(), "192.0.2.10", err)
                    else:
                        status, size = out.split()
                        self.assertEqual(status, "200", err)
                        self.assertGreater(int(size), 12)
            self.assertEqual(res.proc.wait(timeout=10), 0)
            names = [r.get("QueryName") for r in res.log_records()]
            self.assertEqual(names.count("www.example.com"), 3, names)
        finally:
            res.__exit__(None, None, None)

    def test_a_request_just_after_sigterm_on_an_open_connection_is_answered(self):
        """The pipeline is empty at SIGTERM, so nothing holds the process; a request that is
        on its way over an open connection must still get its answer (HTTP/2: after a GOAWAY
        notice that still admits it; HTTP/1.1: with `connection: close`), not a closed socket."""
        res = Resolver(listen=("https://127.0.0.1:0/dns-query",), upstream=("fixture:" + ZONES,))
        try:
            port, ca = res.addr("https")[1], res.ca_file()

            def connect(alpn):
                ctx = ssl.create_default_context(cafile=ca)
                ctx.set_alpn_protocols([alpn])
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                    server_hostname="localhost")
                self.assertEqual(s.selected_alpn_protocol(), alpn)
                return s

            path = f"/dns-query?dns={b64_query('www.example.com')}"
            h1 = connect("http/1.1")
            h1.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            self.assertIn(" 200 ", read_response(h1)[0])
            h2 = connect("h2")
            h2.sendall(slow_clients.H2_PREFACE + slow_clients.h2_get_headers(1, path))

            def ended(stream):
                return lambda fs: any(t == 0 and f & 1 and sid == stream for t, f, sid, _ in fs)

            frames, _ = slow_clients.h2_read_frames(h2, ended(1))
            self.assertTrue(ended(1)(frames), frames)

            res.signal(signal.SIGTERM)
            h2.sendall(slow_clients.h2_get_headers(3, path))
            h1.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())

            status, headers1, body, _ = read_response(h1)
            self.assertIn(" 200 ", status)
            self.assertGreater(len(body), 12)
            # Handled after the signal: `connection: close`; before it: the idle connection is
            # closed right after. Either way the socket ends with nothing more.
            h1.settimeout(3)
            self.assertEqual(h1.recv(100), b"", headers1)
            # Whether stream 3 arrived before or after the signal was handled, it is answered,
            # and the connection ends with the GOAWAY notice, then the final GOAWAY naming it.
            frames, closed = slow_clients.h2_read_frames(h2, lambda fs: False, timeout=5)
            self.assertTrue(closed)
            headers = [p for t, _, sid, p in frames if t == 1 and sid == 3]
            self.assertTrue(headers and headers[0][:1] == b"\x88", frames)  # :status 200 (HPACK 8)
            self.assertTrue(ended(3)(frames), frames)
            goaways = [int.from_bytes(p[:4], "big") for t, _, _, p in frames if t == 7]
            self.assertEqual(goaways, [2**31 - 1, 3], "RFC 9113 §6.8: notice, then last stream")
            self.assertEqual(res.proc.wait(timeout=10), 0)
            names = [r.get("QueryName") for r in res.log_records()]
            self.assertEqual(names.count("www.example.com"), 4, names)
            h1.close()
            h2.close()
        finally:
            res.__exit__(None, None, None)


if __name__ == "__main__":
    harness.main()
