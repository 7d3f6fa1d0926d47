#!/usr/bin/env bash
# Benchmark (not a test), issue 14: dnslab-resolver --workers 1 against --workers 2, cache
# hits over UDP and DoT with dnsperf, runs alternating. Both resolvers run unpinned (a
# worker loop per core is the point), dnsperf pinned to $BENCH_LOAD_CPU as in every bench
# script; so on a 2-core machine the second worker shares its core with the load generator
# and little qps gain is to be expected. Prints qps and queries per server CPU-second
# (every thread of the process) for both, and the ratios (2 workers / 1 worker).
#
# Usage: bench/workers.sh [BUILD_DIR]   (default build-bench, a release build)
# Knobs (environment, besides bench/lib.sh's): BENCH_CLIENTS (8), BENCH_OUTSTANDING (500),
# BENCH_WORKERS (2: the worker count compared with 1).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf python3 dig
bench_init "${1:-$BENCH_ROOT/build-bench}"
CLIENTS="${BENCH_CLIENTS:-8}"
OUTSTANDING="${BENCH_OUTSTANDING:-500}"
WORKERS="${BENCH_WORKERS:-2}"
FIX="$BENCH_ROOT/fixtures"
PIN_SERVER=() # both resolvers may use every core

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench_query_mix "$BENCH_WORK/queries"

start() { # NAME WORKERS: a resolver on UDP and DoT, its UDP port and DoT port in NAME_UDP/NAME_DOT
    local name="$1" n="$2" port
    port=$(bench_port)
    bench_start_dnslab "$name" server --workers "$n" --listen "udp://127.0.0.1:$port" \
        --listen "tls://127.0.0.1:0" --upstream "fixture:$FIX/zones"
    local dot
    dot=$(bench_ready_url "$name" tls)
    printf -v "${name}_PID" '%s' "$BENCH_LAST_PID"
    printf -v "${name}_UDP" '%s' "$port"
    printf -v "${name}_DOT" '%s' "${dot##*:}"
    [ "$(dig +short +tries=1 +time=2 -p "$port" @127.0.0.1 www.example.com A)" = 192.0.2.10 ] ||
        bench_die "$name does not answer"
}
start one 1
start many "$WORKERS"

one() { # KIND PID PORT SECONDS
    bench_dnsperf "$2" -s 127.0.0.1 -m "$1" -d "$BENCH_WORK/queries" -c "$CLIENTS" \
        -q "$OUTSTANDING" -p "$3" -l "$4" | awk '{print $1, $2}'
}
declare -A Q1 C1 QN CN
for kind in udp dot; do
    if [ "$kind" = udp ]; then p1=$one_UDP pn=$many_UDP; else p1=$one_DOT pn=$many_DOT; fi
    one "$kind" "$one_PID" "$p1" "$BENCH_WARM_SECS" >/dev/null
    one "$kind" "$many_PID" "$pn" "$BENCH_WARM_SECS" >/dev/null
    for _ in $(seq 1 "$BENCH_RUNS"); do
        read -r q c < <(one "$kind" "$one_PID" "$p1" "$BENCH_SECS")
        Q1[$kind]="${Q1[$kind]:-} $q" C1[$kind]="${C1[$kind]:-} $c"
        read -r q c < <(one "$kind" "$many_PID" "$pn" "$BENCH_SECS")
        QN[$kind]="${QN[$kind]:-} $q" CN[$kind]="${CN[$kind]:-} $c"
    done
done

echo
echo "dnslab --workers $WORKERS vs --workers 1, no policy, cache hits; dnsperf -c $CLIENTS -q $OUTSTANDING."
echo "median of $BENCH_RUNS runs x ${BENCH_SECS}s each; q/cpu-s = answers per CPU-second of the server (all threads)"
printf '%-6s %10s %10s %6s | %10s %10s %6s\n' "" "1 worker" "$WORKERS workers" "ratio" "1 worker" "$WORKERS workers" "ratio"
printf '%-6s %10s %10s %6s | %10s %10s %6s\n' "" "qps" "qps" "" "q/cpu-s" "q/cpu-s" ""
for kind in udp dot; do
    # shellcheck disable=SC2086
    a=$(bench_median ${Q1[$kind]}) b=$(bench_median ${QN[$kind]})
    # shellcheck disable=SC2086
    c=$(bench_median ${C1[$kind]}) d=$(bench_median ${CN[$kind]})
    printf '%-6s %10.0f %10.0f %6s | %10.0f %10.0f %6s\n' "$kind" "$a" "$b" "$(bench_ratio "$b" "$a")" \
        "$c" "$d" "$(bench_ratio "$d" "$c")"
    [ -z "${BENCH_VERBOSE:-}" ] || echo "    runs: qps [${Q1[$kind]}] [${QN[$kind]}] q/cpu-s [${C1[$kind]}] [${CN[$kind]}]"
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
