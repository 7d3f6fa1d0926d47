#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measurement (not a test): how long a well-behaved client waits for an answer while N slow
clients per listener trickle one byte every few seconds (issue 12, "slow TLS clients lock
everyone out"). Starts one dnslab-resolver with dns://, tls:// and https:// listeners on
loopback, opens the crowd (mixed kinds from tests/integration/slow_clients.py), then every few
seconds times kdig over TCP, DoT and DoH and curl over HTTP/2 and HTTP/1.1 (each with a 5 s
cap), and prints one line per round.

Usage: bench/slow_clients.py [BUILD_DIR] [--per-listener N] [--rounds R] [--interval S]
       [--config TOML_TEXT]
"""
import argparse
import base64
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
import slow_clients  # noqa: E402


def timed(cmd, ok):
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    took = time.monotonic() - start
    return f"{took:5.2f}s" if ok(p) else f"FAIL({took:4.1f}s)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--per-listener", type=int, default=1030)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--interval", type=float, default=4.0, help="seconds between trickled bytes")
    ap.add_argument("--config", default="", help="extra TOML for the resolver")
    args = ap.parse_args()

    os.environ["DNSLAB_BUILD_ROOT"] = args.build
    os.environ.setdefault("DNSLAB_RESOLVER", os.path.join(args.build, "resolver/dnslab-resolver"))
    import harness  # reads the environment above

    slow_clients.raise_fd_limit(4 * args.per_listener + 512)
    res = harness.Resolver(listen=("dns://127.0.0.1:0", "tls://127.0.0.1:0",
                                   "https://127.0.0.1:0/dns-query"), config=args.config or None)
    try:
        tcp = res.addr("tcp")[1]
        dot = res.addr("tls")[1]
        doh = res.addr("https")[1]
        ca = res.ca_file()
        n = args.per_listener
        crowd = slow_clients.Crowd()
        t0 = time.monotonic()
        crowd.open("tcp", tcp, n)
        crowd.open("hello", dot, n - 30).open("dot", dot, 30)
        per = 10
        crowd.open("hello", doh, n - 3 * per).open("h1", doh, per).open("h2frame", doh, per)
        crowd.open("h2stream", doh, per)
        print(f"opened {len(crowd.clients)} slow clients in {time.monotonic() - t0:.1f}s "
              f"({n} per listener, one byte every {args.interval:g}s)")

        stop = threading.Event()

        def trickle():
            nxt = time.monotonic()
            while not stop.is_set():
                if time.monotonic() >= nxt:
                    crowd.trickle()
                    nxt += args.interval
                crowd.poll()
                time.sleep(0.05)

        th = threading.Thread(target=trickle, daemon=True)
        th.start()
        q = base64.urlsafe_b64encode(slow_clients.dns_query(qid=0)).rstrip(b"=").decode()
        url = f"https://localhost:{doh}/dns-query?dns={q}"
        kd = ["kdig", "@127.0.0.1", "+retry=0", "+time=5", "+short"]
        tls = [f"+tls-ca={ca}", "+tls-hostname=localhost"]
        curl = ["curl", "-sS", "--max-time", "5", "--cacert", ca, "--resolve",
                f"localhost:{doh}:127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}"]
        answered = lambda p: "192.0.2.10" in p.stdout
        http_ok = lambda p: p.stdout.strip() == "200"
        print("round  t(s)  open   tcp      dot      doh(kdig) curl-h2  curl-h1.1")
        for r in range(args.rounds):
            t = time.monotonic() - t0
            row = [timed(kd + ["-p", str(tcp), "+tcp", "www.example.com"], answered),
                   timed(kd + ["-p", str(dot), "+tls"] + tls + ["www.example.com"], answered),
                   timed(kd + ["-p", str(doh), "+https"] + tls + ["www.example.com"], answered),
                   timed(curl + ["--http2", url], http_ok),
                   timed(curl + ["--http1.1", url], http_ok)]
            print(f"{r:5d} {t:5.1f} {crowd.open_count():5d}   " + "  ".join(row), flush=True)
            time.sleep(args.interval)
        stop.set()
        th.join()
        crowd.close()
    finally:
        res.__exit__(None, None, None)


if __name__ == "__main__":
    main()
