# SPDX-License-Identifier: MIT
"""Slow clients against the stream listeners (issue 12, "slow TLS clients lock everyone out").

`Lockout`: 1,030 slow clients per listener (plain TCP, DoT, DoH: unfinished ClientHellos,
trickled DoT/TCP messages, HTTP/1.1 request lines, HTTP/2 frames and streams) against the
default cap of 1,024 connections, with deadlines long enough that only the cap policy can
help; kdig over TCP, DoT and DoH and curl over HTTP/2 and HTTP/1.1 must still be answered
within 2 s. `Deadlines`: short deadlines, one slow client of each kind trickling a byte every
0.3 s (each byte would have reset the old idle timer): each is closed by its deadline, while a
client that keeps asking stays connected. Loopback only; bounded in time."""
import base64
import time
import unittest

import harness
import slow_clients
from harness import Resolver

PER_LISTENER = 1030


def b64_query(name="www.example.com"):
    return base64.urlsafe_b64encode(slow_clients.dns_query(name, qid=0)).rstrip(b"=").decode()


def timed(cmd, timeout=10):
    start = time.monotonic()
    p = harness.run(cmd, timeout=timeout, check=False)
    return p, time.monotonic() - start


class Lockout(unittest.TestCase):
    CONFIG = """
[tcp]
# Deadlines far beyond the test: only the cap policy can let a new client in.
handshake_timeout_ms = 60000
request_timeout_ms = 60000
idle_timeout_ms = 60000
"""

    @classmethod
    def setUpClass(cls):
        need = 4 * PER_LISTENER + 512  # ours, plus the resolver's (it inherits the limit)
        if slow_clients.raise_fd_limit(need) < need:
            raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit below {need}")
        cls.res = Resolver(listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                   "https://127.0.0.1:0/dns-query"), config=cls.CONFIG)
        cls.tcp = cls.res.addr("tcp")[1]
        cls.dot = cls.res.addr("tls")[1]
        cls.doh = cls.res.addr("https")[1]
        cls.ca = cls.res.ca_file()
        cls.crowd = slow_clients.Crowd()
        n = PER_LISTENER
        cls.crowd.open("tcp", cls.tcp, n)
        cls.crowd.open("hello", cls.dot, n - 30).open("dot", cls.dot, 30)
        cls.crowd.open("hello", cls.doh, n - 30).open("h1", cls.doh, 10)
        cls.crowd.open("h2frame", cls.doh, 10).open("h2stream", cls.doh, 10)
        cls.crowd.run(seconds=0.5, interval=0.25)

    @classmethod
    def tearDownClass(cls):
        cls.crowd.close()
        cls.res.__exit__(None, None, None)

    def setUp(self):
        self.crowd.trickle()
        self.crowd.poll()

    def tearDown(self):
        self.assertIsNone(self.res.proc.poll(), "the resolver must survive the crowd")

    def test_the_crowd_fills_every_listener(self):
        # 1,030 per listener against a cap of 1,024: the cap is reached everywhere, so every
        # well-behaved client below needs a slot that a slow client holds.
        self.assertGreaterEqual(self.crowd.open_count(), 3 * 1024 - 20)

    def kdig(self, *args):
        return timed(["kdig", "@127.0.0.1", "+retry=0", "+time=2", "+short", *args,
                      "www.example.com", "A"])

    def test_kdig_over_tcp_dot_and_doh_is_answered_within_2s(self):
        tls = [f"+tls-ca={self.ca}", "+tls-hostname=localhost"]
        for name, args in (("tcp", ["-p", str(self.tcp), "+tcp"]),
                           ("dot", ["-p", str(self.dot), "+tls", *tls]),
                           ("doh", ["-p", str(self.doh), "+https", *tls])):
            with self.subTest(transport=name):
                p, took = self.kdig(*args)
                self.assertEqual(p.stdout.strip(), "192.0.2.10", p.stdout + p.stderr)
                self.assertLess(took, 2.0)

    def test_curl_over_http2_and_http11_is_answered_within_2s(self):
        url = f"https://localhost:{self.doh}/dns-query?dns={b64_query()}"
        for http in ("--http2", "--http1.1"):
            with self.subTest(http=http):
                p, took = timed(["curl", "-sS", http, "--max-time", "2", "--cacert", self.ca,
                                 "--resolve", f"localhost:{self.doh}:127.0.0.1",
                                 "-o", "/dev/null", "-w", "%{http_code}", url])
                self.assertEqual(p.stdout, "200", p.stderr)
                self.assertLess(took, 2.0)


