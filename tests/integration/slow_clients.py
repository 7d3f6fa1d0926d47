# SPDX-License-Identifier: MIT
"""Slow clients ("slowloris") against the lab's stream listeners, for the slow-client tests
and bench/slow_clients.py. Each client opens a connection and then trickles the bytes of a
message that it never finishes, or sends frames that never make a request. Loopback only.

Kinds (what the client does after connecting):
  hello     raw TCP: the bytes of a real TLS ClientHello, one at a time (unfinished handshake)
  tcp       raw TCP: a DNS length prefix and query, one byte at a time (plain TCP listener)
  dot       TLS done, then a DoT length prefix and query, one byte at a time
  h1        TLS done (ALPN http/1.1), then an HTTP/1.1 request line, one byte at a time
  h2frame   TLS done (ALPN h2), preface + SETTINGS, then a HEADERS frame one byte at a time
  h2stream  TLS done (ALPN h2), preface + SETTINGS + a POST HEADERS frame without END_STREAM,
            then one 1-byte DATA frame per trickle (complete frames, never a complete request)
  h2ping    TLS done (ALPN h2), preface + SETTINGS, then one PING frame per trickle
"""
import resource
import select
import socket
import ssl
import struct
import time

TLS_KINDS = ("dot", "h1", "h2frame", "h2stream", "h2ping")


def raise_fd_limit(wanted):
    """Raises this process's RLIMIT_NOFILE soft limit to `wanted` (children inherit it).
    Returns the soft limit in force, which is below `wanted` when the hard limit is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def dns_query(name="www.example.com", qtype=1, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def client_hello(sni="localhost", alpn=None):
    """The bytes of a real ClientHello, made by Python's ssl module through a memory BIO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def h2_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(0x4, 0, 0)  # + empty SETTINGS


def h2_literal(index, value):
    """HPACK literal header field without indexing, indexed name (RFC 7541 §6.2.2)."""
    v = value.encode()
    assert index < 15 and len(v) < 127
    return bytes([index, len(v)]) + v


def h2_post_headers(stream=1, end_stream=False):
    """HEADERS for `POST /dns-query` (END_HEADERS; END_STREAM only when asked)."""
    block = (b"\x83\x87"  # :method POST, :scheme https (static table 3 and 7)
             + h2_literal(4, "/dns-query") + h2_literal(1, "localhost")
             + b"\x0f\x10" + bytes([23]) + b"application/dns-message")  # content-type (31)
    return h2_frame(0x1, 0x4 | (0x1 if end_stream else 0), stream, block)


def h2_get_headers(stream, path, authority="localhost"):
    """HEADERS for `GET path` with END_STREAM and END_HEADERS."""
    block = b"\x82\x87" + h2_literal(4, path) + h2_literal(1, authority)  # :method GET, :scheme https
    return h2_frame(0x1, 0x5, stream, block)


def h2_read_frames(sock, until, timeout=3):
    """Reads frames as (type, flags, stream, payload) until `until(frames)` is true or the
    connection ends; returns (frames, closed)."""
    sock.settimeout(timeout)
    buf, frames = b"", []
    end = time.monotonic() + timeout
    while not until(frames) and time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            return frames, True
        if not chunk:
            return frames, True
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]))
            buf = buf[9 + n:]
    return frames, False


