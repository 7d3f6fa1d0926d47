# SPDX-License-Identifier: MIT
"""Issue 2: Do53 over UDP and TCP against the real binary, with kdig and dig as clients."""
import json
import os
import random
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import (RESOLVER, ZONES, Resolver, build_query, dig, header, kdig, run,
                     tcp_frames, udp_exchange, dead_udp_port)


def answers(text):
    """Lines of a +short output."""
    return sorted(l.strip() for l in text.splitlines() if l.strip())


class Do53Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = Resolver()
        cls.udp = cls.r.addr("udp")
        cls.tcp = cls.r.addr("tcp")

    @classmethod
    def tearDownClass(cls):
        cls.r.__exit__(None, None, None)

    def q(self, *args, tcp=False):
        host, port = self.tcp if tcp else self.udp
        return kdig(host, port, *args, "+tcp" if tcp else "+notcp")

    def test_udp_and_tcp_answers_equal_the_fixture_zone(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                self.assertEqual(answers(self.q("www.example.com", "A", "+short", tcp=tcp)), ["192.0.2.10"])
                self.assertEqual(answers(self.q("www.example.com", "AAAA", "+short", tcp=tcp)), ["2001:db8::10"])
                self.assertEqual(answers(self.q("example.com", "MX", "+short", tcp=tcp)),
                                 ["10 mail.example.com.", "20 mail2.example.com."])
                self.assertEqual(answers(self.q("chain1.example.com", "A", "+short", tcp=tcp)),
                                 ["192.0.2.10", "chain2.example.com.", "www.example.com."])
                self.assertEqual(answers(self.q("foo.wild.example.com", "A", "+short", tcp=tcp)), ["192.0.2.40"])
                self.assertIn('"v=spf1 -all"', self.q("example.com", "TXT", "+short", tcp=tcp))

    def test_client_id_and_question_case_are_preserved(self):
        for n in range(3):
            q = build_query("WwW.ExAmPlE.CoM", 1, qid=4242 + n, edns_size=1232)
            resp = udp_exchange(self.udp, q)
            self.assertEqual(header(resp)[0], 4242 + n)
            self.assertIn(b"WwW\x07ExAmPlE\x03CoM", resp)

    def test_nxdomain_and_nodata_carry_the_soa(self):
        out = self.q("does-not-exist.example.com", "A")
        self.assertIn("NXDOMAIN", out)
        self.assertRegex(out, r"example\.com\.\s+300\s+IN\s+SOA")
        out = self.q("nodata.example.com", "A")
        self.assertIn("NOERROR", out)
        self.assertIn("ANSWER: 0", out)
        self.assertRegex(out, r"example\.com\.\s+\d+\s+IN\s+SOA")

    def test_large_answer_is_truncated_on_udp_and_complete_over_tcp(self):
        out = self.q("big.example.com", "TXT", "+bufsize=1232", "+ignore")
        self.assertIn(" tc", out.split("Flags:")[1].split("\n")[0] + " ")
        full = self.q("big.example.com", "TXT", tcp=True)
        self.assertIn("ANSWER: 40", full)
        # dig falls back to TCP by itself and gets everything
        d = dig(self.udp[0], self.udp[1], "big.example.com", "TXT", "+bufsize=1232")
        self.assertIn("ANSWER: 40", d)

    def test_without_edns_the_limit_is_512(self):
        resp = udp_exchange(self.udp, build_query("big.example.com", 16))
        self.assertLessEqual(len(resp), 512)
        self.assertTrue(header(resp)[1] & 0x0200, "TC must be set")

    def test_client_payload_size_is_honoured(self):
        resp = udp_exchange(self.udp, build_query("big.example.com", 16, edns_size=4096))
        self.assertFalse(header(resp)[1] & 0x0200)
        self.assertGreater(len(resp), 1232)

    def test_edns_version_above_zero_gets_badvers(self):
        resp = udp_exchange(self.udp, build_query("www.example.com", 1, edns_size=1232, edns_version=1))
        # BADVERS = 16: low 4 bits 0 in the header, upper bits in the OPT TTL
        self.assertEqual(header(resp)[6], 0)
        self.assertEqual(header(resp)[5], 1)
        out = self.q("www.example.com", "+edns=1")
        self.assertIn("BADVERS", out)

    def test_ttl_counts_down_on_cached_answers(self):
        first = self.q("mail.example.com", "A", "+noall", "+answer")
        ttl1 = int(first.split()[1])
        time.sleep(1.2)
        second = self.q("mail.example.com", "A", "+noall", "+answer")
        ttl2 = int(second.split()[1])
        self.assertLess(ttl2, ttl1)
        self.r.wait_record(lambda r: r["QueryName"] == "mail.example.com" and r["IsResponseCached"])

    def test_pipelined_tcp_queries_on_one_connection(self):
        s = socket.create_connection(self.tcp, timeout=5)
        names = [f"www.example.com", "mail.example.com", "alias.example.com", "example.com",
                 "nope.example.com", "chain1.example.com", "ipv6only.example.com", "mx-only.example.com"]
        ids = list(range(100, 100 + len(names)))
        payload = b""
        for i, n in zip(ids, names):
            m = build_query(n, 1, qid=i, edns_size=1232)
            payload += struct.pack("!H", len(m)) + m
        # Deliver in awkward pieces: framing must survive partial reads.
        for k in range(0, len(payload), 7):
            s.sendall(payload[k:k + 7])
        got = tcp_frames(s, len(names))
        s.close()
        self.assertEqual(sorted(header(m)[0] for m in got), ids)

    def test_many_pipelined_tcp_queries_then_eof_each_answered_once(self):
        """A burst beyond the in-flight cap (256) in one write, then the client's FIN: the
        answers of each read leave in one write, every query is answered exactly once, and the
        server closes only after the last answer (RFC 7766 §6.2.4)."""
        s = socket.create_connection(self.tcp, timeout=5)
        names = ["www.example.com", "mail.example.com", "example.com", "nope.example.com"]
        payload = b""
        for i in range(1, 601):
            m = build_query(names[i % len(names)], 1 if i % 2 else 28, qid=i, edns_size=1232)
            payload += struct.pack("!H", len(m)) + m
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = tcp_frames(s, 600, timeout=10)
        self.assertEqual(sorted(header(m)[0] for m in got), list(range(1, 601)))
        self.assertEqual(s.recv(100), b"", "the server closes once everything is answered")
        s.close()

    def test_garbage_does_not_affect_other_clients(self):
        rnd = random.Random(7)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(2000):
            s.sendto(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 80))), self.udp)
        s.close()
        # A header but a broken question: FORMERR with our ID. The burst may still fill the
        # socket buffer (the kernel drops, not us), so allow a few tries as any UDP client does.
        bad = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\x03www"
        resp = None
        for _ in range(5):
            try:
                resp = udp_exchange(self.udp, bad, timeout=1.0)
                break
            except socket.timeout:
                continue
        self.assertIsNotNone(resp, "the server stopped answering after the burst")
        self.assertEqual(header(resp)[0], 0xBEEF)
        self.assertEqual(header(resp)[6], 1)
        # QR set: a response, dropped silently (answering it makes packet loops between two
        # resolvers); QDCOUNT 2 with one question: FORMERR; opcode 2: NOTIMP without RA.
        with self.assertRaises(socket.timeout):
            udp_exchange(self.udp, build_query("www.example.com", flags=0x8100), timeout=0.5)
        two = bytearray(build_query("www.example.com"))
        two[5] = 2
        self.assertEqual(header(udp_exchange(self.udp, bytes(two)))[6], 1)
        notimp = header(udp_exchange(self.udp, build_query("www.example.com", flags=0x1100)))
        self.assertEqual(notimp[6], 4)
        self.assertFalse(notimp[1] & 0x0080, "NOTIMP must not claim recursion (RA)")
        # TCP: a zero length prefix closes that connection only
        t = socket.create_connection(self.tcp, timeout=3)
        t.sendall(b"\x00\x00garbage")
        t.settimeout(3)
        self.assertEqual(t.recv(10), b"")
        t.close()
        self.assertEqual(answers(self.q("www.example.com", "+short")), ["192.0.2.10"])
        self.assertEqual(answers(self.q("www.example.com", "+short", tcp=True)), ["192.0.2.10"])

    def test_log_lines_are_json_with_gateway_fields(self):
        self.q("www.example.com", "AAAA")
        need = ["Datetime", "SrcIP", "SrcPort", "DstIP", "DstPort", "Protocol", "QueryName", "QueryType",
                "QueryTypeName", "QuerySize", "RCode", "ResolvedIPs", "IsResponseCached", "ResponseTimeMs",
                "UpstreamRecordTTLs", "EDEErrors"]
        rec = self.r.wait_record(lambda r: r["QueryName"] == "www.example.com" and r["QueryTypeName"] == "AAAA")
        for k in need:
            self.assertIn(k, rec)
        self.assertEqual(rec["ResolvedIPs"], ["2001:db8::10"])
        self.assertEqual(rec["Protocol"], "udp")
        self.assertEqual(rec["DstPort"], self.udp[1])


