# SPDX-License-Identifier: MIT
"""Faults of the lab's own DoT/DoH listeners (a helper resolver playing a misbehaving
upstream): HTTP status, GOAWAY and RST_STREAM over HTTP/2 and HTTP/1.1, TLS handshake
alert/close/stall by SNI; what real clients (curl, kdig) see and what the lab resolver
answers and logs when it forwards to such a listener; runtime switching of fault files with
SIGHUP; and the configuration errors. Loopback only."""
import base64
import os
import signal
import tempfile
import time
import unittest

import harness
from harness import Resolver, ZONES, dig, main

LAB_CONFIG = """
[resolver]
timeout_ms = 800
connect_timeout_ms = 800
tries = 1
cache_size = 0
"""


def b64_query(name, qtype=1):
    return base64.urlsafe_b64encode(harness.build_query(name, qtype, qid=0)).rstrip(b"=").decode()


def status_and_ede(out):
    status = out.split("status: ", 1)[1].split(",", 1)[0] if "status: " in out else None
    ede = None
    for line in out.splitlines():
        if "EDE:" in line:
            ede = line.split("EDE:", 1)[1].strip()
    return status, ede


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class DohListenerFaults(unittest.TestCase):
    """One helper whose DoH listener injects a fault per name; curl and the lab talk to it."""

    SPEC = ("h503.example.com:http=503;"
            "away.example.com:goaway=ENHANCE_YOUR_CALM;"
            "rst.example.com:rst_stream;"
            "refused.example.com:rst_stream=REFUSED_STREAM")

    @classmethod
    def setUpClass(cls):
        cls.helper = Resolver(listen=("https://127.0.0.1:0/dns-query?fault=" + cls.SPEC,),
                              upstream=("fixture:" + ZONES,))
        cls.port = cls.helper.addr("https")[1]
        cls.ca = cls.helper.ca_file()

    @classmethod
    def tearDownClass(cls):
        cls.helper.__exit__(None, None, None)

    def tearDown(self):
        self.assertIsNone(self.helper.proc.poll(), "the helper must survive every fault")

    def curl(self, name, http):
        url = f"https://localhost:{self.port}/dns-query?dns={b64_query(name)}"
        return harness.run(["curl", "-sS", http, "--cacert", self.ca, "--max-time", "5",
                            "--resolve", f"localhost:{self.port}:127.0.0.1",
                            "-o", "/dev/null", "-w", "%{http_code}", url], check=False)

    def lab(self, query_http="2"):
        upstream = f"https://127.0.0.1:{self.port}/dns-query?ca={self.ca}&http={query_http}"
        return Resolver(upstream=(upstream,), config=LAB_CONFIG)

    def test_curl_sees_each_fault_over_h2_and_http11(self):
        for http in ("--http2", "--http1.1"):
            with self.subTest(http=http):
                ok = self.curl("www.example.com", http)
                self.assertEqual((ok.returncode, ok.stdout), (0, "200"), ok.stderr)
                p = self.curl("h503.example.com", http)
                self.assertEqual((p.returncode, p.stdout), (0, "503"), p.stderr)
                for name in ("away.example.com", "rst.example.com"):
                    p = self.curl(name, http)
                    self.assertNotEqual(p.returncode, 0, f"{name} over {http}: {p.stdout}")
                    self.assertNotEqual(p.stdout, "200")
        # curl names the HTTP/2 error code it got with the RST_STREAM.
        p = self.curl("rst.example.com", "--http2")
        self.assertIn("INTERNAL_ERROR", p.stderr + p.stdout)

    def test_lab_reaction_over_http2(self):
        want = {  # name -> (status, text in the EDE EXTRA-TEXT and LabUpstreamError)
            "h503.example.com": ("SERVFAIL", "HTTP 503"),
            "away.example.com": ("SERVFAIL", "HTTP/2 GOAWAY (ENHANCE_YOUR_CALM) before the answer, "
                                             "also on a new connection"),
            "rst.example.com": ("SERVFAIL", "HTTP/2 stream reset by server (INTERNAL_ERROR)"),
            "refused.example.com": ("SERVFAIL", "HTTP/2 stream reset by server (REFUSED_STREAM)"),
        }
        with self.lab() as lab:
            host, port = lab.addr("udp")
            for name, (status, text) in want.items():
                with self.subTest(name=name):
                    out = dig(host, port, name, "A")
                    got_status, ede = status_and_ede(out)
                    self.assertEqual(got_status, status, out)
                    self.assertIn("23 (Network Error)", ede or "", out)
                    self.assertIn(text, ede, out)
                    rec = lab.wait_record(lambda r, n=name: r.get("QueryName") == n)
                    self.assertEqual((rec["RCode"], rec["EDEErrors"]), (2, [23]))
                    self.assertIn(text, rec["LabUpstreamError"])
                    # The client recovers: the next name resolves (after a GOAWAY on a new
                    # connection, after an RST_STREAM on the same one).
                    ok = dig(host, port, "www.example.com", "A", "+short")
                    self.assertEqual(ok.strip(), "192.0.2.10", f"after {name}")

    def test_lab_reaction_over_http11(self):
        with self.lab(query_http="1.1") as lab:
            host, port = lab.addr("udp")
            out = dig(host, port, "h503.example.com", "A")
            self.assertEqual(status_and_ede(out)[0], "SERVFAIL", out)
            self.assertIn("HTTP 503", status_and_ede(out)[1] or "", out)
            # No GOAWAY in HTTP/1.1: the listener closes the connection unanswered.
            out = dig(host, port, "away.example.com", "A")
            status, ede = status_and_ede(out)
            self.assertEqual(status, "SERVFAIL", out)
            self.assertIn("23 (Network Error)", ede or "", out)
            self.assertIn("connection closed by peer", ede, out)
            ok = dig(host, port, "www.example.com", "A", "+short")
            self.assertEqual(ok.strip(), "192.0.2.10")


