#!/usr/bin/env bash
# Benchmark (not a test), issue 14: heap allocations per UDP cache hit of a running
# dnslab-resolver, without policy and with the 500-rule + 1,000,000-name export of
# bench/policy_transports.sh. The resolver runs with bench/alloc/alloc_count.cpp preloaded
# (every malloc/calloc/realloc/memalign counted, whole process); after a warm-up run that
# fills the answer and decision caches, the counter is read (SIGUSR2), dnsperf sends the
# query file exactly BENCH_ALLOC_PASSES times at a moderate rate, the counter is read again,
# and the difference is divided by the answers received. Each query is answered from the
# cache (the names are lib.sh's bench_allowed_queries, as in policy_transports.sh).
#
# Usage: bench/udp_allocs.sh [BUILD_DIR]   (default build-bench)
# Knobs: BENCH_ALLOC_PASSES (2000 passes over the 28-query file), BENCH_RULES, BENCH_LIST.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf python3
bench_init "${1:-$BENCH_ROOT/build-bench}"
PRELOAD="$BENCH_BUILD/bench/alloc_count.so"
[ -f "$PRELOAD" ] || bench_die "$PRELOAD missing: ninja -C $BENCH_BUILD bench/alloc_count.so"
PASSES="${BENCH_ALLOC_PASSES:-2000}"
FIX="$BENCH_ROOT/fixtures"

mkdir -p "$BENCH_WORK/export"
python3 "$BENCH_ROOT/bench/gen_policy_export.py" "$FIX" "$BENCH_WORK/export" \
    "${BENCH_RULES:-500}" "${BENCH_LIST:-1000000}"
bench_allowed_queries "$BENCH_WORK/queries"
NQ=$(wc -l <"$BENCH_WORK/queries")

# count NAME: the counter file's last value.
count() { awk '/^allocs/ {v = $2} END {print v + 0}' "$BENCH_WORK/$1.allocs"; }

# measure NAME ARGS...: allocations per answered query of a resolver started with ARGS.
measure() {
    local name="$1"
    shift
    local port
    port=$(bench_port)
    ALLOC_COUNT_FILE="$BENCH_WORK/$name.allocs" LD_PRELOAD="$(realpath "$PRELOAD")" \
        bench_start_dnslab "$name" server --listen "udp://127.0.0.1:$port" \
        --upstream "fixture:$FIX/zones" "$@"
    local pid=$BENCH_LAST_PID
    "${PIN_LOAD[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$BENCH_WORK/queries" -n 20 -q 20 \
        >/dev/null 2>&1 || true
    sleep 0.5
    kill -USR2 "$pid"
    sleep 0.5
    local c0 c1 out done
    c0=$(count "$name")
    out=$("${PIN_LOAD[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$BENCH_WORK/queries" -n "$PASSES" \
        -q 50 -c 4 2>&1) || true
    sleep 0.5
    kill -USR2 "$pid"
    sleep 0.5
    c1=$(count "$name")
    done=$(awk '/Queries completed/ {print $3}' <<<"$out")
    awk -v a="$c0" -v b="$c1" -v n="$done" -v sent=$((PASSES * NQ)) -v name="$name" \
        'BEGIN {printf "%-10s %8d answers of %d sent, %10d allocations, %.2f per answer\n",
                name, n, sent, b - a, (n > 0 ? (b - a) / n : 0)}'
}

EX="$BENCH_WORK/export"
echo "== $(date -u +%Y-%m-%dT%H:%MZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
measure nopolicy
measure policy --rules "$EX/rules.json" --lists "$EX/lists.json" --locations "$EX/locations.json" \
    --categories "$EX/categories.csv"