class Deadlines(unittest.TestCase):
    HANDSHAKE, REQUEST, IDLE = 1.0, 1.0, 2.0
    CONFIG = f"""
[tcp]
handshake_timeout_ms = {int(HANDSHAKE * 1000)}
request_timeout_ms = {int(REQUEST * 1000)}
idle_timeout_ms = {int(IDLE * 1000)}
"""
    SLACK = 1.5  # a busy 2-core machine may run the timer late

    @classmethod
    def setUpClass(cls):
        cls.res = Resolver(listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                   "https://127.0.0.1:0/dns-query"), config=cls.CONFIG)
        cls.ports = {"tcp": cls.res.addr("tcp")[1], "dot": cls.res.addr("tls")[1],
                     "doh": cls.res.addr("https")[1]}
        cls.ca = cls.res.ca_file()

    @classmethod
    def tearDownClass(cls):
        cls.res.__exit__(None, None, None)

    def tearDown(self):
        self.assertIsNone(self.res.proc.poll())

    def watch(self, clients, seconds):
        crowd = slow_clients.Crowd()
        crowd.clients = clients
        crowd.run(seconds=seconds, interval=0.3)
        return crowd

    def assert_closed_after(self, client, deadline):
        self.assertIsNotNone(client.closed_at, f"{client.kind}: still open after the deadline")
        lived = client.closed_at - client.opened_at
        self.assertGreaterEqual(lived, deadline - 0.2, client.kind)
        self.assertLess(lived, deadline + self.SLACK, client.kind)

    def test_trickled_messages_are_closed_by_the_handshake_and_request_deadlines(self):
        clients = [slow_clients.open_client("hello", self.ports["dot"]),
                   slow_clients.open_client("hello", self.ports["doh"]),
                   slow_clients.open_client("tcp", self.ports["tcp"]),
                   slow_clients.open_client("dot", self.ports["dot"]),
                   slow_clients.open_client("h1", self.ports["doh"]),
                   slow_clients.open_client("h2frame", self.ports["doh"]),
                   slow_clients.open_client("h2stream", self.ports["doh"])]
        crowd = self.watch(clients, seconds=self.REQUEST + self.SLACK + 0.5)
        try:
            for c in clients:
                with self.subTest(kind=c.kind):
                    self.assert_closed_after(c, self.HANDSHAKE if c.kind == "hello" else self.REQUEST)
                    if c.kind != "h2stream":  # that one never ends its request by design
                        self.assertTrue(c.script, "closed only after its message was complete")
            h1 = next(c for c in clients if c.kind == "h1")
            self.assertIn(b"HTTP/1.1 408", h1.received)
        finally:
            crowd.close()

    def test_frames_that_make_no_request_are_closed_by_the_idle_deadline(self):
        # PINGs every 0.3 s: each frame completes, none is a request.
        c = slow_clients.open_client("h2ping", self.ports["doh"])
        crowd = self.watch([c], seconds=self.IDLE + self.SLACK + 0.5)
        try:
            self.assert_closed_after(c, self.IDLE)
        finally:
            crowd.close()

    def test_a_client_that_keeps_asking_stays_and_an_idle_one_goes(self):
        import socket
        import ssl
        import struct
        ctx = ssl.create_default_context(cafile=self.ca)
        busy = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.ports["dot"]), timeout=5),
                               server_hostname="localhost")
        idle = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.ports["dot"]), timeout=5),
                               server_hostname="localhost")
        q = slow_clients.dns_query()
        frame = struct.pack(">H", len(q)) + q
        try:
            idle.sendall(frame)
            self.assertEqual(harness.tcp_frames(idle, 1)[0][:2], q[:2])
            asked_at = time.monotonic()
            # Longer than the idle deadline; one query every 0.5 s keeps `busy` open.
            while time.monotonic() - asked_at < self.IDLE + self.SLACK:
                busy.sendall(frame)
                self.assertEqual(len(harness.tcp_frames(busy, 1)), 1, "the busy client lost its connection")
                time.sleep(0.5)
            idle.settimeout(1)
            self.assertEqual(idle.recv(100), b"", "the idle client should have been closed")
        finally:
            busy.close()
            idle.close()


if __name__ == "__main__":
    harness.main()
