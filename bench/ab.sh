#!/usr/bin/env bash
# Benchmark (not a test): two dnslab-resolver binaries side by side on cache hits over one
# transport, runs alternating (A, B, A, B, ...), server pinned to BENCH_SERVER_CPU and the load
# generator to BENCH_LOAD_CPU as in bench/lib.sh; prints both servers' median qps and queries
# per server CPU-second. On a shared, noisy machine this reads a change off more reliably than
# two separate runs of policy_transports.sh: drifting load hits both binaries alike.
#
# Usage: bench/ab.sh BINARY_A BINARY_B [policy|nopolicy] [udp|tcp|dot|doh]
#   policy: both load the 500-rule + 1,000,000-name export of bench/policy_transports.sh.
#   udp, tcp, dot: dnsperf -m KIND -c BENCH_CLIENTS -q BENCH_OUTSTANDING (default udp);
#   doh: h2load -c BENCH_CLIENTS -m BENCH_STREAMS GETs of one query (lib.sh's bench_doh_param).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf python3 dig
[ $# -ge 2 ] || bench_die "usage: bench/ab.sh BINARY_A BINARY_B [policy|nopolicy] [udp|tcp|dot|doh]"
A="$1"
B="$2"
MODE="${3:-nopolicy}"
KIND="${4:-udp}"
case $MODE in policy | nopolicy) ;; *) bench_die "mode '$MODE': policy or nopolicy" ;; esac
case $KIND in udp | tcp | dot) ;; doh) bench_need h2load ;; *) bench_die "transport '$KIND': udp, tcp, dot or doh" ;; esac
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
bench_allowed_queries "$BENCH_WORK/queries"
DNS_PARAM=$(bench_doh_param)

# start NAME BINARY: starts one server with the listener of KIND; sets TARGET_<NAME> to its
# port (dnsperf) or URL (h2load).
start() {
    local listen
    case $KIND in
    udp | tcp) listen="$KIND://127.0.0.1:$(bench_port)" ;;
    dot) listen="tls://127.0.0.1:0" ;;
    doh) listen="https://127.0.0.1:0/dns-query" ;;
    esac
    RESOLVER="$2" bench_start_dnslab "$1" server --listen "$listen" \
        --upstream "fixture:$FIX/zones" "${ARGS[@]}"
    local url
    url=$(bench_ready_url "$1" "${listen%%://*}")
    if [ "$KIND" = doh ]; then
        printf -v "TARGET_$1" '%s' "$url?dns=$DNS_PARAM"
    else
        url=${url##*:}
        printf -v "TARGET_$1" '%s' "${url%%/*}"
    fi
}
start a "$A"
PID_A=$BENCH_LAST_PID
start b "$B"
PID_B=$BENCH_LAST_PID
# run PID TARGET SECONDS: "QPS Q/CPU-S"
run() {
    if [ "$KIND" = doh ]; then
        bench_h2load "$1" "$2" "$3" -c "${BENCH_CLIENTS:-8}" -m "${BENCH_STREAMS:-32}"
    else
        bench_dnsperf "$1" -s 127.0.0.1 -m "$KIND" -p "$2" -d "$BENCH_WORK/queries" \
            -c "${BENCH_CLIENTS:-8}" -q "${BENCH_OUTSTANDING:-500}" -l "$3" | awk '{print $1, $2}'
    fi
}
[ "$KIND" != udp ] || [ "$MODE" != policy ] || bench_check_allowed "$TARGET_a" "$BENCH_WORK/queries"
run "$PID_A" "$TARGET_a" "$BENCH_WARM_SECS" >/dev/null
run "$PID_B" "$TARGET_b" "$BENCH_WARM_SECS" >/dev/null
qa=() qb=() ca=() cb=()
for _ in $(seq 1 "$BENCH_RUNS"); do
    read -r q c < <(run "$PID_A" "$TARGET_a" "$BENCH_SECS")
    qa+=("$q") ca+=("$c")
    read -r q c < <(run "$PID_B" "$TARGET_b" "$BENCH_SECS")
    qb+=("$q") cb+=("$c")
done
echo "== $(date -u +%Y-%m-%dT%H:%MZ), $KIND cache hits ($MODE), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A = $A"
echo "B = $B"
printf '%-4s %10s %10s\n' "" "qps" "q/cpu-s"
printf '%-4s %10.0f %10.0f\n' A "$(bench_median "${qa[@]}")" "$(bench_median "${ca[@]}")"
printf '%-4s %10.0f %10.0f\n' B "$(bench_median "${qb[@]}")" "$(bench_median "${cb[@]}")"
echo "B/A q/cpu-s: $(bench_ratio "$(bench_median "${cb[@]}")" "$(bench_median "${ca[@]}")")"
echo "runs q/cpu-s: A [${ca[*]}] B [${cb[*]}]"
