# SPDX-License-Identifier: MIT
"""`--workers 2`: two event loops, each with its own SO_REUSEPORT sockets on every listener.
Queries over UDP, TCP, DoT (Python ssl and kdig) and DoH (curl) are answered; both workers
serve (the per-worker lines printed at stop, the kernel spreading sockets and connections
over them); a SIGHUP reload reaches every worker (a rule change seen on many fresh sockets
and connections); SIGTERM under load loses no query-log line (every line whole, as many
lines as the workers counted queries). Loopback only: every listener binds 127.0.0.1:0."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import tempfile
import threading
import time
import unittest

import subprocess
import urllib.request

import harness

PROMTOOL = shutil.which("promtool")

LISTEN = ("dns://127.0.0.1:0", "tls://127.0.0.1:0", "https://127.0.0.1:0/dns-query")
BLOCK_WWW = [{"id": "w1", "name": "Block www", "precedence": 1, "enabled": True,
              "action": "block", "filters": ["dns"],
              "traffic": "dns.fqdn == \"www.example.com\"", "identity": ""}]
BLOCK_PORTAL = [{"id": "w2", "name": "Block portal", "precedence": 1, "enabled": True,
                 "action": "block", "filters": ["dns"],
                 "traffic": "dns.fqdn == \"portal.example.com\"", "identity": ""}]


def a_records(msg):
    """The A RDATA (dotted quads) in the answer section of a DNS response."""
    _qid, _flags, qd, an, _ns, _ar, _rcode = harness.header(msg)
    pos = 12
    for _ in range(qd):
        pos = harness.skip_name(msg, pos) + 4
    out = []
    for _ in range(an):
        pos = harness.skip_name(msg, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        rdata = msg[pos + 10:pos + 10 + rdlen]
        pos += 10 + rdlen
        if rtype == 1 and rdlen == 4:
            out.append(".".join(str(b) for b in rdata))
    return out


def framed(sock, query):
    """One query over a stream socket (two-byte length, RFC 7766 §8) and its answer."""
    sock.sendall(struct.pack("!H", len(query)) + query)
    return harness.tcp_frames(sock, 1)[0]


def worker_series(text):
    """{family: {worker: value}} of the per-worker families of a /metrics page."""
    out = {}
    for m in re.finditer(r'^(dnslab_worker_\w+)\{worker="(\d+)"\} (\S+)$', text, re.M):
        out.setdefault(m[1], {})[int(m[2])] = float(m[3])
    return out


def worker_counts(stderr):
    """{worker: (answered, received)} from the lines each worker prints at stop."""
    return {int(m[0]): (int(m[1]), int(m[2])) for m in
            re.findall(r"worker (\d+) answered (\d+) of (\d+) queries", stderr)}


class Workers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-workers-")
        self.rules = os.path.join(self.tmp, "rules.json")
        self.write_rules(BLOCK_WWW)
        self.r = harness.Resolver("--workers", "2", "--rules", self.rules, "--locations",
                                  os.path.join(harness.ROOT, "fixtures/policy/locations.json"),
                                  listen=LISTEN)
        self.ca = self.r.ca_file()
        self.udp = self.r.addr("udp")
        self.tcp = self.r.addr("tcp")
        self.dot = self.r.addr("tls")
        self.doh = self.r.addr("https")

    def tearDown(self):
        self.r.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_rules(self, rules):
        tmp = self.rules + ".new"
        with open(tmp, "w") as f:
            json.dump(rules, f)
        os.replace(tmp, self.rules)

    # ---- one query per fresh socket or connection, per transport
    def ask_udp(self, name):
        return a_records(harness.udp_exchange(self.udp, harness.build_query(name)))

    def ask_tcp(self, name):
        with socket.create_connection(self.tcp, timeout=5) as s:
            return a_records(framed(s, harness.build_query(name)))

    def ask_dot(self, name):
        ctx = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(self.dot, timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return a_records(framed(s, harness.build_query(name)))

    def ask_doh(self, name):
        q = base64.urlsafe_b64encode(harness.build_query(name, qid=0)).rstrip(b"=").decode()
        port = self.doh[1]
        with tempfile.NamedTemporaryFile(dir=self.tmp) as body:
            harness.run(["curl", "-sS", "--http2", "--cacert", self.ca, "--max-time", "10",
                         "--resolve", f"localhost:{port}:127.0.0.1", "-o", body.name,
                         f"https://localhost:{port}/dns-query?dns={q}"])
            with open(body.name, "rb") as f:
                return a_records(f.read())

    def stop_and_counts(self):
        rc = self.r.stop(timeout=15)
        with open(self.r.stderr_path) as f:
            stderr = f.read()
        self.assertEqual(rc, 0, stderr)
        counts = worker_counts(stderr)
        self.assertEqual(sorted(counts), [0, 1], stderr)
        return counts

    def test_every_transport_answered_and_both_workers_serve(self):
        for _ in range(40):
            self.assertEqual(self.ask_udp("portal.example.com"), ["192.0.2.106"])
            self.assertEqual(self.ask_udp("www.example.com"), ["0.0.0.0"])
        for _ in range(30):
            self.assertEqual(self.ask_tcp("portal.example.com"), ["192.0.2.106"])
        for _ in range(16):
            self.assertEqual(self.ask_dot("portal.example.com"), ["192.0.2.106"])
        for _ in range(6):
            self.assertEqual(self.ask_doh("portal.example.com"), ["192.0.2.106"])
        out = harness.kdig(*self.dot, "+tls-ca=" + self.ca, "+tls-hostname=localhost", "+short",
                           "www.example.com", "A")
        self.assertEqual(out.split(), ["0.0.0.0"])
        sent = 80 + 30 + 16 + 6 + 1
        counts = self.stop_and_counts()
        # The kernel hashes each fresh source port to one of the two sockets: with 80 UDP
        # sockets and 53 connections, a worker left idle means SO_REUSEPORT is not in force.
        for w, (answered, received) in counts.items():
            self.assertGreater(answered, 0, f"worker {w} answered nothing: {counts}")
            self.assertEqual(answered, received)
        self.assertEqual(sum(a for a, _ in counts.values()), sent, counts)
        recs = self.r.log_records(wait_for=sent)
        self.assertEqual(len(recs), sent)
        self.assertEqual({r["Protocol"] for r in recs} >= {"udp", "tcp", "tls", "https"}, True,
                         {r["Protocol"] for r in recs})

    def test_reload_reaches_every_worker(self):
        self.assertEqual(self.ask_udp("portal.example.com"), ["192.0.2.106"])
        self.write_rules(BLOCK_PORTAL)
        self.r.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            ev = [e for e in self.r.log_records(events=True) if e.get("LabEvent") == "policy-reload"]
            if ev:
                break
            time.sleep(0.05)
        self.assertTrue(ev and ev[0]["LabOk"], ev)
        # The snapshot is posted to worker 1 after worker 0 has it; wait until a burst of
        # fresh sockets (spread over both workers) all see it, then require it everywhere.
        deadline = time.time() + 5
        while time.time() < deadline and self.ask_udp("portal.example.com") != ["0.0.0.0"]:
            time.sleep(0.02)
        time.sleep(0.2)
        for _ in range(60):
            self.assertEqual(self.ask_udp("portal.example.com"), ["0.0.0.0"])
            self.assertEqual(self.ask_udp("www.example.com"), ["192.0.2.10"])
        for _ in range(30):
            self.assertEqual(self.ask_tcp("portal.example.com"), ["0.0.0.0"])
        for _ in range(12):
            self.assertEqual(self.ask_dot("portal.example.com"), ["0.0.0.0"])
        self.assertEqual(self.ask_doh("portal.example.com"), ["0.0.0.0"])
        counts = self.stop_and_counts()
        for w, (answered, _) in counts.items():
            self.assertGreater(answered, 0, f"worker {w} answered nothing: {counts}")
        gens = {r["LabPolicyGeneration"] for r in self.r.log_records()
                if r["QueryName"] == "portal.example.com" and r["ResolverDecision"] != "allowedOnNoPolicyMatch"}
        self.assertEqual(gens, {ev[0]["LabPolicyGeneration"]})

    def test_sigterm_under_load_loses_no_log_line(self):
        stop = threading.Event()
        # Once SIGTERM is sent our listening sockets close while the process drains, and on
        # a shared machine another program may bind the freed port: no new connection then,
        # and no datagram once the process has gone, so every answer counted is ours.
        terminating = threading.Event()
        answered = [0] * 4

        def udp_load(slot):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.5)
            i = 0
            while not stop.is_set() and self.r.proc.poll() is None:
                try:
                    q = harness.build_query(f"n{slot}-{i}.example.com")
                    s.sendto(q, self.udp)
                    data, peer = s.recvfrom(65535)
                    # Only the resolver's answer to this query: on a shared machine another
                    # program's datagram may reach this ephemeral port.
                    if peer == self.udp and data[:2] == q[:2]:
                        answered[slot] += 1
                except OSError:
                    if stop.is_set():
                        break
                i += 1
                if i % 25 == 0:  # a fresh source port now and then: both workers get load
                    s.close()
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.settimeout(0.5)
            s.close()

        def tcp_load(slot):
            while not stop.is_set() and not terminating.is_set():
                try:
                    with socket.create_connection(self.tcp, timeout=2) as s:
                        for i in range(20):
                            framed(s, harness.build_query(f"t{slot}-{i}.example.com"))
                            answered[slot] += 1
                except (OSError, IndexError):
                    if stop.is_set():
                        break

        threads = [threading.Thread(target=udp_load, args=(i,)) for i in range(3)]
        threads.append(threading.Thread(target=tcp_load, args=(3,)))
        for t in threads:
            t.start()
        time.sleep(1.5)
        terminating.set()
        self.r.signal(signal.SIGTERM)
        try:
            self.r.proc.wait(timeout=15)
        finally:
            stop.set()
            for t in threads:
                t.join()
        counts = self.stop_and_counts()
        received = sum(r for _, r in counts.values())
        for w, (a, _) in counts.items():
            self.assertGreater(a, 0, f"worker {w} answered nothing: {counts}")
        self.assertGreater(sum(answered), 100)
        self.assertLessEqual(sum(answered), received)
        with open(self.r.log_path) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[-1], "", "the log ends with a whole line")
        recs = [json.loads(l) for l in lines[:-1]]  # a line cut or interleaved fails here
        self.assertEqual(len(recs), received, counts)
        self.assertEqual(len({r["QueryID"] for r in recs}), len(recs))


def udp_sockets_on(port):
    """[(local, remote)] of this host's UDP sockets bound to `port` (/proc/net/udp and udp6,
    the kernel's spelling: hex address:port)."""
    out = []
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, remote = row.split()[1:3]
            if int(local.rsplit(":", 1)[1], 16) == port:
                out.append((local, remote))
    return out


