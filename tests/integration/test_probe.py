# SPDX-License-Identifier: MIT
"""dnslab-probe against the lab resolver and real peers on loopback (Unbound, dnsdist)."""
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import harness

PROBE = harness.PROBE
EXPECT = os.path.join(harness.ROOT, "fixtures/expectations")


def probe(*args, timeout=60):
    return subprocess.run([PROBE, *args], capture_output=True, text=True, timeout=timeout)


def wait_dns(port, timeout=10, proc=None):
    """Ready signal for peers without a ready file: poll until the port answers a DNS query."""
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\x00\x00\x01\x00\x01"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            break  # it exited: a bind failure, say
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", port))
            s.recvfrom(4096)
            return
        except OSError:
            pass
        finally:
            s.close()
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")


class Peer:
    def __init__(self, cmd, port, tmp):
        self.log = open(os.path.join(tmp, os.path.basename(cmd[0]) + ".log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_dns(port, proc=self.proc)
        except Exception:
            self.stop()
            with open(self.log.name) as f:
                raise RuntimeError(f"{cmd[0]} on port {port} did not answer: {f.read()[-2000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_peer(make, tmp, attempts=3):
    """Starts the peer `make(port)` describes ((cmd, port)) on a free port; another port is
    tried when it does not come up (the port was taken between the check and the bind)."""
    for attempt in range(attempts):
        cmd, port = make(harness.free_udp_tcp_port())
        try:
            return Peer(cmd, port, tmp), port
        except RuntimeError:
            if attempt == attempts - 1:
                raise


UNBOUND_CONF = """server:
  interface: 127.0.0.1@{port}
  port: {port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{tmp}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  module-config: "iterator"
  do-not-query-localhost: no
  qname-minimisation: no
  local-data: "mail.example.com. 3000 IN A 192.0.2.25"
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{lab_udp}
"""

DNSDIST_CONF = """setSecurityPollSuffix("")
setLocal("127.0.0.1:{port}")
newServer({{address="127.0.0.1:{lab_udp}", healthCheckMode="lazy"}})
addAction(QNameRule("blockme.example.com."), SpoofAction("0.0.0.0"))
"""


class ProbeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-probe-it-")
        cls.lab = harness.Resolver(listen=("udp://127.0.0.1:0", "tcp://127.0.0.1:0",
                                           "tls://127.0.0.1:0", "https://127.0.0.1:0/dns-query"))
        cls.ca = cls.lab.ca_file()
        ports = {s: cls.lab.addr(s)[1] for s in ("udp", "tcp", "tls", "https")}
        cls.lab_target = "lab=lab://127.0.0.1?" + "&".join(f"{k}={v}" for k, v in ports.items())
        cls.lab_udp = ports["udp"]
        cls.peers = []
        try:
            cls.start_peers()
        except Exception:
            cls.tearDownClass()  # unittest does not call it when setUpClass fails
            raise

    @classmethod
    def start_peers(cls):
        # Unbound forwarding to the lab, with one local-data record at a shorter TTL.
        def unbound(port):
            conf = os.path.join(cls.tmp, "unbound.conf")
            with open(conf, "w") as f:
                f.write(UNBOUND_CONF.format(port=port, tmp=cls.tmp, lab_udp=cls.lab_udp))
            return ["unbound", "-d", "-c", conf], port

        peer, cls.unbound_port = start_peer(unbound, cls.tmp)
        cls.peers.append(peer)

        # dnsdist in front of the lab, applying a "block" on blockme.example.com.
        def dnsdist(port):
            dconf = os.path.join(cls.tmp, "dnsdist.conf")
            with open(dconf, "w") as f:
                f.write(DNSDIST_CONF.format(port=port, lab_udp=cls.lab_udp))
            return ["dnsdist", "--supervised", "--disable-syslog", "-C", dconf], port

        peer, cls.dnsdist_port = start_peer(dnsdist, cls.tmp)
        cls.peers.append(peer)

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.stop()
        cls.peers = []
        cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def lab_args(self):
        return ["--target", self.lab_target, "--ca", self.ca]

    def test_all_lab_transports_and_unbound_agree(self):
        p = probe("www.example.com", "A", *self.lab_args(),
                  "--target", f"unbound=udp://127.0.0.1:{self.unbound_port}",
                  "--target", f"dnsdist=udp://127.0.0.1:{self.dnsdist_port}",
                  "--ignore", "additional,edns.udp_size", "--json")
        doc = json.loads(p.stdout)
        self.assertEqual(doc["schema"], "dnslab.probe.v1")
        q = doc["questions"][0]
        self.assertEqual(q["verdict"], "agree", json.dumps(q["classes"], indent=1))
        self.assertEqual(p.returncode, 0, p.stderr)
        names = {r["target"] for r in q["results"]}
        self.assertEqual(names, {"lab-udp", "lab-tcp", "lab-tls", "lab-https-get", "lab-https-post",
                                 "lab-https-json", "unbound", "dnsdist"})
        for r in q["results"]:
            self.assertIsNone(r["error"], r)
            self.assertEqual(r["answer"][0]["rdata"], ["192.0.2.10"])
            self.assertEqual(len(r["latency"]["query_ms"]), 1)

    def test_a_block_applied_by_one_target_is_the_first_difference(self):
        p = probe("blockme.example.com", *self.lab_args(),
                  "--target", f"dnsdist=udp://127.0.0.1:{self.dnsdist_port}",
                  "--ignore", "additional,edns,flags.aa", "--json", "--junit", os.path.join(self.tmp, "j.xml"))
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        q = json.loads(p.stdout)["questions"][0]
        self.assertEqual(q["verdict"], "differ")
        self.assertEqual(len(q["classes"]), 2)
        lab_cls, block_cls = q["classes"]
        self.assertEqual(len(lab_cls["targets"]), 6)
        self.assertEqual(lab_cls["labels"], [])
        self.assertEqual(block_cls["targets"], ["dnsdist"])
        self.assertEqual(block_cls["labels"], ["sinkhole"])
        self.assertEqual(block_cls["first_difference"]["field"], "answer")
        self.assertIn("0.0.0.0", block_cls["first_difference"]["this"])
        self.assertIn("192.0.2.101", block_cls["first_difference"]["class1"])
        self.assertIn("blocked (sinkhole) by dnsdist", q["verdict_detail"])
        with open(os.path.join(self.tmp, "j.xml")) as f:
            self.assertIn('failures="1"', f.read())
        # The table says the same for humans, without colour when not on a tty.
        t = probe("blockme.example.com", *self.lab_args(), "--target", f"dnsdist=udp://127.0.0.1:{self.dnsdist_port}",
                  "--ignore", "additional,edns,flags.aa")
        self.assertIn("class 2 [sinkhole]: dnsdist", t.stdout)
        self.assertIn("first difference vs class 1: answer", t.stdout)
        self.assertNotIn("\033[", t.stdout)

    def test_ttl_gap_is_explained_unless_strict(self):
        # Unbound serves mail.example.com from local-data at TTL 3000; the lab's zone says 3600.
        base = ["mail.example.com", "--target", f"lab=udp://127.0.0.1:{self.lab_udp}",
                "--target", f"unbound=udp://127.0.0.1:{self.unbound_port}",
                "--ignore", "additional,authority,edns,flags.aa"]
        p = probe(*base, "--json")
        q = json.loads(p.stdout)["questions"][0]
        self.assertEqual(q["verdict"], "agree", q)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(any("cache-aged" in n for n in q["notes"]), q["notes"])
        p = probe(*base, "--ttl-strict", "--json")
        q = json.loads(p.stdout)["questions"][0]
        self.assertEqual(p.returncode, 1, q)
        self.assertEqual(q["classes"][1]["first_difference"]["field"], "answer.ttl")
        p = probe(*base, "--ttl-tolerance", "700", "--ttl-strict")
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_doh_http_errors_are_a_difference(self):
        port = self.lab.addr("https")[1]
        p = probe("www.example.com", "--ca", self.ca,
                  "--target", f"good=https://127.0.0.1:{port}/dns-query?method=post",
                  "--target", f"bad=https://127.0.0.1:{port}/no-such-path?method=post", "--json")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        q = json.loads(p.stdout)["questions"][0]
        bad = [r for r in q["results"] if r["target"] == "bad"][0]
        self.assertNotEqual(bad["http"]["status"], 200)
        self.assertEqual(q["classes"][1]["first_difference"]["field"], "http.status")

    def test_pcap_is_readable_by_tshark(self):
        pcap = os.path.join(self.tmp, "out.pcap")
        p = probe("www.example.com", *self.lab_args(), "--pcap", pcap)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        ports = [str(self.lab.addr(s)[1]) for s in ("udp", "tcp", "tls", "https")]
        decode = sum((["-d", f"udp.port=={x},dns"] for x in ports), [])
        out = subprocess.run(["tshark", "-r", pcap, *decode, "-T", "fields", "-e", "dns.flags.response",
                              "-e", "dns.qry.name", "-e", "dns.a"], capture_output=True, text=True, timeout=60)
        lines = [l.split("\t") for l in out.stdout.splitlines() if l.strip()]
        # 6 queries; 5 wire answers (DoH JSON has no wire answer).
        self.assertEqual(sum(1 for l in lines if l[0] in ("0", "False")), 6, out.stdout + out.stderr)
        answers = [l for l in lines if l[0] in ("1", "True")]
        self.assertEqual(len(answers), 5, out.stdout)
        self.assertTrue(all(l[1] == "www.example.com" and l[2] == "192.0.2.10" for l in answers), answers)
        # The same capture replays as input.
        r = probe("--pcap-in", pcap, "--target", f"udp://127.0.0.1:{self.lab_udp}", "--json")
        self.assertEqual(len(json.loads(r.stdout)["questions"]), 6)

    def test_expectation_files_pass_and_fail(self):
        p = probe("check", os.path.join(EXPECT, "lab-basic.toml"), *self.lab_args(), "--json")
        doc = json.loads(p.stdout)
        self.assertEqual(doc["schema"], "dnslab.probe.check.v1")
        failed = [r for r in doc["results"] if not r["pass"]]
        self.assertEqual(failed, [])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(doc["summary"]["passed"], 6 + 6 + 6 + 2)
        p = probe("check", os.path.join(EXPECT, "gateway-blocks.toml"), *self.lab_args(),
                  "--junit", os.path.join(self.tmp, "c.xml"))
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("FAIL  blockme is sinkholed  [lab-udp]", p.stdout)
        self.assertIn("expected a block, got NOERROR {192.0.2.101}", p.stdout)
        # The same file passes against a target that applies the block.
        p = probe("check", os.path.join(EXPECT, "gateway-blocks.toml"),
                  "--target", f"dnsdist=udp://127.0.0.1:{self.dnsdist_port}", "--json")
        doc = json.loads(p.stdout)
        sink = [r for r in doc["results"] if r["case"] == "blockme is sinkholed"][0]
        self.assertTrue(sink["pass"], sink)
        self.assertEqual(sink["labels"], ["sinkhole"])

    def test_usage_errors_exit_2(self):
        self.assertEqual(probe("www.example.com").returncode, 2)
        self.assertEqual(probe("www.example.com", "--target", "ftp://x").returncode, 2)
        self.assertEqual(probe("www.example.com", "--target", "udp://127.0.0.1:53", "--bogus").returncode, 2)
        self.assertEqual(probe("www.example.com", "BADTYPE", "--target", "udp://127.0.0.1:53").returncode, 2)
        r = probe("scenario")  # needs run|pack|unpack (docs/scenarios.md)
        self.assertEqual(r.returncode, 2)
        self.assertIn("subcommand is required", r.stderr)


if __name__ == "__main__":
    harness.main()