class TlsHandshakeFaults(unittest.TestCase):
    """Handshake faults matched on the SNI, on a DoT and a DoH listener of one helper."""

    SPEC = "alert.lab:tls=alert;close.lab:tls=close;stall.lab:tls=stall"

    @classmethod
    def setUpClass(cls):
        cls.helper = Resolver(listen=("tls://127.0.0.1:0?fault=" + cls.SPEC,
                                      "https://127.0.0.1:0/dns-query?fault=" + cls.SPEC),
                              upstream=("fixture:" + ZONES,))
        cls.ca = cls.helper.ca_file()
        cls.dot_port = cls.helper.addr("tls")[1]
        cls.doh_port = cls.helper.addr("https")[1]

    @classmethod
    def tearDownClass(cls):
        cls.helper.__exit__(None, None, None)

    def tearDown(self):
        self.assertIsNone(self.helper.proc.poll(), "the helper must survive every fault")

    def test_kdig_sees_the_alert_and_the_close(self):
        for sni, needle in (("alert.lab", "handshake"), ("close.lab", "")):
            with self.subTest(sni=sni):
                # Certificate checks off: the fault comes before any certificate is sent.
                p = harness.run(["kdig", "@127.0.0.1", "-p", str(self.dot_port), "+retry=0",
                                 "+time=2", "+tls", "+tls-sni=" + sni, "www.example.com", "A"],
                                check=False)
                out = p.stdout + p.stderr
                self.assertNotIn("192.0.2.10", out)
                self.assertIn("failed", out.lower())
                self.assertIn(needle, out.lower())
        ok = harness.kdig("127.0.0.1", self.dot_port, "+tls", "+tls-sni=fine.lab", "www.example.com",
                          "A", "+short")
        self.assertEqual(ok.strip(), "192.0.2.10")

    def lab_answer(self, upstream):
        with Resolver(upstream=(upstream,), config=LAB_CONFIG) as lab:
            host, port = lab.addr("udp")
            started = time.monotonic()
            out = dig(host, port, "www.example.com", "A")
            elapsed = time.monotonic() - started
            rec = lab.wait_record(lambda r: r.get("QueryName") == "www.example.com")
            return out, rec, elapsed

    def test_lab_reaction_over_dot_and_doh(self):
        # The lab verifies the helper's certificate against its CA but for the SNI names used
        # here, which the lab CA leaf does not carry: verification is off (the fault comes first).
        ups = {
            "tls": lambda sni: f"tls://127.0.0.1:{self.dot_port}?sni={sni}&verify=0",
            "https": lambda sni: f"https://127.0.0.1:{self.doh_port}/dns-query?sni={sni}&verify=0",
        }
        want = {  # sni -> (EDE code, text)
            "alert.lab": (23, "TLS handshake failed: sslv3 alert handshake failure"),
            "close.lab": (23, "TLS handshake failed: connection closed by peer"),
            "stall.lab": (22, "no answer within 800 ms (TLS handshake not finished)"),
        }
        for scheme, make in ups.items():
            for sni, (code, text) in want.items():
                with self.subTest(scheme=scheme, sni=sni):
                    out, rec, elapsed = self.lab_answer(make(sni))
                    self.assertEqual(status_and_ede(out)[0], "SERVFAIL", out)
                    self.assertEqual((rec["RCode"], rec["EDEErrors"]), (2, [code]))
                    self.assertIn(text, rec["LabUpstreamError"])
                    if code == 23:
                        self.assertLess(elapsed, 0.7, "a handshake failure must not wait for the timeout")
            with self.subTest(scheme=scheme, sni="fine.lab"):
                out, rec, _ = self.lab_answer(make("fine.lab"))
                self.assertEqual((rec["RCode"], rec.get("EDEErrors", [])), (0, []), out)