class WorkersUdpSenders(unittest.TestCase):
    """Each worker's UDP listener answers from a second socket on its endpoint, connected to
    itself (resolver/io/send_socket.hpp): the kernel must still spread queries evenly over
    the workers, and every answer must come from the address and port asked."""

    def test_senders_connected_to_themselves_and_queries_spread_evenly(self):
        with harness.Resolver("--workers", "2", listen=("udp://127.0.0.1:0",)) as r:
            addr = r.addr("udp")
            sockets = udp_sockets_on(addr[1])
            listening = [s for s in sockets if int(s[1].rsplit(":", 1)[1], 16) == 0]
            senders = [s for s in sockets if s[0] == s[1]]
            self.assertEqual((len(listening), len(senders), len(sockets)), (2, 2, 4), sockets)
            n = 400
            for _ in range(n):  # a fresh source port each (udp_exchange checks the source)
                reply = harness.udp_exchange(addr, harness.build_query("www.example.com"))
                self.assertEqual(a_records(reply), ["192.0.2.10"])
            rc = r.stop(timeout=15)
            with open(r.stderr_path) as f:
                stderr = f.read()
            self.assertEqual(rc, 0, stderr)
            self.assertNotIn("no second socket", stderr)
            counts = worker_counts(stderr)
            self.assertEqual(sum(a for a, _ in counts.values()), n, counts)
            # Binomial(400, 1/2): 30 % is eight standard deviations out; a sender sealed too
            # early leaves a worker none (Linux 6.18) or a quarter.
            for w, (answered, _) in counts.items():
                self.assertGreater(answered, 0.3 * n, f"worker {w}: {counts}")


