# SPDX-License-Identifier: MIT
"""DoT and DoH upstream clients against real servers on loopback: dnsdist (Debian) as the DoT
and DoH server, a stdlib HTTPS server for the JSON API, certificates made with the openssl CLI.
Driven through tests/upstream_query, which calls make_dot_upstream / make_doh_upstream."""
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

QUERY = os.environ.get("DNSLAB_UPSTREAM_QUERY", os.path.join(harness.BUILD, "tests/upstream_query"))
SPOOF = "192.0.2.1"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA with a leaf for localhost/127.0.0.1, and an unrelated CA for the wrong-CA cases."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj", "/CN=dnslab " + ca, cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "leaf.key",
            "-out", "leaf.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    # The SPKI pin as kdig +tls-pin takes it: base64(sha256(DER SubjectPublicKeyInfo)).
    pub = subprocess.run(["openssl", "x509", "-in", "leaf.pem", "-pubkey", "-noout"], cwd=d, check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         capture_output=True).stdout
    import base64
    import hashlib
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def wait_listening(port, proc, timeout=10):
    """Ready signal: the TCP port accepts connections (dnsdist has no ready file)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("dnsdist exited with %d" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("dnsdist did not listen on %d" % port)


class Dnsdist:
    """dnsdist with a Do53, a DoT and a DoH frontend; answers every A query with SPOOF and
    drops queries for drop.example (to provoke client timeouts)."""

    def __init__(self, tmp, pki, ports=None):
        self.tmp, self.pki = tmp, pki
        self.ports = ports or {"do53": harness.free_udp_tcp_port(), "dot": harness.free_port(socket.SOCK_STREAM),
                               "doh": harness.free_port(socket.SOCK_STREAM)}
        conf = os.path.join(tmp, "dnsdist.conf")
        cert, key = os.path.join(pki, "leaf.pem"), os.path.join(pki, "leaf.key")
        with open(conf, "w") as f:
            f.write('setSecurityPollSuffix("")\n'  # no security-poll DNS lookups off the machine
                    f'setLocal("127.0.0.1:{self.ports["do53"]}")\n'
                    f'addTLSLocal("127.0.0.1:{self.ports["dot"]}", "{cert}", "{key}")\n'
                    f'addDOHLocal("127.0.0.1:{self.ports["doh"]}", "{cert}", "{key}", "/dns-query")\n'
                    'addAction(QNameRule("drop.example."), DropAction())\n'
                    f'addAction(AllRule(), SpoofAction({{"{SPOOF}"}}))\n')
        self.log = open(os.path.join(tmp, "dnsdist.log"), "a")
        self.proc = subprocess.Popen(["dnsdist", "--supervised", "--disable-syslog", "-C", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_listening(self.ports["dot"], self.proc)
        wait_listening(self.ports["doh"], self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class JsonDoh(http.server.BaseHTTPRequestHandler):
    """Minimal JSON-API DoH server (HTTP/1.1 keep-alive), recording what it was sent."""
    protocol_version = "HTTP/1.1"
    seen = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        JsonDoh.seen.append({"path": url.path, "query": q, "accept": self.headers.get("accept"),
                             "host": self.headers.get("host"),
                             "location": self.headers.get("cf-dns-location")})
        if self.headers.get("accept") != "application/dns-json" or "name" not in q:
            body, status, ctype = b"bad request", 400, "text/plain"
        else:
            name = q["name"][0]
            body = json.dumps({"Status": 0, "TC": False, "RD": True, "RA": True, "AD": False, "CD": False,
                               "Question": [{"name": name + ".", "type": 1}],
                               "Answer": [{"name": name + ".", "type": 1, "TTL": 60, "data": SPOOF}]}).encode()
            status, ctype = 200, "application/dns-json"
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class SilentTls:
    """A TLS server that completes handshakes and then never answers anything."""

    def __init__(self, pki):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(pki, "leaf.pem"), os.path.join(pki, "leaf.key"))
        self.ctx.set_alpn_protocols(["dot", "h2", "http/1.1"])
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                t = self.ctx.wrap_socket(c, server_side=True)
                t.recv(65535)  # read the query, then hold the connection open, silent
                self.conns.append(t)
            except (OSError, ssl.SSLError):
                c.close()

    def __enter__(self):
        self.thread.start()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()
        for c in self.conns:
            c.close()


class UpstreamTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("dnsdist") is None:
            raise unittest.SkipTest("dnsdist not installed (scripts/bootstrap installs it)")
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-upstream-tls-")
        cls.pin = make_pki(cls.tmp)
        cls.ca = os.path.join(cls.tmp, "ca.pem")
        cls.other_ca = os.path.join(cls.tmp, "other-ca.pem")
        cls.dnsdist = Dnsdist(cls.tmp, cls.tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(cls.tmp, "leaf.pem"), os.path.join(cls.tmp, "leaf.key"))
        ctx.set_alpn_protocols(["http/1.1"])
        cls.json_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JsonDoh)
        cls.json_server.socket = ctx.wrap_socket(cls.json_server.socket, server_side=True)
        cls.json_port = cls.json_server.server_address[1]
        threading.Thread(target=cls.json_server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.json_server.shutdown()
        cls.dnsdist.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------
    def dot(self, params="", host="127.0.0.1"):
        return f"tls://{host}:{self.dnsdist.ports['dot']}?ca={self.ca}" + params

    def doh(self, params="", host="127.0.0.1", path="/dns-query"):
        return f"https://{host}:{self.dnsdist.ports['doh']}{path}?ca={self.ca}" + params

    def query(self, url, name="example.com", qtype="A", *extra, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run([QUERY, url, name, qtype, "--id", "4660", *extra], capture_output=True, text=True,
                           timeout=30, env=e)
        return p.returncode, parse_results(p.stdout), p.stdout + p.stderr

    def assert_answer(self, result, reused=None):
        self.assertEqual(result["kind"], "OK", result)
        self.assertEqual(result["rcode"], "NOERROR")
        self.assertIn("example.com. 60 A " + SPOOF, result["answers"])
        if reused is not None:
            self.assertEqual(result["reused"], "1" if reused else "0", result)
            if reused:
                self.assertEqual(float(result["connect_ms"]), 0.0)
            else:
                self.assertGreater(float(result["connect_ms"]), 0.0)

    def assert_error(self, url, fragment, code="UpstreamFailure", **kw):
        rc, results, out = self.query(url, **kw)
        self.assertEqual(rc, 1, out)
        self.assertEqual(len(results), 1, out)
        self.assertEqual(results[0]["kind"], "ERROR", out)
        self.assertEqual(results[0]["code"], code, out)
        self.assertIn(fragment, results[0]["detail"], out)
        return results[0]["detail"]

    # -- DoT -------------------------------------------------------------------------------
    def test_dot_answers_and_reuses_the_connection(self):
        rc, results, out = self.query(self.dot(), "example.com", "A", "--repeat", "3")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(results), 3, out)
        self.assert_answer(results[0], reused=False)
        self.assert_answer(results[1], reused=True)
        self.assert_answer(results[2], reused=True)
        self.assertEqual(results[0]["server"], f"127.0.0.1:{self.dnsdist.ports['dot']}")

    def test_dot_pipelines_concurrent_queries_on_one_connection(self):
        rc, results, out = self.query(self.dot(host="localhost"), "example.com", "A", "--repeat", "20",
                                      "--parallel", "20")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(results), 20, out)
        for r in results:
            self.assert_answer(r, reused=False)  # all waited for the same first connection

    def test_dot_with_padding(self):
        rc, results, out = self.query(self.dot("&pad=1"))
        self.assertEqual(rc, 0, out)
        self.assert_answer(results[0])

    def test_dot_server_closing_the_connection_fails_the_query(self):
        # dnsdist's DropAction over TCP/TLS closes the connection.
        detail = self.assert_error(self.dot(), "connection closed by peer", name="drop.example")
        self.assertTrue(detail.startswith(f"tls://127.0.0.1:{self.dnsdist.ports['dot']}: "), detail)

    def test_query_timeout(self):
        with SilentTls(self.tmp) as port:
            self.assert_error(f"tls://127.0.0.1:{port}?ca={self.ca}&timeout=300", "no answer within 300 ms",
                              code="UpstreamTimeout")
            self.assert_error(f"https://127.0.0.1:{port}/dns-query?ca={self.ca}&timeout=300&http=1.1",
                              "no answer within 300 ms", code="UpstreamTimeout")

    # -- DoH -------------------------------------------------------------------------------
    def test_doh_get_and_post_over_http2_and_http11(self):
        for method in ("get", "post"):
            for http in ("2", "1.1"):
                with self.subTest(method=method, http=http):
                    rc, results, out = self.query(self.doh(f"&method={method}&http={http}"), "example.com", "A",
                                                  "--repeat", "2")
                    self.assertEqual(rc, 0, out)
                    self.assertEqual(len(results), 2, out)
                    for r in results:
                        self.assertEqual(r["status"], "200")
                        self.assertEqual(r["ctype"], "application/dns-message")
                    self.assert_answer(results[0], reused=False)
                    self.assert_answer(results[1], reused=True)

    def test_doh_http2_multiplexes_concurrent_queries(self):
        rc, results, out = self.query(self.doh(host="localhost"), "example.com", "A", "--repeat", "30",
                                      "--parallel", "30")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(results), 30, out)
        for r in results:
            self.assert_answer(r)

    def test_doh_http11_queues_concurrent_queries(self):
        rc, results, out = self.query(self.doh("&http=1.1"), "example.com", "A", "--repeat", "5",
                                      "--parallel", "5")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(results), 5, out)
        self.assertEqual(sum(1 for r in results if r["reused"] == "0"), 5, out)

    def test_doh_http_error_status(self):
        detail = self.assert_error(self.doh(path="/nowhere"), "HTTP 404")
        self.assertEqual(detail, f"https://127.0.0.1:{self.dnsdist.ports['doh']}/nowhere: HTTP 404")
        rc, results, out = self.query(self.doh("&errors=exchange", path="/nowhere"))
        self.assertEqual(rc, 0, out)
        self.assertEqual(results[0]["kind"], "OK", out)
        self.assertEqual(results[0]["status"], "404", out)
        self.assertEqual(results[0]["rcode"], "-", out)  # no DNS wire, the error body instead
        self.assertTrue(results[0]["body"], out)

    def test_doh_json_with_header_hint(self):
        JsonDoh.seen.clear()
        url = (f"https://localhost:{self.json_port}/dns-query?ca={self.ca}&method=json&http=1.1"
               "&header.cf-dns-location=abc123")
        rc, results, out = self.query(url, "example.com", "A", "--repeat", "2")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(results), 2, out)
        body = json.loads(results[0]["body"])
        self.assertEqual(body["Status"], 0)
        self.assertEqual(body["Answer"][0]["data"], SPOOF)
        self.assertEqual(results[0]["ctype"], "application/dns-json")
        self.assertEqual(results[1]["reused"], "1", out)
        seen = JsonDoh.seen[0]
        self.assertEqual(seen["path"], "/dns-query")
        self.assertEqual(seen["query"], {"name": ["example.com"], "type": ["A"]})
        self.assertEqual(seen["accept"], "application/dns-json")
        self.assertEqual(seen["location"], "abc123")
        self.assertEqual(seen["host"], f"localhost:{self.json_port}")

    # -- verification ----------------------------------------------------------------------
    def test_wrong_ca_fails_with_the_reason(self):
        for url in (f"tls://127.0.0.1:{self.dnsdist.ports['dot']}?ca={self.other_ca}",
                    f"https://127.0.0.1:{self.dnsdist.ports['doh']}/dns-query?ca={self.other_ca}"):
            with self.subTest(url=url):
                detail = self.assert_error(url, "certificate verify failed: unable to get local issuer certificate")
                self.assertTrue(detail.startswith(url.split("?")[0].rsplit("/dns-query", 1)[0]), detail)

    def test_system_store_is_used_and_honours_ssl_cert_file(self):
        url = f"tls://127.0.0.1:{self.dnsdist.ports['dot']}"
        self.assert_error(url, "certificate verify failed", env={"SSL_CERT_FILE": self.other_ca})
        rc, results, out = self.query(url, env={"SSL_CERT_FILE": self.ca})
        self.assertEqual(rc, 0, out)
        self.assert_answer(results[0])

    def test_wrong_name_fails(self):
        self.assert_error(self.dot("&sni=wrong.example"), "certificate verify failed: hostname mismatch")
        self.assert_error(self.doh("&sni=wrong.example"), "certificate verify failed: hostname mismatch")
        self.assert_error(self.dot("&sni=127.0.0.2"), "certificate verify failed: IP address mismatch")
        rc, results, out = self.query(self.dot("&sni=localhost"))  # the name in the certificate
        self.assertEqual(rc, 0, out)

    def test_verify_off_accepts_an_unknown_ca(self):
        rc, results, out = self.query(f"tls://127.0.0.1:{self.dnsdist.ports['dot']}?ca={self.other_ca}&verify=0")
        self.assertEqual(rc, 0, out)
        self.assert_answer(results[0])

    def test_spki_pin(self):
        rc, results, out = self.query(self.dot("&pin=" + urllib.parse.quote(self.pin, safe="")))
        self.assertEqual(rc, 0, out)
        rc, results, out = self.query(self.doh("&pin=" + urllib.parse.quote(self.pin, safe="")))
        self.assertEqual(rc, 0, out)
        wrong = "A" * 43 + "="
        detail = self.assert_error(self.dot("&pin=" + wrong), "SPKI pin mismatch")
        self.assertIn(self.pin, detail)  # names the key the server really has
        self.assert_error(self.doh("&pin=" + wrong), "SPKI pin mismatch")

    # -- connection failures ---------------------------------------------------------------
    def test_refused_and_connect_timeout(self):
        dead = harness.free_port(socket.SOCK_STREAM)
        self.assert_error(f"tls://127.0.0.1:{dead}", "connection refused")
        self.assert_error(f"https://127.0.0.1:{dead}/dns-query", "connection refused")
        # A listener that never accepts: TCP completes in the kernel, TLS never starts.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            self.assert_error(f"tls://127.0.0.1:{port}?connect_timeout=300", "connect timeout after 300 ms",
                              code="UpstreamTimeout")

    def test_idle_connection_is_closed_and_reopened(self):
        for url in (self.dot("&idle_timeout=100"), self.doh("&idle_timeout=100"),
                    self.doh("&idle_timeout=100&http=1.1")):
            with self.subTest(url=url):
                p = subprocess.Popen([QUERY, url, "example.com", "A", "--repeat", "3", "--step"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                try:
                    self.assert_answer(read_result(p), reused=False)
                    p.stdin.write("next\n")  # at once: still inside the idle window
                    p.stdin.flush()
                    self.assert_answer(read_result(p), reused=True)
                    time.sleep(0.3)  # the behaviour under test: 300 ms idle > idle_timeout=100
                    p.stdin.write("next\n")
                    p.stdin.flush()
                    self.assert_answer(read_result(p), reused=False)
                    p.stdin.close()
                    self.assertEqual(p.wait(timeout=10), 0)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                    p.stdout.close()

    def test_server_killed_then_restarted(self):
        tmp = tempfile.mkdtemp(prefix="dnslab-restart-", dir=self.tmp)
        server = Dnsdist(tmp, self.tmp)
        try:
            for url in (f"tls://127.0.0.1:{server.ports['dot']}?ca={self.ca}",
                        f"https://127.0.0.1:{server.ports['doh']}/dns-query?ca={self.ca}"):
                with self.subTest(url=url):
                    p = subprocess.Popen([QUERY, url, "example.com", "A", "--repeat", "3", "--step"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                    try:
                        self.assert_answer(read_result(p), reused=False)
                        server.stop()
                        p.stdin.write("next\n")
                        p.stdin.flush()
                        r = read_result(p)
                        self.assertEqual(r["kind"], "ERROR", r)
                        self.assertEqual(r["code"], "UpstreamFailure", r)
                        server = Dnsdist(tmp, self.tmp, ports=server.ports)
                        p.stdin.write("next\n")
                        p.stdin.flush()
                        self.assert_answer(read_result(p), reused=False)  # transparently reconnected
                        p.stdin.close()
                        self.assertEqual(p.wait(timeout=10), 1)  # one of three failed
                    finally:
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                        p.stdout.close()
        finally:
            server.stop()


def parse_results(text):
    results, cur = [], None
    for line in text.splitlines():
        if line.startswith(("OK ", "ERROR ")):
            kind, _, rest = line.partition(" ")
            cur = {"kind": kind, "answers": [], "body": ""}
            if kind == "ERROR":
                code, _, detail = rest.partition(" detail=")
                cur["code"] = code.removeprefix("code=")
                cur["detail"] = detail
            else:
                for kv in rest.split(" "):
                    k, _, v = kv.partition("=")
                    cur["nanswers" if k == "answers" else k] = v
                # content types may contain spaces ("text/plain; charset=utf-8")
                cur["ctype"] = rest.split("ctype=", 1)[1].split(" connect_ms=", 1)[0]
        elif line.startswith("ANSWER ") and cur is not None:
            cur["answers"].append(line[len("ANSWER "):])
        elif line.startswith("BODY ") and cur is not None:
            cur["body"] = line[len("BODY "):]
        elif line == "DONE" and cur is not None:
            results.append(cur)
            cur = None
    return results


def read_result(proc):
    lines = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("upstream_query ended early: " + "".join(lines))
        lines.append(line)
        if line.strip() == "DONE":
            return parse_results("".join(lines))[0]


if __name__ == "__main__":
    harness.main()
