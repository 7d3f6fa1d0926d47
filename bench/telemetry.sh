#!/usr/bin/env bash
# Benchmark (not a test): what --metrics and --dnstap cost on the hot path. dnsperf sends
# Do53 UDP cache hits to three dnslab-resolvers started alike except for telemetry: none,
# --metrics, and --metrics plus --dnstap (file:/dev/null, so the encoding, the queue and
# fstrm's I/O thread are measured, not a disk). Each server, I/O thread included, is pinned
# to the same CPU; runs are interleaved; the median qps and its ratio to the plain server
# are printed, with the dnstap frames dropped on a full queue.
#
# Usage: bench/telemetry.sh [BUILD_DIR]
# Knobs: BENCH_RUNS (5), BENCH_SECS (3), BENCH_CLIENTS (8), BENCH_OUTSTANDING (500),
# BENCH_SERVER_CPU/BENCH_LOAD_CPU (0/1). See docs/benchmarks.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf python3 curl
bench_init "${1:-$BENCH_ROOT/build-bench}"
CLIENTS="${BENCH_CLIENTS:-8}"
OUTSTANDING="${BENCH_OUTSTANDING:-500}"

# start NAME ARGS...: a resolver on a fresh UDP port ($PORT) with ARGS; pid in $BENCH_LAST_PID.
start() {
    local name="$1"
    shift
    PORT=$(bench_port)
    bench_start_dnslab "$name" server --listen "udp://127.0.0.1:$PORT" \
        --upstream "fixture:$BENCH_ROOT/fixtures/zones" "$@"
}
start plain
PLAIN_PORT=$PORT PLAIN_PID=$BENCH_LAST_PID
start metrics --metrics http://127.0.0.1:0/metrics
METRICS_PORT=$PORT METRICS_PID=$BENCH_LAST_PID
start both --metrics http://127.0.0.1:0/metrics --dnstap file:/dev/null
BOTH_PORT=$PORT BOTH_PID=$BENCH_LAST_PID

bench_query_mix "$BENCH_WORK/queries"
args=(-s 127.0.0.1 -m udp -d "$BENCH_WORK/queries" -c "$CLIENTS" -q "$OUTSTANDING")
for s in "$PLAIN_PID:$PLAIN_PORT" "$METRICS_PID:$METRICS_PORT" "$BOTH_PID:$BOTH_PORT"; do
    bench_dnsperf "${s%%:*}" "${args[@]}" -p "${s##*:}" -l "$BENCH_WARM_SECS" >/dev/null
done
plain=() metrics=() both=() plainc=() metricsc=() bothc=()
for _ in $(seq 1 "$BENCH_RUNS"); do
    read -r q c _ < <(bench_dnsperf "$PLAIN_PID" "${args[@]}" -p "$PLAIN_PORT" -l "$BENCH_SECS")
    plain+=("$q") plainc+=("$c")
    read -r q c _ < <(bench_dnsperf "$METRICS_PID" "${args[@]}" -p "$METRICS_PORT" -l "$BENCH_SECS")
    metrics+=("$q") metricsc+=("$c")
    read -r q c _ < <(bench_dnsperf "$BOTH_PID" "${args[@]}" -p "$BOTH_PORT" -l "$BENCH_SECS")
    both+=("$q") bothc+=("$c")
done
p=$(bench_median "${plain[@]}") pc=$(bench_median "${plainc[@]}")
m=$(bench_median "${metrics[@]}") mc=$(bench_median "${metricsc[@]}")
b=$(bench_median "${both[@]}") bc=$(bench_median "${bothc[@]}")
url=$(grep -m1 '^metrics ' "$BENCH_WORK/both.ready" | cut -d' ' -f2)
dropped=$(curl -s "$url" | awk '/^dnslab_dnstap_dropped_total\{reason="queue_full"\}/ {print $2}')
frames=$(curl -s "$url" | awk '/^dnslab_dnstap_frames_total/ {print $2}')
echo "Telemetry cost: Do53 UDP cache hits, dnsperf -c $CLIENTS -q $OUTSTANDING, median of $BENCH_RUNS x ${BENCH_SECS}s"
printf '%-22s %10s %6s | %10s %6s\n' "server" "qps" "ratio" "q/cpu-s" "ratio"
printf '%-22s %10.0f %6s | %10.0f %6s\n' "plain" "$p" "1.00" "$pc" "1.00"
printf '%-22s %10.0f %6s | %10.0f %6s\n' "--metrics" "$m" "$(bench_ratio "$m" "$p")" "$mc" \
    "$(bench_ratio "$mc" "$pc")"
printf '%-22s %10.0f %6s | %10.0f %6s\n' "--metrics --dnstap" "$b" "$(bench_ratio "$b" "$p")" \
    "$bc" "$(bench_ratio "$bc" "$pc")"
echo "dnstap frames written: $frames, dropped on a full queue: $dropped"
[ -z "${BENCH_VERBOSE:-}" ] || echo "    qps runs: plain [${plain[*]}] metrics [${metrics[*]}] both [${both[*]}]"
