#!/usr/bin/env bash
# Benchmark (not a test), issue 14: heap allocations per DoH GET cache hit of a running
# dnslab-resolver (HTTP/2, lib.sh's one fixed ?dns= query), without policy and with the
# 500-rule + 1,000,000-name export of bench/policy_transports.sh. As bench/udp_allocs.sh: the
# resolver runs with bench/alloc/alloc_count.cpp preloaded (every malloc/calloc/realloc/
# memalign of the process counted); after a warm-up that fills the caches, the counter is read
# (SIGUSR2), h2load sends BENCH_ALLOC_REQUESTS GETs on one connection (-m 32), the counter is
# read again, and the difference is divided by the 2xx answers. The connection's TLS handshake
# and session set-up are in the count, spread over all the requests.
#
# Usage: bench/doh_allocs.sh [BUILD_DIR]   (default build-bench)
# Knobs: BENCH_ALLOC_REQUESTS (50000), BENCH_RULES, BENCH_LIST, BENCH_RESOLVER (another
# dnslab-resolver binary to count, e.g. a copy of main's, instead of BUILD_DIR's).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need h2load python3
bench_init "${1:-$BENCH_ROOT/build-bench}"
RESOLVER="${BENCH_RESOLVER:-$RESOLVER}"
PRELOAD="$BENCH_BUILD/bench/alloc_count.so"
[ -f "$PRELOAD" ] || bench_die "$PRELOAD missing: ninja -C $BENCH_BUILD bench/alloc_count.so"
REQUESTS="${BENCH_ALLOC_REQUESTS:-50000}"
FIX="$BENCH_ROOT/fixtures"
DNS_PARAM=$(bench_doh_param)

mkdir -p "$BENCH_WORK/export"
python3 "$BENCH_ROOT/bench/gen_policy_export.py" "$FIX" "$BENCH_WORK/export" \
    "${BENCH_RULES:-500}" "${BENCH_LIST:-1000000}"

# count NAME: the counter file's last value.
count() { awk '/^allocs/ {v = $2} END {print v + 0}' "$BENCH_WORK/$1.allocs"; }

# measure NAME ARGS...: allocations per answered GET of a resolver started with ARGS.
measure() {
    local name="$1"
    shift
    ALLOC_COUNT_FILE="$BENCH_WORK/$name.allocs" LD_PRELOAD="$(realpath "$PRELOAD")" \
        bench_start_dnslab "$name" server --listen "https://127.0.0.1:0/dns-query" \
        --upstream "fixture:$FIX/zones" "$@"
    local pid=$BENCH_LAST_PID url
    url="$(bench_ready_url "$name" https)?dns=$DNS_PARAM"
    "${PIN_LOAD[@]}" h2load -c 1 -m 32 -n 1000 "$url" >/dev/null 2>&1 || true
    sleep 0.5
    kill -USR2 "$pid"
    sleep 0.5
    local c0 c1 out
    c0=$(count "$name")
    out=$("${PIN_LOAD[@]}" h2load -c 1 -m 32 -n "$REQUESTS" "$url" 2>&1) || true
    sleep 0.5
    kill -USR2 "$pid"
    sleep 0.5
    c1=$(count "$name")
    awk -v a="$c0" -v b="$c1" -v sent="$REQUESTS" -v name="$name" '
        /^status codes:/ {n = $3}
        END {printf "%-10s %8d answers of %d sent, %10d allocations, %.2f per answer\n",
                name, n, sent, b - a, (n > 0 ? (b - a) / n : 0)}' <<<"$out"
}

EX="$BENCH_WORK/export"
echo "== $(date -u +%Y-%m-%dT%H:%MZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
measure nopolicy
measure policy --rules "$EX/rules.json" --lists "$EX/lists.json" --locations "$EX/locations.json" \
    --categories "$EX/categories.csv"