class WorkersMetrics(unittest.TestCase):
    """--metrics and --dnstap with --workers 2: one /metrics (on the main loop) sums both
    workers' counters, each read on its own worker's thread; one dnstap file holds both
    workers' frames (one input queue per worker, one writer)."""

    def test_metrics_and_dnstap_cover_both_workers(self):
        tmp = tempfile.mkdtemp(prefix="dnslab-workers-tap-")
        self.addCleanup(shutil.rmtree, tmp, True)
        tap = os.path.join(tmp, "tap.fstrm")
        with harness.Resolver("--workers", "2", "--metrics", "http://127.0.0.1:0/metrics",
                              "--dnstap", "file:" + tap) as r:
            url = next(u[len("metrics "):] for u in r.urls if u.startswith("metrics "))
            n = 90
            for i in range(n):
                reply = harness.udp_exchange(r.addr("udp"), harness.build_query("www.example.com"))
                self.assertEqual(a_records(reply), ["192.0.2.10"])
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            received = [l for l in text.splitlines() if l.startswith("dnslab_received_total")]
            self.assertEqual(received, [f"dnslab_received_total {n}"], received)
            udp_noerror = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                              if l.startswith("dnslab_queries_total{") and 'protocol="udp"' in l)
            self.assertEqual(udp_noerror, n)
            per_worker = worker_series(text)
            rc = r.stop(timeout=15)
            with open(r.stderr_path) as f:
                stderr = f.read()
            self.assertEqual(rc, 0, stderr)
            counts = worker_counts(stderr)
            self.assertEqual(sorted(counts), [0, 1], stderr)
            self.assertTrue(all(a > 0 for a, _ in counts.values()), counts)
            self.assertEqual(sum(a for a, _ in counts.values()), n)
            # /metrics has each worker's share, the same the worker prints at stop.
            for w in (0, 1):
                self.assertEqual(per_worker["dnslab_worker_queries_total"].get(w), counts[w][0])
                self.assertEqual(per_worker["dnslab_worker_received_total"].get(w), counts[w][1])
                self.assertEqual(per_worker["dnslab_worker_dropped_total"].get(w), 0)
                self.assertEqual(per_worker["dnslab_worker_queries_in_flight"].get(w), 0)
            if PROMTOOL:
                p = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                                   capture_output=True, text=True, timeout=20)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        if shutil.which("dnstap-ldns") is None:
            self.skipTest("dnstap-ldns not installed (the metrics part ran)")
        frames = subprocess.run(["dnstap-ldns", "-r", tap], capture_output=True, text=True,
                                check=True, timeout=20).stdout.split("\n")
        kinds = [l.split()[2] for l in frames if len(l.split()) > 2]
        self.assertEqual(kinds.count("CQ"), n)
        self.assertEqual(kinds.count("CR"), n)