class RuntimeSwitching(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-faults-it-")

    def faults_event(self, res, count):
        events = []
        deadline = time.time() + 5
        while time.time() < deadline:
            events = [e for e in res.log_records(events=True) if e.get("LabEvent") == "faults-reload"]
            if len(events) >= count:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(len(events), count, events)
        return events[count - 1]

    def test_upstream_fault_file_switches_on_sighup_and_a_bad_file_keeps_the_old_plan(self):
        f = os.path.join(self.tmp, "faults.toml")
        write(f, '[[fault]]\nname = "www.example.com"\nrcode = "REFUSED"\n')
        with Resolver(upstream=(f"fixture:{ZONES}?faults={f}",), config=LAB_CONFIG) as lab:
            host, port = lab.addr("udp")
            self.assertEqual(status_and_ede(dig(host, port, "www.example.com"))[0], "REFUSED")

            write(f, '[[fault]]\nname = "www.example.com"\nrcode = "NXDOMAIN"\n')
            lab.signal(signal.SIGHUP)
            ev = self.faults_event(lab, 1)
            self.assertEqual((ev["LabOk"], ev["LabFaultFile"]), (True, f))
            self.assertEqual(status_and_ede(dig(host, port, "www.example.com"))[0], "NXDOMAIN")

            write(f, '[[fault]]\nname = "www.example.com"\nrcode = "NOPE"\n')
            lab.signal(signal.SIGHUP)
            ev = self.faults_event(lab, 2)
            self.assertFalse(ev["LabOk"])
            self.assertIn("NOPE", ev["LabError"])
            self.assertIn(f, ev["LabError"])
            self.assertEqual(status_and_ede(dig(host, port, "www.example.com"))[0], "NXDOMAIN")

            write(f, "")
            lab.signal(signal.SIGHUP)
            self.assertTrue(self.faults_event(lab, 3)["LabOk"])
            self.assertEqual(dig(host, port, "www.example.com", "+short").strip(), "192.0.2.10")
            self.assertIn("fault plan reload failed", lab.read_stderr())

    def test_listener_fault_file_switches_on_sighup(self):
        f = os.path.join(self.tmp, "listener.toml")
        write(f, '[[fault]]\nname = "www.example.com"\nhttp_status = 503\n')
        with Resolver(listen=(f"https://127.0.0.1:0/dns-query?faults={f}",),
                      upstream=("fixture:" + ZONES,)) as helper:
            upstream = f"{helper.url('https')}?ca={helper.ca_file()}"
            with Resolver(upstream=(upstream,), config=LAB_CONFIG) as lab:
                host, port = lab.addr("udp")
                steps = [  # (file content written before the step, EDE text expected)
                    (None, "HTTP 503"),
                    ('[[fault]]\nname = "www.example.com"\nrst_stream = "INTERNAL_ERROR"\n', "INTERNAL_ERROR"),
                ]
                for reloads, (content, text) in enumerate(steps):
                    if content is not None:
                        write(f, content)
                        helper.signal(signal.SIGHUP)
                        self.assertTrue(self.faults_event(helper, reloads)["LabOk"])
                    status, ede = status_and_ede(dig(host, port, "www.example.com"))
                    self.assertEqual(status, "SERVFAIL")
                    self.assertIn(text, ede)

                write(f, "")
                helper.signal(signal.SIGHUP)
                self.assertTrue(self.faults_event(helper, 2)["LabOk"])
                self.assertEqual(dig(host, port, "www.example.com", "+short").strip(), "192.0.2.10")


class ConfigErrors(unittest.TestCase):
    def start_fails(self, **kw):
        with self.assertRaises(RuntimeError) as cm:
            Resolver(**kw)
        return str(cm.exception)

    def test_faults_in_the_wrong_place_exit_2_with_a_message(self):
        cases = [
            (dict(listen=("dns://127.0.0.1:0?fault=*:tls=alert",)), "tls:// and https:// listeners"),
            (dict(listen=("tls://127.0.0.1:0?fault=x.example:http=503",)), "https:// listener"),
            (dict(listen=("https://127.0.0.1:0/dns-query?fault=x.example:drop",)), "upstream"),
            (dict(upstream=(f"fixture:{ZONES}?fault=x.example:goaway",)), "listeners"),
            (dict(upstream=("udp://127.0.0.1:9?fault=x.example:tls=close",)), "listeners"),
            (dict(listen=("tls://127.0.0.1:0?fault=x.example:tls=reject",)), "alert, close, stall"),
            (dict(listen=("tls://127.0.0.1:0?faults=/nonexistent/f.toml",)), "/nonexistent/f.toml"),
        ]
        for kw, needle in cases:
            with self.subTest(kw=kw):
                msg = self.start_fails(**kw)
                self.assertIn("exited with 2", msg)
                self.assertIn(needle, msg)


if __name__ == "__main__":
    main()
