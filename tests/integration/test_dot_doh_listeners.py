# SPDX-License-Identifier: MIT
"""DoT and DoH listeners against real clients (kdig, dig, curl, h2load, nghttp, Python ssl).

`DotDohListeners` drives tests/tls_echo_server: the real listeners with a fixed-answer
QueryHandler (A 192.0.2.1 TTL 300; TXT answers echo the transport hints; timeout.test -> upstream
timeout; drop.test dropped; slow.test answers after 300 ms), so listener behaviour is tested
apart from the pipeline. `RealResolver` runs dnslab-resolver itself with fixture zones and checks
that every transport gives the same answers and is logged with its protocol. Loopback only."""
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import tempfile
import shutil
import time
import unittest

import harness

ECHO = os.environ.get("DNSLAB_TLS_ECHO", os.path.join(harness.BUILD, "tests/tls_echo_server"))


def dns_query(name, qtype=1, qid=0, padding=False):
    """A minimal RD query, optionally with an OPT record carrying the padding option."""
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if padding else 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    if padding:
        q += b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 4 + 8) + struct.pack(">HH", 12, 8) + b"\x00" * 8
    return q


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class EchoServer:
    def __init__(self, *extra):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-tls-it-")
        self.proc = subprocess.Popen([ECHO, os.path.join(self.tmp, "state"), *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.urls = []
        self.ca = None
        for line in self.proc.stdout:  # blocks until the server printed its ready line
            line = line.strip()
            if line == "ready":
                break
            if line.startswith("ca "):
                self.ca = line[3:]
            else:
                self.urls.append(line)
        else:
            raise RuntimeError("echo server failed: " + self.proc.stderr.read())
        self.dot_port = int(self.url("tls").rsplit(":", 1)[1])
        self.doh_port = int(self.url("https").split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    def url(self, scheme):
        return next(u for u in self.urls if u.startswith(scheme + "://"))

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        self.proc.stdin.close()  # the server exits when its stdin closes
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class DotDohListeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = EchoServer()
        cls.ca = cls.srv.ca

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def tearDown(self):
        if not self.srv.alive():
            # The exit status and the sanitizer's report are the only evidence of a crash.
            self.fail(f"the server must survive every test; it exited {self.srv.proc.returncode}:\n"
                      + self.srv.proc.stderr.read()[-6000:])

    # ---- helpers
    def tls_socket(self, port, alpn=None, sni="localhost"):
        ctx = ssl.create_default_context(cafile=self.ca)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        return ctx.wrap_socket(raw, server_hostname=sni)

    def curl(self, *args, http="--http2", host="localhost"):
        port = self.srv.doh_port
        cmd = ["curl", "-sS", http, "--cacert", self.ca, "--max-time", "10",
               "--resolve", f"{host}:{port}:127.0.0.1", *args]
        return harness.run(cmd, check=False)

    def doh_url(self, path="/dns-query", host="localhost"):
        return f"https://{host}:{self.srv.doh_port}{path}"

    def status(self, *args, http="--http2"):
        p = self.curl("-o", "/dev/null", "-w", "%{http_code}", *args, http=http)
        return int(p.stdout.strip() or 0)

    @staticmethod
    def read_exact(sock, n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def assert_closed_by_server(self, exchange):
        """`exchange` must fail because the server closed or reset the connection (EOF, reset,
        a TLS close): a timeout is a failure, since a server that merely hangs also times out."""
        try:
            exchange()
        except socket.timeout:
            self.fail("the server did not close the connection (timed out instead)")
        except (EOFError, ConnectionError, ssl.SSLError):
            return
        self.fail("the exchange succeeded on a connection the server should have closed")

    # ---- DoT
    def test_kdig_dot_answers(self):
        out = harness.kdig("127.0.0.1", self.srv.dot_port, "+tls-ca=" + self.ca,
                           "+tls-hostname=localhost", "example.com", "A", "+short")
        self.assertEqual(out.strip(), "192.0.2.1")

    def test_dig_dot_answers(self):
        out = harness.dig("127.0.0.1", self.srv.dot_port, "+tls", "+tls-ca=" + self.ca,
                          "+tls-hostname=localhost", "example.com", "A", "+short")
        self.assertEqual(out.strip(), "192.0.2.1")

    def test_dot_records_sni_and_destination(self):
        out = harness.kdig("127.0.0.1", self.srv.dot_port, "+tls-ca=" + self.ca,
                           "+tls-hostname=65y9p2vm1u.cloudflare-gateway.com", "example.com", "TXT", "+short")
        self.assertIn('"proto=tls"', out)
        self.assertIn('"sni=65y9p2vm1u.cloudflare-gateway.com"', out)
        self.assertIn(f'"dst=127.0.0.1:{self.srv.dot_port}"', out)
        self.assertIn('"datagram=0"', out)

    def test_dot_padding_pads_to_468_only_when_asked(self):
        out = harness.kdig("127.0.0.1", self.srv.dot_port, "+tls-ca=" + self.ca,
                           "+tls-hostname=localhost", "+padding", "example.com", "A")
        self.assertIn(";; Received 468 B", out)
        out = harness.kdig("127.0.0.1", self.srv.dot_port, "+tls-ca=" + self.ca,
                           "+tls-hostname=localhost", "+nopadding", "example.com", "A")
        self.assertNotIn(";; Received 468 B", out)

    def test_dot_alpn_and_out_of_order_pipelining(self):
        with self.tls_socket(self.srv.dot_port, alpn=["dot"]) as s:
            self.assertEqual(s.selected_alpn_protocol(), "dot")
            q1 = dns_query("slow.test", qid=1)
            q2 = dns_query("fast.test", qid=2)
            s.sendall(struct.pack(">H", len(q1)) + q1 + struct.pack(">H", len(q2)) + q2)
            ids = []
            for _ in range(2):
                (n,) = struct.unpack(">H", self.read_exact(s, 2))
                ids.append(struct.unpack(">H", self.read_exact(s, n)[:2])[0])
            self.assertEqual(ids, [2, 1], "the fast answer must not wait for the slow one")

    def read_dot_answers(self, s, n):
        """Reads `n` length-prefixed answers; returns (id, message) in arrival order."""
        out = []
        for _ in range(n):
            (length,) = struct.unpack(">H", self.read_exact(s, 2))
            msg = self.read_exact(s, length)
            out.append((struct.unpack(">H", msg[:2])[0], msg))
        return out

    def test_dot_many_pipelined_queries_each_answered_once(self):
        """Answers to queries pipelined in one burst leave together (several per TLS record,
        records up to 16 KiB, one socket write per read): each must still be a whole
        length-prefixed message, every query answered exactly once, a padded query padded, and
        an answer that comes later (slow.test, from a timer) must still arrive while more
        queries are pipelined behind it."""
        with self.tls_socket(self.srv.dot_port, alpn=["dot"]) as s:
            s.settimeout(10)
            burst = b""
            want = {}
            for i in range(1, 601):  # more than max_in_flight (256): the rest waits and resumes
                if i == 300:
                    q = dns_query("slow.test", qid=i)
                elif i == 450:
                    q = dns_query(f"pad{i}.test", qid=i, padding=True)
                else:
                    q = dns_query(f"n{i}.test", qtype=16 if i % 3 == 0 else 1, qid=i)
                want[i] = q
                burst += struct.pack(">H", len(q)) + q
            s.sendall(burst)
            got = self.read_dot_answers(s, 599)  # every answer but the slow one
            ids = [i for i, _ in got]
            self.assertEqual(sorted(ids), [i for i in range(1, 601) if i != 300],
                             "each fast query answered exactly once")
            for qid, msg in got:
                q = want[qid]
                question = q[12:q.index(b"\x00", 12) + 5]  # QNAME (ASCII labels), QTYPE, QCLASS
                self.assertEqual(msg[12:12 + len(question)], question,
                                 f"answer {qid} carries its own question")
                if qid == 450:
                    self.assertEqual(len(msg) % 468, 0, "the padded query's answer is padded")
                else:
                    self.assertNotEqual(len(msg) % 468, 0)
            # While slow.test is still outstanding, more queries on the same connection.
            q = dns_query("late.test", qid=700)
            s.sendall(struct.pack(">H", len(q)) + q)
            rest = self.read_dot_answers(s, 2)
            self.assertEqual(sorted(i for i, _ in rest), [300, 700])
            self.assertIn(b"\x04slow\x04test", dict(rest)[300])
            # Nothing else arrives: no answer was sent twice.
            q = dns_query("last.test", qid=701)
            s.sendall(struct.pack(">H", len(q)) + q)
            self.assertEqual([i for i, _ in self.read_dot_answers(s, 1)], [701])

    def test_dot_answers_then_close_notify_after_pipelined_queries(self):
        """Queries and the client's close_notify in one flight: the server answers each query
        (answers collected during that read) and only then sends its own close_notify, so the
        client reads every answer before the end of the stream (RFC 8446 §6.1)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        with socket.create_connection(("127.0.0.1", self.srv.dot_port), timeout=5) as raw:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    raw.sendall(outgoing.read())
                    incoming.write(raw.recv(65536))
            raw.sendall(outgoing.read())
            burst = b""
            for i in range(1, 41):
                q = dns_query(f"c{i}.test", qtype=16 if i % 2 else 1, qid=i)
                burst += struct.pack(">H", len(q)) + q
            tls.write(burst)
            with self.assertRaises(ssl.SSLWantReadError):
                tls.unwrap()  # queues our close_notify; theirs is still to come
            raw.sendall(outgoing.read())  # the queries and close_notify in one write
            stream, ended = b"", False
            while not ended:
                data = raw.recv(65536)
                if not data:
                    break
                incoming.write(data)
                while True:
                    try:
                        chunk = tls.read(65536)
                    except ssl.SSLWantReadError:
                        break
                    except ssl.SSLZeroReturnError:
                        ended = True
                        break
                    stream += chunk
        self.assertTrue(ended, "the server closes with a close_notify")
        ids = []
        while stream:
            (length,) = struct.unpack(">H", stream[:2])
            self.assertGreaterEqual(len(stream), 2 + length, "whole messages only")
            ids.append(struct.unpack(">H", stream[2:4])[0])
            stream = stream[2 + length:]
        self.assertEqual(sorted(ids), list(range(1, 41)), "every query answered once, before the end")

    def test_dot_zero_length_closes(self):
        with self.tls_socket(self.srv.dot_port) as s:
            s.sendall(b"\x00\x00")
            self.assertEqual(s.recv(100), b"")

    def test_garbage_before_handshake_closes_cleanly(self):
        for port in (self.srv.dot_port, self.srv.doh_port):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 10)
                data = s.recv(1000)
                while data:  # an alert at most, then EOF
                    data = s.recv(1000)
        self.test_kdig_dot_answers()

    # ---- DoH: clients
    def test_kdig_doh_post_and_get(self):
        for method in ("+https", "+https-get"):
            out = harness.kdig("127.0.0.1", self.srv.doh_port, "+tls-ca=" + self.ca,
                               "+tls-hostname=localhost", method, "example.com", "A", "+short")
            self.assertEqual(out.strip(), "192.0.2.1", method)

    def test_dig_doh_post_and_get(self):
        for method in ("+https", "+https-get"):
            out = harness.dig("127.0.0.1", self.srv.doh_port, method, "+tls-ca=" + self.ca,
                              "+tls-hostname=localhost", "example.com", "A", "+short")
            self.assertEqual(out.strip(), "192.0.2.1", method)

    def test_curl_wire_format_over_h2_and_http1(self):
        q = dns_query("example.com")
        for http in ("--http2", "--http1.1"):
            with tempfile.NamedTemporaryFile() as body:
                p = self.curl("-D", "-", "-o", body.name, self.doh_url() + "?dns=" + b64url(q), http=http)
                head = p.stdout.lower()
                self.assertIn(" 200", head.splitlines()[0], p.stdout + p.stderr)
                self.assertIn("content-type: application/dns-message", head)
                self.assertIn("cache-control: max-age=300", head)
                with open(body.name, "rb") as f:
                    answer = f.read()
                self.assertEqual(answer[-4:], bytes([192, 0, 2, 1]))
                self.assertEqual(answer[:2], b"\x00\x00", "RFC 8484: the ID comes back as sent")
            # POST (binary stdin, so subprocess directly)
            p = subprocess.run(["curl", "-sS", http, "--cacert", self.ca, "--resolve",
                                f"localhost:{self.srv.doh_port}:127.0.0.1", "-H",
                                "content-type: application/dns-message", "--data-binary", "@-",
                                self.doh_url()], input=q, capture_output=True, timeout=20)
            self.assertEqual(p.stdout[-4:], bytes([192, 0, 2, 1]), p.stderr)

    def test_curl_json_api(self):
        for http in ("--http2", "--http1.1"):
            p = self.curl("-H", "accept: application/dns-json",
                          self.doh_url() + "?name=example.com&type=A", http=http)
            doc = json.loads(p.stdout)
            self.assertEqual(list(doc)[:6], ["Status", "TC", "RD", "RA", "AD", "CD"])
            self.assertEqual(doc["Status"], 0)
            self.assertEqual(doc["Question"], [{"name": "example.com", "type": 1}])
            self.assertEqual(doc["Answer"], [{"name": "example.com", "type": 1, "TTL": 300, "data": "192.0.2.1"}])
        # ct= instead of the accept header
        p = self.curl(self.doh_url() + "?name=example.com&type=TXT&ct=application/dns-json")
        self.assertEqual(json.loads(p.stdout)["Answer"][0]["type"], 16)

    def test_doh_location_hints(self):
        host = "65y9p2vm1u.cloudflare-gateway.com"
        for http in ("--http2", "--http1.1"):
            p = self.curl("-H", "accept: application/dns-json", "-H", "cf-dns-location: loc-a",
                          "-H", "CF-Authorization: tok123",
                          self.doh_url("/dns-query/mysub", host=host) + "?name=example.com&type=TXT",
                          http=http, host=host)
            data = json.loads(p.stdout)["Answer"][0]["data"]
            for want in ('"proto=https"', f'"sni={host}"', f'"host={host}"', '"path=/dns-query/mysub"',
                         '"loc=loc-a"', '"auth=tok123"', f'"dst=127.0.0.1:{self.srv.doh_port}"'):
                self.assertIn(want, data, http)

    # ---- DoH: errors
    def test_http_error_codes(self):
        q = dns_query("example.com")
        u = self.doh_url()
        for http in ("--http2", "--http1.1"):
            self.assertEqual(self.status(u, http=http), 400, "missing dns")
            self.assertEqual(self.status(u + "?dns=***", http=http), 400, "not base64url")
            self.assertEqual(self.status(u + "?dns=AAAA", http=http), 400, "too small")
            self.assertEqual(self.status("-H", "accept: application/dns-json", u + "?name=x.com&cd=2",
                                         http=http), 400, "bad JSON flag")
            self.assertEqual(self.status(self.doh_url("/nope") + "?dns=" + b64url(q), http=http), 404)
            self.assertEqual(self.status("-X", "PUT", u, http=http), 405)
            self.assertEqual(self.status("-X", "DELETE", u + "?dns=" + b64url(q), http=http), 405)
            if http == "--http1.1":
                # Over HTTP/2, curl itself refuses to exceed our SETTINGS_MAX_HEADER_LIST_SIZE.
                self.assertEqual(self.status(u + "?dns=" + "A" * 90000, http=http), 413,
                                 "dns param too large")
            self.assertEqual(self.status("-H", "content-type: text/plain", "--data-binary", "x" * 20, u,
                                         http=http), 415)
            self.assertEqual(self.status(u + "?dns=" + b64url(dns_query("timeout.test")), http=http), 504)
            self.assertEqual(self.status(u + "?dns=" + b64url(dns_query("drop.test")), http=http), 504)

    def test_huge_post_body_is_413(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"\x00" * (2 * 1024 * 1024))
            f.flush()
            for http in ("--http2", "--http1.1"):
                self.assertEqual(self.status("-H", "content-type: application/dns-message",
                                             "--data-binary", "@" + f.name, self.doh_url(), http=http),
                                 413, http)
        self.test_kdig_doh_post_and_get()

    def test_huge_header_block_is_rejected(self):
        big = "x-big: " + "a" * 20000
        for http in ("--http2", "--http1.1"):
            code = self.status("-H", big, self.doh_url() + "?dns=" + b64url(dns_query("example.com")), http=http)
            self.assertEqual(code, 413, http)

    # ---- DoH: connection behaviour
    def test_many_streams_on_one_connection(self):
        url = self.doh_url() + "?dns=" + b64url(dns_query("example.com"))
        url = url.replace("localhost", "127.0.0.1")
        p = harness.run(["h2load", "-n", "1000", "-c", "1", "-m", "100", url], timeout=60)
        self.assertIn("1000 total, 1000 started, 1000 done, 1000 succeeded", p.stdout, p.stdout)
        self.assertIn("status codes: 1000 2xx", p.stdout)

    def test_settings_advertise_stream_cap(self):
        url = self.doh_url().replace("localhost", "127.0.0.1") + "?dns=" + b64url(dns_query("example.com"))
        p = harness.run(["nghttp", "-nv", url], timeout=20, check=False)
        self.assertIn("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):256", p.stdout)

    def test_http1_keepalive_answers_in_order(self):
        with self.tls_socket(self.srv.doh_port, alpn=["http/1.1"]) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
            reqs = b""
            for name in ("slow.test", "fast.test"):
                reqs += (f"GET /dns-query?dns={b64url(dns_query(name))} HTTP/1.1\r\n"
                         f"Host: localhost\r\n\r\n").encode()
            s.sendall(reqs)
            bodies = []
            buf = b""
            while len(bodies) < 2:
                while b"\r\n\r\n" not in buf:
                    buf += s.recv(4096)
                head, buf = buf.split(b"\r\n\r\n", 1)
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
                while len(buf) < length:
                    buf += s.recv(4096)
                bodies.append(buf[:length])
                buf = buf[length:]
            # Responses leave in request order even though the first answer was slower.
            self.assertIn(b"\x04slow\x04test", bodies[0])
            self.assertIn(b"\x04fast\x04test", bodies[1])

    def test_doh_alpn_prefers_h2(self):
        with self.tls_socket(self.srv.doh_port, alpn=["http/1.1", "h2"]) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")

    def test_connection_cap(self):
        """At the cap a new connection closes the stalest idle one (issue 12: slow clients must
        not lock everyone out); only when every connection has an answer outstanding is the
        new one refused at accept."""
        capped = EchoServer("1")
        try:
            ctx = ssl.create_default_context(cafile=capped.ca)

            def connect():
                return ctx.wrap_socket(socket.create_connection(("127.0.0.1", capped.dot_port), timeout=5),
                                       server_hostname="localhost")

            def ask(sock, name, qid):
                q = dns_query(name, qid=qid)
                sock.sendall(struct.pack(">H", len(q)) + q)

            def answer_id(sock):
                (n,) = struct.unpack(">H", self.read_exact(sock, 2))
                return struct.unpack(">H", self.read_exact(sock, n)[:2])[0]

            first = connect()
            ask(first, "fast.test", 1)
            self.assertEqual(answer_id(first), 1)
            second = connect()  # the idle first one is closed for it
            ask(second, "fast.test", 2)
            self.assertEqual(answer_id(second), 2)
            first.settimeout(2)
            self.assert_closed_by_server(lambda: (ask(first, "fast.test", 3), answer_id(first)))
            first.close()

            # `second` has a slow answer outstanding: it is not evicted, the newcomer is refused.
            ask(second, "slow.test", 4)

            def newcomer():
                third = connect()
                third.settimeout(2)
                ask(third, "fast.test", 5)
                answer_id(third)

            self.assert_closed_by_server(newcomer)
            self.assertEqual(answer_id(second), 4)
            second.close()
        finally:
            capped.close()

    def test_lab_ca_is_reused_across_restarts(self):
        state = tempfile.mkdtemp(prefix="dnslab-tls-state-")
        try:
            pems = []
            for _ in range(2):
                p = subprocess.Popen([ECHO, state], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for line in p.stdout:
                    if line.strip() == "ready":
                        break
                with open(os.path.join(state, "ca.pem")) as f:
                    pems.append(f.read())
                p.stdin.close()
                p.wait(timeout=5)
                p.stdout.close()
            self.assertEqual(pems[0], pems[1])
            self.assertEqual(os.stat(os.path.join(state, "ca.key")).st_mode & 0o777, 0o600)
        finally:
            shutil.rmtree(state, ignore_errors=True)


class RealResolver(unittest.TestCase):
    """dnslab-resolver with --listen tls:// and https:// and the fixture zones."""

    @classmethod
    def setUpClass(cls):
        cls.r = harness.Resolver(listen=("udp://127.0.0.1:0", "tcp://127.0.0.1:0", "tls://127.0.0.1:0",
                                         "https://127.0.0.1:0/dns-query"))
        cls.ca = cls.r.ca_file()

    @classmethod
    def tearDownClass(cls):
        cls.r.__exit__(None, None, None)

    def test_ready_file_names_the_lab_ca(self):
        self.assertTrue(self.ca and os.path.exists(self.ca), self.r.urls)
        self.assertTrue(self.ca.startswith(self.r.tmp), "the CA lives under --state-dir")

    def answers(self, name, qtype):
        host, udp = self.r.addr("udp")
        _, tcp = self.r.addr("tcp")
        _, dot = self.r.addr("tls")
        _, doh = self.r.addr("https")
        tls = ["+tls-ca=" + self.ca, "+tls-hostname=localhost"]
        out = {
            "udp": harness.kdig(host, udp, "+notcp", name, qtype),
            "tcp": harness.kdig(host, tcp, "+tcp", name, qtype),
            "dot": harness.kdig(host, dot, *tls, name, qtype),
            "doh-post": harness.kdig(host, doh, *tls, "+https", name, qtype),
            "doh-get": harness.kdig(host, doh, *tls, "+https-get", name, qtype),
        }
        return {k: self.summary(v) for k, v in out.items()}

    @staticmethod
    def summary(kdig_text):
        """What must not differ between transports: the status, the header flags and every
        record of the answer and authority sections (TTLs aside: cache hits age)."""
        status = re.search(r"opcode: \w+; status: (\w+)", kdig_text).group(1)
        flags = re.search(r";; Flags: ([^;]*);", kdig_text).group(1).split()
        sections, current = {}, None
        for line in kdig_text.splitlines():
            m = re.match(r";; (ANSWER|AUTHORITY) SECTION:", line)
            if m:
                current = sections.setdefault(m.group(1), [])
            elif not line.strip() or line.startswith(";;"):
                current = None
            elif current is not None:
                f = line.split()
                current.append(" ".join([f[0]] + f[2:]))  # without the TTL
        return status, sorted(flags), {k: sorted(v) for k, v in sections.items()}

    def test_answers_identical_across_transports(self):
        for name, qtype in (("www.example.com", "A"), ("www.bing.com", "AAAA"),
                            ("example.com", "MX"), ("nonexistent.example.com", "A")):
            got = self.answers(name, qtype)
            for transport, summary in got.items():
                self.assertEqual(summary, got["udp"], f"{name} {qtype} over {transport}")
        self.assertEqual(self.answers("nonexistent.example.com", "A")["dot"][0], "NXDOMAIN")
        self.assertIn("www.example.com. IN A 192.0.2.10",
                      self.answers("www.example.com", "A")["dot"][2]["ANSWER"])

    def test_log_records_protocol_and_destination(self):
        host, dot = self.r.addr("tls")
        _, doh = self.r.addr("https")
        tls = ["+tls-ca=" + self.ca, "+tls-hostname=localhost"]
        harness.kdig(host, dot, *tls, "dot-log.example.com", "A")
        harness.kdig(host, doh, *tls, "+https", "doh-log.example.com", "A")
        rec = self.r.wait_record(lambda r: r.get("QueryName") == "dot-log.example.com")
        self.assertEqual(rec["Protocol"], "tls")
        self.assertEqual(rec["DstPort"], dot)
        rec = self.r.wait_record(lambda r: r.get("QueryName") == "doh-log.example.com")
        self.assertEqual(rec["Protocol"], "https")
        self.assertEqual(rec["DstPort"], doh)

    def test_curl_json_against_fixture(self):
        _, doh = self.r.addr("https")
        p = harness.run(["curl", "-sS", "--http2", "--cacert", self.ca, "--resolve", f"localhost:{doh}:127.0.0.1",
                         "-H", "accept: application/dns-json",
                         f"https://localhost:{doh}/dns-query?name=www.example.com&type=A"])
        doc = json.loads(p.stdout)
        self.assertEqual(doc["Status"], 0)
        self.assertIn("192.0.2.10", [a["data"] for a in doc["Answer"]])


if __name__ == "__main__":
    harness.main()