class WorkersShutdown(unittest.TestCase):
    """SIGTERM with queries waiting on both workers: the stop message counts every worker's
    queries, and the process stops (flushing the log) only once both have finished them."""

    def test_stop_message_sums_every_worker_and_the_flush_waits_for_all(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))  # an upstream that never answers: queries stay in flight
        self.addCleanup(silent.close)
        cfg = "[resolver]\ntimeout_ms = 2500\ntries = 1\nshutdown_grace_ms = 10000\n"
        n = 24
        clients = []
        with harness.Resolver("--workers", "2", "--metrics", "http://127.0.0.1:0/metrics",
                              upstream=(f"udp://127.0.0.1:{silent.getsockname()[1]}",),
                              config=cfg) as r:
            url = next(u[len("metrics "):] for u in r.urls if u.startswith("metrics "))
            for i in range(n):  # a fresh source port each: the kernel spreads them
                c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.addCleanup(c.close)
                c.sendto(harness.build_query(f"wait{i}.example.com"), r.addr("udp"))
                clients.append(c)
            deadline = time.time() + 5
            while True:
                per_worker = worker_series(urllib.request.urlopen(url, timeout=5).read().decode())
                waiting = per_worker.get("dnslab_worker_queries_in_flight", {})
                if sum(waiting.values()) == n or time.time() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(sum(waiting.values()), n, waiting)
            self.assertTrue(all(waiting.get(w, 0) > 0 for w in (0, 1)), waiting)
            t0 = time.time()
            r.signal(signal.SIGTERM)
            rc = r.proc.wait(timeout=20)
            elapsed = time.time() - t0
            with open(r.stderr_path) as f:
                stderr = f.read()
            self.assertEqual(rc, 0, stderr)
            self.assertIn(f"stopping (in flight: {n}, 2 workers)", stderr)
            # Both workers waited for their upstream timeouts (2.5 s) before the process
            # ended, and every query was logged.
            self.assertGreater(elapsed, 1.5, stderr)
            with open(r.log_path) as f:
                recs = [json.loads(l) for l in f.read().splitlines()]
            self.assertEqual(sorted(x["QueryName"] for x in recs),
                             sorted(f"wait{i}.example.com" for i in range(n)))


class WorkersAuto(unittest.TestCase):
    """`--workers auto` under a narrowed affinity mask (as `taskset -c N` sets it): one loop
    per CPU the process may use, not per online CPU."""

    @unittest.skipUnless(len(os.sched_getaffinity(0)) > 1, "needs two usable CPUs to narrow")
    def test_auto_follows_the_affinity_mask(self):
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(saved)})  # the resolver inherits it
        try:
            r = harness.Resolver("--workers", "auto", "--metrics", "http://127.0.0.1:0/metrics")
        finally:
            os.sched_setaffinity(0, saved)
        with r:
            url = next(u[len("metrics "):] for u in r.urls if u.startswith("metrics "))
            page = urllib.request.urlopen(url, timeout=5).read().decode()
            self.assertEqual(set(worker_series(page)["dnslab_worker_received_total"]), {0},
                             page)


if __name__ == "__main__":
    harness.main()
