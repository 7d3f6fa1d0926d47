# SPDX-License-Identifier: MIT
"""Shared helpers for integration tests: start dnslab-resolver on loopback with ephemeral
ports, read its ready file, and run real DNS clients against it. Loopback only."""
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.environ.get("DNSLAB_SOURCE_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("DNSLAB_BUILD_ROOT", os.path.join(ROOT, "build"))
RESOLVER = os.environ.get("DNSLAB_RESOLVER", os.path.join(BUILD, "resolver/dnslab-resolver"))
PROBE = os.environ.get("DNSLAB_PROBE", os.path.join(BUILD, "probes/dnslab-probe"))
ZONES = os.path.join(ROOT, "fixtures/zones")

# The start of every Unbound configuration the tests run (format with port= and tmp=): one
# process in the foreground on loopback, no privileges dropped, nothing logged, iterating
# (forward and stub zones at loopback servers, so do-not-query-localhost is off).
UNBOUND_SERVER = """server:
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
"""


def free_port(kind=socket.SOCK_DGRAM):
    """A port that was free a moment ago; only for peers that cannot bind port 0 themselves."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_udp_tcp_port():
    """A port free for both UDP and TCP a moment ago, for peers that bind both (unbound,
    dnsdist) and cannot bind port 0 themselves."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no port free for both UDP and TCP")


def dead_udp_port():
    """A loopback UDP port with nobody listening (ICMP unreachable or silence)."""
    return free_port(socket.SOCK_DGRAM)


class Resolver:
    """A running dnslab-resolver. Use as a context manager."""

    def __init__(self, *args, listen=("dns://127.0.0.1:0",),
                 upstream=("fixture:" + ZONES,), log=True, env=None, config=None, timeout=10,
                 binary=None):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-it-")
        self.ready = os.path.join(self.tmp, "ready")
        self.log_path = os.path.join(self.tmp, "queries.jsonl") if log else None
        self.events_path = os.path.join(self.tmp, "events.jsonl")  # LabEvent lines
        self.stderr_path = os.path.join(self.tmp, "stderr")
        cmd = [binary or RESOLVER, "--ready-file", self.ready, "--state-dir", os.path.join(self.tmp, "state")]
        if config:
            cfg = os.path.join(self.tmp, "config.toml")
            with open(cfg, "w") as f:
                f.write(config)
            cmd += ["--config", cfg]
        for l in listen:
            cmd += ["--listen", l]
        for u in upstream:
            cmd += ["--upstream", u]
        if self.log_path:
            cmd += ["--log-json", self.log_path]
        cmd += ["--event-log", self.events_path]
        cmd += list(args)
        self.cmd = cmd
        e = dict(os.environ)
        e.update(env or {})
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr, env=e)
        self.urls = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                text = self.read_stderr()
                self.stderr.close()
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise RuntimeError(f"resolver exited with {self.proc.returncode}: {text}")
            if os.path.exists(self.ready):
                with open(self.ready) as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.urls = [l.strip() for l in text.splitlines() if l.strip()]
                    break
            time.sleep(0.02)
        else:
            self.stop()
            raise RuntimeError("resolver did not become ready: " + self.read_stderr())

    def read_stderr(self):
        self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def url(self, scheme):
        for u in self.urls:
            if u.startswith(scheme + "://"):
                return u
        raise KeyError(f"no {scheme} listener in {self.urls}")

    def addr(self, scheme="udp"):
        """(host, port) of the first listener with this scheme."""
        u = self.url(scheme)
        hostport = u.split("://", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def ca_file(self):
        for u in self.urls:
            if u.startswith("ca "):
                return u[3:]
        return None

    def log_records(self, wait_for=0, timeout=5, events=False):
        """Parsed JSON query-log lines (or, with events=True, the event log's LabEvent lines
        such as policy loads and reloads); waits until at least `wait_for` lines were
        flushed. The query log holds gateway_dns records only."""
        deadline = time.time() + timeout
        path = self.events_path if events else self.log_path
        while True:
            recs = []
            if path and os.path.exists(path):
                with open(path) as f:
                    # Only whole lines: the resolver may be in the middle of writing the last.
                    recs = [json.loads(l) for l in f if l.strip() and l.endswith("\n")]
            if len(recs) >= wait_for or time.time() > deadline:
                return recs
            time.sleep(0.05)

    def wait_record(self, pred, timeout=5):
        """The newest log record matching `pred`, waiting for the log to be flushed."""
        deadline = time.time() + timeout
        while True:
            recs = [r for r in self.log_records() if pred(r)]
            if recs or time.time() > deadline:
                if not recs:
                    raise AssertionError("no matching log record")
                return recs[-1]
            time.sleep(0.05)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5):
        stop_process(self.proc, timeout)
        self.stderr.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def stop_process(proc, timeout=5):
    """Stops a process the test started, by its Popen: SIGTERM, then SIGKILL when it has not
    exited within `timeout` seconds. Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def run(cmd, timeout=20, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stdout}\n{p.stderr}")
    return p


def kdig(host, port, *args, timeout=20):
    """kdig with JSON-free, machine-friendly output (+noall +answer style chosen by caller)."""
    return run(["kdig", "@" + host, "-p", str(port), "+retry=0", "+time=3", *args], timeout=timeout).stdout


def dig(host, port, *args, timeout=20):
    return run(["dig", "@" + host, "-p", str(port), "+tries=1", "+time=3", *args], timeout=timeout).stdout


def main():
    unittest.main(verbosity=2)


# --- raw DNS helpers for tests that need bytes no client sends ---------------------------
import random
import struct


def build_query(name, qtype=1, qid=None, edns_size=None, edns_version=0, do=False, flags=0x0100, options=b""):
    qid = random.randint(0, 65535) if qid is None else qid
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".") if l) + b"\0"
    arcount = 1 if edns_size is not None else 0
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, arcount) + labels + struct.pack("!HH", qtype, 1)
    if edns_size is not None:
        ttl = (edns_version << 16) | (0x8000 if do else 0)
        msg += b"\0" + struct.pack("!HHIH", 41, edns_size, ttl, len(options)) + options
    return msg


def skip_name(msg, off):
    """The offset in `msg` after the (possibly compressed) name at `off`."""
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def header(msg):
    """(id, flags, qd, an, ns, ar, rcode) of a DNS message."""
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    return qid, flags, qd, an, ns, ar, flags & 0xF


def udp_exchange(addr, payload, timeout=3.0):
    """One query, one answer. The answer must come from the address and port the query went
    to, as stub resolvers require (dig: "reply from unexpected source"): the UDP listener
    sends from a second socket on its endpoint (resolver/io/send_socket.hpp)."""
    s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(payload, addr)
        data, src = s.recvfrom(65535)
        if (ipaddress.ip_address(src[0]), src[1]) != (ipaddress.ip_address(addr[0]), addr[1]):
            raise AssertionError(f"answer from {src[:2]}, the query went to {addr[:2]}")
        return data
    finally:
        s.close()


def tcp_frames(sock, count, timeout=5.0):
    """Reads `count` length-prefixed messages from a TCP socket."""
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < count:
        chunk = sock.recv(65535)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) < 2 + n:
                break
            out.append(buf[2:2 + n])
            buf = buf[2 + n:]
    return out
