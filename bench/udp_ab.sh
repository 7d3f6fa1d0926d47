#!/usr/bin/env bash
# Benchmark (not a test): two dnslab-resolver binaries side by side on UDP cache hits, runs
# alternating (A, B, A, B, ...), server pinned to BENCH_SERVER_CPU and dnsperf to
# BENCH_LOAD_CPU as in bench/lib.sh; prints both servers' median qps and queries per server
# CPU-second. On a shared, noisy machine this reads a change off more reliably than two
# separate runs of policy_transports.sh: drifting load hits both binaries alike.
#
# Usage: bench/udp_ab.sh BINARY_A BINARY_B [policy]
#   policy: both load the 500-rule + 1,000,000-name export of bench/policy_transports.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf python3
[ $# -ge 2 ] || bench_die "usage: bench/udp_ab.sh BINARY_A BINARY_B [policy]"
A="$1"
B="$2"
MODE="${3:-nopolicy}"
[ -x "$A" ] && [ -x "$B" ] || bench_die "both binaries must exist"
bench_init "$BENCH_ROOT/build-bench" # the work directory and cleanup; A and B are started below
FIX="$BENCH_ROOT/fixtures"
ARGS=()
if [ "$MODE" = policy ]; then
    mkdir -p "$BENCH_WORK/export"
    python3 "$BENCH_ROOT/bench/gen_policy_export.py" "$FIX" "$BENCH_WORK/export" 500 1000000
    EX="$BENCH_WORK/export"
    ARGS=(--rules "$EX/rules.json" --lists "$EX/lists.json" --locations "$EX/locations.json"
        --categories "$EX/categories.csv")
fi
# The allowed, fixture-answered names of policy_transports.sh.
for n in www.example.com mail.example.com mail2.example.com chain1.example.com example.com \
    edge.example.net www.example.net ns1.example.com sip.example.com ipv6only.example.com \
    nudity.testcategory.com login.testcategory.com intranet.example.net cdn.example.net; do
    echo "$n A"
    echo "$n AAAA"
done >"$BENCH_WORK/queries"

# start NAME BINARY PORT
start() {
    RESOLVER="$2" bench_start_dnslab "$1" server --listen "udp://127.0.0.1:$3" \
        --upstream "fixture:$FIX/zones" "${ARGS[@]}"
}
PORT_A=$(bench_port)
start a "$A" "$PORT_A"
PID_A=$BENCH_LAST_PID
PORT_B=$(bench_port)
start b "$B" "$PORT_B"
PID_B=$BENCH_LAST_PID
# run PID PORT SECONDS: "QPS Q/CPU-S LOST%"
run() {
    bench_dnsperf "$1" -s 127.0.0.1 -p "$2" -d "$BENCH_WORK/queries" -c "${BENCH_CLIENTS:-8}" \
        -q "${BENCH_OUTSTANDING:-500}" -l "$3"
}
run "$PID_A" "$PORT_A" "$BENCH_WARM_SECS" >/dev/null
run "$PID_B" "$PORT_B" "$BENCH_WARM_SECS" >/dev/null
qa=() qb=() ca=() cb=()
for _ in $(seq 1 "$BENCH_RUNS"); do
    read -r q c _ < <(run "$PID_A" "$PORT_A" "$BENCH_SECS")
    qa+=("$q") ca+=("$c")
    read -r q c _ < <(run "$PID_B" "$PORT_B" "$BENCH_SECS")
    qb+=("$q") cb+=("$c")
done
echo "== $(date -u +%Y-%m-%dT%H:%MZ), UDP cache hits ($MODE), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A = $A"
echo "B = $B"
printf '%-4s %10s %10s\n' "" "qps" "q/cpu-s"
printf '%-4s %10.0f %10.0f\n' A "$(bench_median "${qa[@]}")" "$(bench_median "${ca[@]}")"
printf '%-4s %10.0f %10.0f\n' B "$(bench_median "${qb[@]}")" "$(bench_median "${cb[@]}")"
echo "B/A q/cpu-s: $(bench_ratio "$(bench_median "${cb[@]}")" "$(bench_median "${ca[@]}")")"
echo "runs q/cpu-s: A [${ca[*]}] B [${cb[*]}]"
