# SPDX-License-Identifier: MIT
"""Issue 12, listener side: attacks on the UDP listener, reproduced on loopback.

- Reflection loops (defect 1). A datagram whose source is the listener's own address and
  port is never answered: answering it answers ourselves, and a spoofed packet became a loop
  of 200,897 packets in 5.7 s. Between two lab instances, one spoofed response (QR=1) must
  cost fewer than 3 packets; that needs the pipeline to drop QR=1 silently (the lead's
  decode change), so that test is an expected failure until it lands.
  Spoofing a source address takes a raw socket: as root (CAP_NET_RAW) the test sends it
  directly; otherwise it re-runs itself in a user and network namespace (`unshare -rn`,
  loopback only, nothing leaves the namespace); without either it is skipped, saying why.
- Garbage bursts on a busy machine (defect 4): after 2,000 random datagrams (0-1,500 bytes)
  and three malformed TCP connections, a good UDP query is answered in 6 of 6 runs while CPU
  hogs (bounded, stopped by PID) compete for every core.
"""
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
import unittest

import harness
from harness import Resolver, build_query, header

IN_NETNS = os.environ.get("DNSLAB_IN_NETNS") == "1"


def raw_socket_allowed():
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW).close()
        return True
    except PermissionError:
        return False


def spoof_udp4(src, dst, payload):
    """Sends one IPv4/UDP datagram with the source address and port `src` (raw socket; the
    kernel fills the IP checksum and length). UDP checksum 0: none, allowed for IPv4
    (RFC 768)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        s.sendto(ip + udp, (dst[0], 0))
    finally:
        s.close()


def needs_spoofing(test):
    """Runs `test` where a raw socket is allowed: here as root, else in `unshare -rn`."""
    def wrapper(self):
        if raw_socket_allowed():
            return test(self)
        if IN_NETNS:
            self.fail("no raw socket even inside the namespace")
        if shutil.which("unshare") is None or shutil.which("ip") is None:
            self.skipTest("spoofing a source address needs CAP_NET_RAW (root) or "
                          "unprivileged user namespaces (unshare -rn)")
        probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("spoofing a source address needs CAP_NET_RAW (root) or "
                          "unprivileged user namespaces (unshare -rn): " + probe.stderr.decode())
        name = f"{type(self).__name__}.{test.__name__}"
        p = subprocess.run(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                            sys.executable, os.path.abspath(__file__), name],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, DNSLAB_IN_NETNS="1"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        if "expected failures=1" in p.stderr:  # the same verdict out here
            self.fail("failed inside the namespace (expected): " + p.stderr[-2000:])
    wrapper.__name__ = test.__name__
    wrapper.__doc__ = test.__doc__
    return wrapper


def count_records(r):
    with open(r.log_path) as f:
        return sum(1 for line in f if line.strip())


def stop_summary(r):
    """The listener's stop line: received and dropped datagrams by reason."""
    r.stop()
    with open(r.stderr_path) as f:
        err = f.read()
    for line in err.splitlines():
        if line.startswith("dnslab-resolver: udp://") and " received " in line:
            return line
    raise AssertionError("no UDP stop summary: " + err)


class ReflectionLoops(unittest.TestCase):
    @needs_spoofing
    def test_own_address_and_port_is_never_answered(self):
        """A query 'from' the listener's own address and port: answering it would send the
        answer to ourselves, then a FORMERR for that answer, and so on."""
        with Resolver() as r:
            addr = r.addr("udp")
            spoof_udp4(addr, addr, build_query("www.example.com"))
            time.sleep(1.0)
            self.assertIsNone(r.proc.poll())
            # Still serving, and the spoofed packet never reached the pipeline (no record).
            reply = harness.udp_exchange(addr, build_query("www.example.com", qid=7))
            self.assertEqual(header(reply)[0], 7)
            time.sleep(0.3)
            self.assertEqual(count_records(r), 1)
            self.assertIn("own address 1,", stop_summary(r))

    @unittest.expectedFailure  # Waits on the pipeline dropping QR=1 silently (lead, issue 12
    # defect 1): until then two instances answer each other's FORMERRs without end. Remove
    # this marker when that change lands; an unexpected success fails the run to say so.
    @needs_spoofing
    def test_two_instances_and_one_spoofed_response(self):
        """One response (QR=1) spoofed from instance A to instance B: fewer than 3 packets
        between them (the issue saw 283,574 in 5.7 s)."""
        with Resolver() as a, Resolver() as b:
            response = bytearray(build_query("www.example.com"))
            response[2] |= 0x80  # QR
            spoof_udp4(a.addr("udp"), b.addr("udp"), bytes(response))
            time.sleep(1.5)
            exchanged = count_records(a) + count_records(b)
            self.assertLess(exchanged, 3, f"{exchanged} packets between two instances")


class GarbageBurst(unittest.TestCase):
    RUNS = 6

    def hogs(self):
        """One busy process per core (at most 4), each ending by itself within 60 s and
        stopped by PID when the test ends."""
        n = min(os.cpu_count() or 2, 4)
        code = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"
        procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]

        def stop():
            for p in procs:
                p.kill()
                p.wait()
        self.addCleanup(stop)

    @staticmethod
    def burst(rng, udp, tcp):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for _ in range(2000):
                try:
                    s.sendto(rng.randbytes(rng.randint(0, 1500)), udp)
                except OSError:
                    pass  # a full send buffer: the datagram is lost on our side
        finally:
            s.close()
        # Three malformed TCP connections: a zero length, a length the bytes never fill,
        # and noise without framing.
        for payload in (b"\x00\x00", b"\x00\x40" + rng.randbytes(5), rng.randbytes(300)):
            c = socket.create_connection(tcp, timeout=3)
            try:
                c.sendall(payload)
            finally:
                c.close()

    def test_a_good_query_after_a_burst_on_a_busy_machine(self):
        with Resolver() as r:
            udp, tcp = r.addr("udp"), r.addr("tcp")
            self.hogs()
            answered = []
            for run in range(self.RUNS):
                rng = random.Random(1200 + run)
                self.burst(rng, udp, tcp)
                qid = 4000 + run
                try:  # one try: a lost query is what the issue counted
                    reply = harness.udp_exchange(udp, build_query("www.example.com", qid=qid),
                                                 timeout=3.0)
                    answered.append(header(reply)[0] == qid and header(reply)[6] == 0)
                except socket.timeout:
                    answered.append(False)
                time.sleep(0.3)
            summary = stop_summary(r)
        self.assertEqual(sum(answered), self.RUNS, f"answered {answered}; {summary}")
        # The burst's short datagrams never reached the pipeline.
        short = int(summary.split("short header ")[1].split(",")[0])
        self.assertGreater(short, 0, summary)

    def test_receive_buffer_is_sized_and_reported(self):
        with Resolver() as r:
            err = r.read_stderr()
        line = [l for l in err.splitlines() if "receive buffer" in l]
        self.assertEqual(len(line), 1, err)
        self.assertIn("asked 4194304", line[0])
        with Resolver(config="[udp]\nreceive_buffer_bytes = 0\n") as r:
            self.assertIn("receive buffer: the kernel default", r.read_stderr())


if __name__ == "__main__":
    harness.main()
