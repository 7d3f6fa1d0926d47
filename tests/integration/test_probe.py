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


def wait_dns(port, timeout=10, proc=None, qname="example.com"):
    """Ready signal for peers without a ready file: poll until the port answers a DNS query."""
    labels = b"".join(bytes([len(l)]) + l.encode() for l in qname.split("."))
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + labels + b"\x00\x00\x01\x00\x01"
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
    def __init__(self, cmd, port, tmp, qname="example.com"):
        self.log = open(os.path.join(tmp, os.path.basename(cmd[0]) + ".log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_dns(port, proc=self.proc, qname=qname)
        except Exception:
            self.stop()
            with open(self.log.name) as f:
                raise RuntimeError(f"{cmd[0]} on port {port} did not answer: {f.read()[-2000:]}")

    def stop(self):
        harness.stop_process(self.proc)
        self.log.close()


def start_peer(make, tmp, attempts=3, qname="example.com"):
    """Starts the peer `make(port)` describes ((cmd, port)) on a free port; another port is
    tried when it does not come up (the port was taken between the check and the bind).
    `qname` is a name the peer answers (its ready signal)."""
    for attempt in range(attempts):
        cmd, port = make(harness.free_udp_tcp_port())
        try:
            return Peer(cmd, port, tmp, qname), port
        except RuntimeError:
            if attempt == attempts - 1:
                raise


UNBOUND_CONF = harness.UNBOUND_SERVER + """  qname-minimisation: no
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


# --- issue 13: verdicts an engineer can trust -------------------------------------------
# One zone served by NSD (authoritative: AA, an authority section, glue), seen through
# dnsdist forwarding to it and through Unbound resolving it (RA, no AA, minimal answers).
EQUIV_ZONE = """$ORIGIN equiv.test.
$TTL 300
@ IN SOA ns1.equiv.test. hostmaster.equiv.test. 1 3600 600 86400 60
@ IN NS ns1.equiv.test.
ns1 IN A 127.0.0.1
www IN A 192.0.2.80
www2 IN A 192.0.2.81
tc IN A 192.0.2.82
servfail IN A 192.0.2.83
@ IN MX 10 mail.equiv.test.
mail IN A 192.0.2.25
"""

NSD_CONF = """server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  username: ""
  chroot: ""
  zonesdir: "{dir}"
  database: ""
  zonelistfile: "{dir}/zone.list"
  pidfile: ""
  xfrdfile: "{dir}/xfrd.state"
  xfrdir: "{dir}"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: equiv.test
  zonefile: equiv.test.zone
"""

# dnsdist in front of NSD: one name answered with other data, one truncated over UDP, one
# SERVFAIL, one REFUSED without an EDE (a block shape, where NSD says EDE 20 "not
# authoritative"), everything else forwarded as NSD sent it.
DNSDIST_NSD_CONF = """setSecurityPollSuffix("")
setLocal("127.0.0.1:{port}")
newServer({{address="127.0.0.1:{nsd}", healthCheckMode="lazy"}})
addAction(QNameRule("www2.equiv.test."), SpoofAction("192.0.2.99"))
addAction(AndRule({{QNameRule("tc.equiv.test."), TCPRule(false)}}), TCAction())
addAction(QNameRule("servfail.equiv.test."), RCodeAction(DNSRCode.SERVFAIL))
addAction(QNameRule("outside.example."), RCodeAction(DNSRCode.REFUSED))
"""

# Unbound resolving the zone from NSD; every other name goes to a dead loopback port, so
# nothing ever leaves the machine.
UNBOUND_STUB_CONF = harness.UNBOUND_SERVER + """  qname-minimisation: no
  minimal-responses: yes
  # test. is one of Unbound's default local zones (RFC 6761 names, answered NXDOMAIN).
  local-zone: "test." nodefault
stub-zone:
  name: "equiv.test"
  stub-addr: 127.0.0.1@{nsd}
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{dead}
"""


class EquivalenceTest(unittest.TestCase):
    """dnsdist forwarding an authoritative (NSD) versus Unbound, same zone data."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-probe-equiv-")
        cls.peers = []
        try:
            cls.start_peers()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start_peers(cls):
        zdir = os.path.join(cls.tmp, "nsd")
        os.makedirs(zdir)
        with open(os.path.join(zdir, "equiv.test.zone"), "w") as f:
            f.write(EQUIV_ZONE)

        def nsd(port):
            conf = os.path.join(zdir, "nsd.conf")
            with open(conf, "w") as f:
                f.write(NSD_CONF.format(port=port, dir=zdir))
            return ["nsd", "-d", "-c", conf], port

        # NSD answers REFUSED outside its zone: wait_dns only needs an answer.
        peer, cls.nsd_port = start_peer(nsd, cls.tmp)
        cls.peers.append(peer)

        def dnsdist(port):
            conf = os.path.join(cls.tmp, "dnsdist.conf")
            with open(conf, "w") as f:
                f.write(DNSDIST_NSD_CONF.format(port=port, nsd=cls.nsd_port))
            return ["dnsdist", "--supervised", "--disable-syslog", "-C", conf], port

        peer, cls.dnsdist_port = start_peer(dnsdist, cls.tmp)
        cls.peers.append(peer)
        dead = harness.dead_udp_port()

        def unbound(port):
            conf = os.path.join(cls.tmp, "unbound.conf")
            with open(conf, "w") as f:
                f.write(UNBOUND_STUB_CONF.format(port=port, tmp=cls.tmp, nsd=cls.nsd_port, dead=dead))
            return ["unbound", "-d", "-c", conf], port

        peer, cls.unbound_port = start_peer(unbound, cls.tmp, qname="www.equiv.test")
        cls.peers.append(peer)

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.stop()
        cls.peers = []
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pair(self):
        return ["--target", f"dnsdist=udp://127.0.0.1:{self.dnsdist_port}",
                "--target", f"unbound=udp://127.0.0.1:{self.unbound_port}"]

    def question(self, *args):
        p = probe(*args, "--json")
        try:
            return p, json.loads(p.stdout)["questions"][0]
        except (ValueError, IndexError, KeyError):
            raise AssertionError(f"no probe JSON ({p.returncode}): {p.stdout}\n{p.stderr}")

    def test_same_data_is_equivalent_with_notes(self):
        p, q = self.question("www.equiv.test", *self.pair())
        self.assertEqual(q["level"], "equivalent", q)
        self.assertEqual(q["verdict"], "agree")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(len(q["classes"]), 1)
        notes = " ".join(q["notes"])
        for field in ("flags.aa differs", "flags.ra differs", "authority differs"):
            self.assertIn(field, notes)
        # The answer both give is the zone's.
        for r in q["results"]:
            self.assertEqual(r["answer"][0]["rdata"], ["192.0.2.80"], r)
        aa = {r["target"]: r["flags"]["aa"] for r in q["results"]}
        self.assertEqual(aa, {"dnsdist": True, "unbound": False})
        # The table says so, with the summary line.
        t = probe("www.equiv.test", *self.pair())
        self.assertEqual(t.returncode, 0, t.stdout)
        self.assertIn(";; www.equiv.test A  equivalent", t.stdout)
        self.assertIn("note: flags.aa differs: set (dnsdist) vs clear (unbound)", t.stdout)
        self.assertIn("1 question: 0 identical, 1 equivalent, 0 differ", t.stdout)
        # --strict keeps the field-by-field comparison.
        p, q = self.question("www.equiv.test", *self.pair(), "--strict")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(q["level"], "differ")
        self.assertEqual(q["classes"][1]["first_difference"]["field"], "flags.aa")
        # --ignore still works on top of --strict.
        # (A TTL tolerance of an hour: unbound answers from its cache by now, and under ASan
        # more than the default 5 s may have passed since it cached the record.)
        p, q = self.question("www.equiv.test", *self.pair(), "--strict", "--ttl-tolerance",
                             "3600", "--ignore", "flags.aa,flags.ra,authority,additional")
        self.assertEqual(p.returncode, 0, q)
        self.assertEqual(q["level"], "identical")

    def test_other_data_still_differs(self):
        p, q = self.question("www2.equiv.test", *self.pair())
        self.assertEqual(p.returncode, 1, q)
        self.assertEqual(q["level"], "differ")
        self.assertEqual(q["classes"][1]["first_difference"]["field"], "answer")
        self.assertIn("192.0.2.99", json.dumps(q["classes"][1]["first_difference"]))
        # Both answered with data: "answered by" names both classes, nobody blocked.
        self.assertEqual(q["verdict_detail"], "answered by dnsdist, unbound")

    def test_truncated_udp_answer_is_labelled_truncated(self):
        p, q = self.question("tc.equiv.test", *self.pair())
        self.assertEqual(p.returncode, 1, q)
        tc = [c for c in q["classes"] if c["targets"] == ["dnsdist"]][0]
        self.assertEqual(tc["labels"], ["truncated"])
        self.assertEqual(q["classes"][1]["first_difference"]["field"], "flags.tc")
        self.assertNotIn("blocked", q["verdict_detail"])
        self.assertIn("truncated (TC) from dnsdist", q["verdict_detail"])

    def test_answered_by_only_with_data(self):
        p, q = self.question("servfail.equiv.test", *self.pair())
        self.assertEqual(p.returncode, 1, q)
        # In class order (largest first, then as given): SERVFAIL is no answer with data.
        self.assertEqual(q["verdict_detail"], "SERVFAIL from dnsdist; answered by unbound")

    def test_refused_not_authoritative_is_not_a_block(self):
        # NSD: REFUSED with EDE 20 (not authoritative for the name); dnsdist: a bare REFUSED.
        nsd = ["--target", f"nsd=udp://127.0.0.1:{self.nsd_port}"]
        p, q = self.question("outside.example", *nsd,
                             "--target", f"dnsdist=udp://127.0.0.1:{self.dnsdist_port}")
        self.assertEqual(p.returncode, 1, q)
        cls = {tuple(c["targets"]): c for c in q["classes"]}
        self.assertEqual(cls[("nsd",)]["labels"], ["not-authoritative"])
        self.assertEqual(cls[("dnsdist",)]["labels"], ["refused"])
        self.assertEqual(q["classes"][1]["first_difference"]["field"], "ede")
        self.assertEqual(q["verdict_detail"], "blocked (refused) by dnsdist; REFUSED from nsd")
        p, q = self.question("outside.example", *nsd)
        self.assertEqual(q["results"][0]["ede"], [{"code": 20, "text": ""}])
        self.assertEqual(q["verdict_detail"], "")  # one class, nothing blocked

    def test_dig_habits(self):
        # @server with a bare address: plain DNS over UDP and TCP.
        p = probe(f"@127.0.0.1:{self.nsd_port}", "www.equiv.test", "+short")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "192.0.2.80\n")
        p = probe(f"@127.0.0.1:{self.nsd_port}", "www.equiv.test", "--json")
        targets = [t["name"] for t in json.loads(p.stdout)["targets"]]
        self.assertEqual(targets, [f"udp@127.0.0.1:{self.nsd_port}", f"tcp@127.0.0.1:{self.nsd_port}"])
        # The additional section is shown (NSD adds the MX target's address).
        p = probe(f"@127.0.0.1:{self.nsd_port}", "equiv.test", "MX")
        self.assertIn("mail.equiv.test.\t300\tIN\tA\t192.0.2.25   ; additional", p.stdout)
        # +short with differing answers says who got what.
        p = probe("www2.equiv.test", *self.pair(), "+short")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, ";; dnsdist\n192.0.2.99\n;; unbound\n192.0.2.81\n")
        self.assertEqual(probe("@", "x").returncode, 2)
        self.assertEqual(probe("@127.0.0.1", "x", "+bogus").returncode, 2)

    def test_question_list_has_one_latency_table_and_a_summary(self):
        names = os.path.join(self.tmp, "names.txt")
        with open(names, "w") as f:
            f.write("www.equiv.test A\nwww2.equiv.test A\nequiv.test MX\n")
        p = probe("-f", names, *self.pair())
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertEqual(p.stdout.count("latency ms"), 1, p.stdout)
        self.assertIn("latency ms (3 questions, 1 pass)", p.stdout)
        self.assertIn("3 questions: 0 identical, 2 equivalent, 1 differ", p.stdout)
        doc = json.loads(probe("-f", names, *self.pair(), "--json").stdout)
        self.assertEqual(doc["summary"]["equivalent"], 2)
        self.assertEqual(doc["summary"]["differ"], 1)
        self.assertEqual(doc["targets"][0]["latency"]["queries"], 3)

    def test_no_color_on_a_terminal(self):
        import pty
        def on_tty(env):
            master, slave = pty.openpty()
            try:
                proc = subprocess.run([PROBE, "www2.equiv.test", *self.pair()], stdout=slave,
                                      stderr=subprocess.PIPE, env=env, timeout=60)
                os.close(slave)
                slave = None
                out = b""
                while True:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                return proc.returncode, out.decode()
            finally:
                os.close(master)
                if slave is not None:
                    os.close(slave)
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        rc, out = on_tty(env)
        self.assertEqual(rc, 1)
        self.assertIn("\033[", out)
        rc, out = on_tty(dict(env, NO_COLOR="1"))
        self.assertEqual(rc, 1)
        self.assertNotIn("\033[", out)
        self.assertIn("www2.equiv.test A  differ", out)