class Do53Upstreams(unittest.TestCase):
    def test_failover_past_a_dead_upstream(self):
        dead = dead_udp_port()
        with Resolver(upstream=(f"udp://127.0.0.1:{dead}", "fixture:" + ZONES)) as r:
            h, p = r.addr("udp")
            t0 = time.time()
            self.assertEqual(answers(kdig(h, p, "www.example.com", "+short")), ["192.0.2.10"])
            # the dead one is now backed off: further queries do not wait on it
            for _ in range(5):
                self.assertEqual(answers(kdig(h, p, "mail.example.com", "+short")), ["192.0.2.25"])
            self.assertLess(time.time() - t0, 3)

    def test_servfail_with_ede_within_the_timeout_when_every_upstream_is_silent(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))  # bound, never answers: a timeout, not a refusal
        port = silent.getsockname()[1]
        cfg = "[resolver]\ntimeout_ms = 400\ntries = 1\n"
        try:
            with Resolver(upstream=(f"udp://127.0.0.1:{port}",), config=cfg) as r:
                h, p = r.addr("udp")
                t0 = time.time()
                out = kdig(h, p, "www.example.com", "+edns", "+time=5")
                elapsed = time.time() - t0
                self.assertIn("SERVFAIL", out)
                self.assertIn("EDE: 22", out)
                self.assertIn(f"127.0.0.1:{port}", out)
                self.assertLess(elapsed, 2.0)
                rec = r.wait_record(lambda r: r["QueryName"] == "www.example.com")
                self.assertEqual(rec["RCode"], 2)
                self.assertEqual(rec["EDEErrors"], [22])
        finally:
            silent.close()

    def test_queries_beyond_the_waiting_cap_get_servfail_naming_the_cap_at_once(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))  # a dead upstream that never answers
        port = silent.getsockname()[1]
        cfg = "[resolver]\ntimeout_ms = 1500\ntries = 1\nmax_waiting_queries = 5\n"
        try:
            with Resolver(upstream=(f"udp://127.0.0.1:{port}",), config=cfg) as r:
                addr = r.addr("udp")
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(5)
                t0 = time.time()
                for i in range(20):
                    s.sendto(build_query(f"n{i}.example.com", qid=i, edns_size=1232), addr)
                fast, slow = [], []
                while len(fast) + len(slow) < 20:
                    data, _ = s.recvfrom(4096)
                    (fast if time.time() - t0 < 1.0 else slow).append(data)
                s.close()
                # 5 wait for the dead upstream (EDE 22 after the timeout); 15 are refused at
                # once with SERVFAIL and EDE 0 whose text names the limit.
                self.assertEqual(len(fast), 15, "the queries over the cap must not wait")
                self.assertEqual(len(slow), 5)
                for d in fast:
                    self.assertEqual(header(d)[6], 2)
                    self.assertIn(b"max_waiting_queries", d)
                for d in slow:
                    self.assertEqual(header(d)[6], 2)
                    self.assertNotIn(b"max_waiting_queries", d)
                recs = r.log_records(wait_for=20)
                self.assertEqual(sum(1 for x in recs if x["EDEErrors"] == [0]), 15)
        finally:
            silent.close()

    def test_refused_upstream_gives_network_error_ede(self):
        dead = dead_udp_port()
        with Resolver(upstream=(f"udp://127.0.0.1:{dead}",)) as r:
            h, p = r.addr("udp")
            out = kdig(h, p, "www.example.com", "+edns")
            self.assertIn("SERVFAIL", out)
            self.assertIn("EDE: 23", out)