class SlowClient:
    """One connection that trickles. `closed_at` is the monotonic time the server closed it
    (EOF or reset), None while it is open."""

    def __init__(self, kind, sock, script, per_trickle=1):
        self.kind = kind
        self.sock = sock
        self.script = script  # bytes still to trickle (for the byte-wise kinds)
        self.per_trickle = per_trickle
        self.opened_at = time.monotonic()
        self.closed_at = None
        self.sent = 0
        self.received = b""  # what the server sent (decrypted for TLS kinds), e.g. a 408

    def fileno(self):
        return self.sock.fileno()

    def _send(self, data):
        try:
            self.sock.send(data)
            self.sent += len(data)
        except (ssl.SSLWantWriteError, BlockingIOError):
            pass
        except OSError:
            self.mark_closed()

    def trickle(self):
        if self.closed_at is not None:
            return
        if self.kind == "h2stream":
            self._send(h2_frame(0x0, 0, 1, b"\x00"))  # 1 byte of body, never END_STREAM
        elif self.kind == "h2ping":
            self._send(h2_frame(0x6, 0, 0, b"\x00" * 8))
        elif self.script:
            chunk, self.script = self.script[:self.per_trickle], self.script[self.per_trickle:]
            self._send(chunk)

    def poll_closed(self):
        """Reads whatever the server sent; notices EOF or a reset."""
        if self.closed_at is not None:
            return True
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.mark_closed()
                    return True
                self.received += data[:4096]
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except (ssl.SSLError, OSError):
            self.mark_closed()
            return True

    def mark_closed(self):
        if self.closed_at is None:
            self.closed_at = time.monotonic()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def open_client(kind, port, sni="localhost"):
    """Connects one slow client of `kind` and sends what it sends before trickling."""
    if kind == "hello":
        s = _connect(port)
        s.setblocking(False)
        return SlowClient(kind, s, client_hello(sni, ["h2", "http/1.1"]))
    if kind == "tcp":
        s = _connect(port)
        s.setblocking(False)
        q = dns_query()
        return SlowClient(kind, s, struct.pack(">H", len(q)) + q)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if kind == "h1":
        ctx.set_alpn_protocols(["http/1.1"])
    elif kind.startswith("h2"):
        ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(_connect(port), server_hostname=sni)
    if kind.startswith("h2") and s.selected_alpn_protocol() != "h2":
        raise RuntimeError("the listener did not select h2")
    script = b""
    if kind == "dot":
        q = dns_query()
        script = struct.pack(">H", len(q)) + q
    elif kind == "h1":
        script = b"GET /dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB HTTP/1.1\r\nhost: localhost\r\n\r\n"
    elif kind == "h2frame":
        s.sendall(H2_PREFACE)
        script = h2_post_headers(end_stream=True)
    elif kind == "h2stream":
        s.sendall(H2_PREFACE + h2_post_headers())
    elif kind == "h2ping":
        s.sendall(H2_PREFACE)
    s.setblocking(False)
    return SlowClient(kind, s, script)


class Crowd:
    """Many slow clients, trickled together."""

    def __init__(self):
        self.clients = []

    def open(self, kind, port, count, sni="localhost"):
        for _ in range(count):
            try:
                self.clients.append(open_client(kind, port, sni))
            except (OSError, ssl.SSLError) as e:
                # Over a full listener the server may close a new connection at once (the
                # old behaviour); count it as a client the server closed immediately.
                c = SlowClient(kind, socket.socket(), b"")
                c.error = e
                c.mark_closed()
                self.clients.append(c)
        return self

    def trickle(self):
        for c in self.clients:
            c.trickle()

    def poll(self):
        """Notices closed clients; returns how many are still open."""
        open_ = [c for c in self.clients if c.closed_at is None]
        if open_:
            # select() handles at most FD_SETSIZE descriptors: poll instead.
            by_fd = {c.fileno(): c for c in open_}
            p = select.poll()
            for fd in by_fd:
                p.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
            for fd, _ in p.poll(0):
                by_fd[fd].poll_closed()
        return sum(1 for c in self.clients if c.closed_at is None)

    def run(self, seconds, interval):
        """Trickles every `interval` seconds for `seconds`, polling for closes in between."""
        end = time.monotonic() + seconds
        next_trickle = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_trickle:
                self.trickle()
                next_trickle += interval
            self.poll()
            time.sleep(0.02)

    def open_count(self, kind=None):
        return sum(1 for c in self.clients if c.closed_at is None and (kind is None or c.kind == kind))

    def close(self):
        for c in self.clients:
            c.close()
        self.clients = []