# Rules for the --source tests: a block that only applies at the Branch location, whose
# network (fixtures/policy/locations.json) is 127.0.1.0/24; HQ's is 127.0.0.0/24.
BRANCH_ID = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0002"
BRANCH_RULES = json.dumps({"success": True, "errors": [], "messages": [], "result": [
    {"id": "a1b20000-0000-4000-8000-000000000001", "name": "Block www at the branch",
     "precedence": 100, "enabled": True, "action": "block", "filters": ["dns"],
     "traffic": f'dns.location in {{"{BRANCH_ID}"}} and dns.fqdn == "www.example.com"',
     "identity": "", "rule_settings": {}}]})


class SourceAndLocationTest(unittest.TestCase):
    """A branch probed from its network with --source / source=, and check cases whose
    location plain DNS cannot carry."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-probe-src-")
        rules = os.path.join(cls.tmp, "rules.json")
        with open(rules, "w") as f:
            f.write(BRANCH_RULES)
        cls.locations = os.path.join(harness.ROOT, "fixtures/policy/locations.json")
        cls.lab = harness.Resolver("--rules", rules, "--locations", cls.locations,
                                   listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0"))
        cls.port = cls.lab.addr("udp")[1]
        cls.tls = cls.lab.addr("tls")[1]

    @classmethod
    def tearDownClass(cls):
        cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_branch_probed_with_source(self):
        base = [f"@127.0.0.1:{self.port}", "www.example.com", "--json"]
        hq = json.loads(probe(*base).stdout)["questions"][0]
        self.assertEqual(hq["results"][0]["answer"][0]["rdata"], ["192.0.2.10"])
        p = probe(*base, "-b", "127.0.1.5")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        branch = json.loads(p.stdout)["questions"][0]
        for r in branch["results"]:  # udp and tcp, both from the branch network
            self.assertEqual(r["answer"][0]["rdata"], ["0.0.0.0"], r)
            self.assertEqual(r["labels"], ["sinkhole"])
        # The log is flushed every 200 ms and holds the other tests' queries too: wait for
        # the two from the branch's address.
        deadline = time.time() + 10
        while True:
            recs = [r for r in self.lab.log_records() if r.get("SrcIP") == "127.0.1.5"]
            if {r["Protocol"] for r in recs} >= {"udp", "tcp"} or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual({r["Protocol"] for r in recs}, {"udp", "tcp"}, recs)
        for r in recs:
            self.assertEqual(r["Location"], "Branch")
            self.assertEqual(r["LabLocationReason"], "src-network:127.0.1.0/24")
            self.assertEqual(r["ResolverDecision"], "blockedByQueryName")
        self.assertEqual(probe(*base, "--source", "not-an-ip").returncode, 2)

    def write_cases(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path, *extra):
        return probe("check", path, "--host", f"127.0.0.1:udp={self.port},tcp={self.port},tls={self.tls}",
                     "--ca", self.lab.ca_file(), "--lab-log", self.lab.log_path,
                     "--locations", self.locations, *extra)

    def test_location_plain_dns_cannot_carry_fails(self):
        # From 127.0.0.1 (HQ's network) EDNS 65011 cannot move a plain DNS query to the
        # branch: the source network wins (docs/policy.md). The case used to pass.
        path = self.write_cases("edns-only.toml", '[[case]]\nid = "branch www"\nname = "www.example.com"\n'
                                'transports = ["udp", "tls"]\nlocation = "br4nch0b2c"\nexpect = "allowed"\n')
        p = self.check(path)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("FAIL  branch www  [udp]", p.stdout)
        self.assertIn("cannot set this location over udp: the lab attributed the query to HQ "
                      "(src-network:127.0.0.0/24)", p.stdout)
        # DoT carries it in EDNS 65011: applied, and the block shows.
        self.assertIn("FAIL  branch www  [tls]", p.stdout)
        self.assertIn("lab location: Branch (edns-65011:br4nch0b2c)", p.stdout)
        doc = json.loads(self.check(path, "--json").stdout)
        udp = [r for r in doc["results"] if r["transport"] == "udp"][0]
        self.assertEqual(udp["location"]["attributed"]["location"], "HQ")
        self.assertEqual(udp["location"]["sent_as"], "EDNS 65011")
        # Without EDNS there is nothing to carry it in: the case fails before sending.
        p = self.check(path, "--no-edns")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot set this location over udp: plain DNS carries a location only in "
                      "EDNS 65011", p.stdout)

    def test_location_applied_from_its_network(self):
        path = self.write_cases("source.toml", '[[case]]\nid = "branch www"\nname = "www.example.com"\n'
                                'transports = ["udp", "tcp"]\nlocation = "br4nch0b2c"\n'
                                'source = "127.0.1.9"\nexpect = "blocked"\n\n'
                                '[[case]]\nid = "hq www"\nname = "www.example.com"\n'
                                'transports = ["udp"]\nexpect = "allowed"\n')
        p = self.check(path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("location: br4nch0b2c sent as source 127.0.1.9 and EDNS 65011; "
                      "lab location: Branch (src-network:127.0.1.0/24)", p.stdout)
        self.assertIn("lab location: HQ (src-network:127.0.0.0/24)", p.stdout)

    def test_blocked_blockpage_and_blocked_any(self):
        path = self.write_cases("shapes.toml",
                                '[[case]]\nid = "sinkhole is blocked"\nname = "www.example.com"\n'
                                'transports = ["udp"]\nsource = "127.0.1.9"\nexpect = "blocked"\n\n'
                                '[[case]]\nid = "sinkhole is blocked-any"\nname = "www.example.com"\n'
                                'transports = ["udp"]\nsource = "127.0.1.9"\nexpect = "blocked-any"\n\n'
                                '[[case]]\nid = "sinkhole is no block page"\nname = "www.example.com"\n'
                                'transports = ["udp"]\nsource = "127.0.1.9"\nexpect = "blockpage"\n')
        doc = json.loads(self.check(path, "--json").stdout)
        verdict = {r["case"]: r["pass"] for r in doc["results"]}
        self.assertEqual(verdict, {"sinkhole is blocked": True, "sinkhole is blocked-any": True,
                                   "sinkhole is no block page": False})

    def test_check_help_lists_every_option(self):
        p = probe("check", "--help")
        self.assertEqual(p.returncode, 0)
        for opt in ("--target", "--host", "--targets", "--source", "--json", "--junit", "--report",
                    "--ca", "--timeout", "--retries", "--no-edns", "--location", "--header",
                    "--pcap", "--lab-log", "--locations", "--no-color"):
            self.assertIn(opt, p.stdout, opt)


if __name__ == "__main__":
    harness.main()