class Do53Process(unittest.TestCase):
    def test_bad_flag_exits_2(self):
        p = subprocess.run([RESOLVER, "--no-such-flag"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr)

    def test_port_in_use_exits_2_naming_the_listener(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        try:
            p = subprocess.run([RESOLVER, "--listen", f"udp://127.0.0.1:{port}", "--upstream", "fixture:" + ZONES],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2)
            self.assertIn(f"udp://127.0.0.1:{port}", p.stderr)
        finally:
            s.close()

    def test_bad_config_key_exits_2_naming_the_key(self):
        with tempfile.TemporaryDirectory(prefix="dnslab-badcfg-") as d:
            bad = os.path.join(d, "bad.toml")
            with open(bad, "w") as f:
                f.write("[resolver]\ntimout_ms = 5\n")
            p = subprocess.run([RESOLVER, "--config", bad], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("resolver.timout_ms", p.stderr)

    def test_sigterm_stops_cleanly_and_flushes_the_log(self):
        r = Resolver()
        h, p = r.addr("udp")
        kdig(h, p, "www.example.com")
        rc = r.stop()
        self.assertEqual(rc, 0)
        with open(r.log_path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        self.assertTrue(any(l.get("QueryName") == "www.example.com" for l in lines))
        r.__exit__(None, None, None)


if __name__ == "__main__":
    unittest.main(verbosity=2)
