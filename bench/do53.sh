#!/usr/bin/env bash
# Benchmark (not a test): dnsperf against dnslab-resolver and against dnsdist (Debian's,
# with its packet cache), side by side, UDP and TCP, cache hits, one worker thread each.
# dnsdist forwards to a second dnslab-resolver serving the fixture zones, so both answer the
# same data; after the warm-up every answer is a cache hit in both.
# Usage: bench/do53.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
SECS="${2:-10}"
RESOLVER="$BUILD/resolver/dnslab-resolver"
W="$(mktemp -d /tmp/dnslab-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start_dnslab() { # name upstream -> prints udp port
  "$RESOLVER" --listen udp://127.0.0.1:0 --listen tcp://127.0.0.1:0 --upstream "$2" --ready-file "$W/$1.ready" >/dev/null 2>"$W/$1.err" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$W/$1.ready" ] && break; sleep 0.05; done
  head -1 "$W/$1.ready" | sed 's/.*://'
}

BACKEND=$(start_dnslab backend "fixture:$ROOT/fixtures/zones")
LAB=$(start_dnslab lab "fixture:$ROOT/fixtures/zones")
DD=$(port)
cat > "$W/dnsdist.conf" <<CONF
setLocal('127.0.0.1:$DD')
setMaxTCPClientThreads(1)
newServer({address='127.0.0.1:$BACKEND', healthCheckMode='up'})
pc = newPacketCache(100000, {maxTTL=86400, minTTL=0})
getPool(''):setCache(pc)
CONF
dnsdist --supervised --disable-syslog -C "$W/dnsdist.conf" >"$W/dnsdist.log" 2>&1 &
pids+=($!)
sleep 1

# Query mix: names from the fixture zones, all answerable, repeated: cache hits after warm-up.
for n in www.example.com mail.example.com alias.example.com chain1.example.com example.com \
         edge.example.net www.example.net malware.testcategory.com phishing.testcategory.com \
         ipv6only.example.com; do
  echo "$n A"; echo "$n AAAA"
done > "$W/queries"

run() { # port mode -> qps
  dnsperf -s 127.0.0.1 -p "$1" -m "$2" -d "$W/queries" -l 1 -c 4 -q 200 >/dev/null 2>&1 || true  # warm the caches
  dnsperf -s 127.0.0.1 -p "$1" -m "$2" -d "$W/queries" -l "$SECS" -c 8 -q 500 2>/dev/null |
    awk '/Queries per second/ {print $4}'
}

printf '%-6s %14s %14s %8s\n' proto "dnslab qps" "dnsdist qps" ratio
for mode in udp tcp; do
  a=$(run "$LAB" $mode); b=$(run "$DD" $mode)
  printf '%-6s %14s %14s %8s\n' "$mode" "$a" "$b" "$(python3 -c "print(f'{float(\"$a\" or 0)/max(float(\"$b\" or 1),1):.2f}')")"
done
