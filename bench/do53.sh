#!/usr/bin/env bash
# Benchmark (not a test): dnsperf against dnslab-resolver and against dnsdist (Debian's,
# with its packet cache), side by side, Do53 UDP and TCP, cache hits, one core each.
# dnsdist forwards to a second dnslab-resolver serving the fixture zones, so both answer the
# same data; after the warm-up every answer is a cache hit in both.
#
# Usage: bench/do53.sh [BUILD_DIR]
# Knobs (environment): BENCH_RUNS (5), BENCH_SECS (3), BENCH_CLIENTS (8 connections/sockets),
# BENCH_OUTSTANDING (500 queries in flight), BENCH_TCP_SWEEP ("1:100 64:500": extra TCP rows
# as CLIENTS:OUTSTANDING pairs, "" for none), BENCH_SERVER_CPU/BENCH_LOAD_CPU (0/1).
# See docs/benchmarks.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf dnsdist python3
bench_init "${1:-$BENCH_ROOT/build-bench}"
CLIENTS="${BENCH_CLIENTS:-8}"
OUTSTANDING="${BENCH_OUTSTANDING:-500}"
TCP_SWEEP="${BENCH_TCP_SWEEP-1:100 64:500}"

bench_start_backend
LAB_PORT=$(bench_port)
bench_start_dnslab lab server --listen "udp://127.0.0.1:$LAB_PORT" --listen "tcp://127.0.0.1:$LAB_PORT" \
    --upstream "fixture:$BENCH_ROOT/fixtures/zones"
LAB_PID=$BENCH_LAST_PID

DD_PORT=$(bench_port)
cat >"$BENCH_WORK/dnsdist.conf" <<CONF
-- UDP and TCP on one port (addLocal/setLocal open both). dnsdist 1.7 starts one TCP worker
-- thread at start-up and more on demand up to this cap; one, like dnslab's single loop.
setLocal('127.0.0.1:$DD_PORT')
setMaxTCPClientThreads(1)
setMaxTCPConnectionsPerClient(0)
newServer({address='127.0.0.1:$BACKEND_PORT', checkInterval=3600})
pc = newPacketCache(100000, {maxTTL=86400, minTTL=0})
getPool(''):setCache(pc)
CONF
bench_start_dnsdist "$BENCH_WORK/dnsdist.conf" "$DD_PORT"
DD_PID=$BENCH_LAST_PID

bench_query_mix "$BENCH_WORK/queries"

# measure LABEL MODE CLIENTS OUTSTANDING: warm-up then interleaved runs; prints one row.
measure() {
    local label="$1" mode="$2" c="$3" q="$4" r
    local -a lab=() dd=() labc=() ddc=()
    local -a args=(-s 127.0.0.1 -m "$mode" -d "$BENCH_WORK/queries" -c "$c" -q "$q")
    bench_dnsperf "$LAB_PID" "${args[@]}" -p "$LAB_PORT" -l "$BENCH_WARM_SECS" >/dev/null
    bench_dnsperf "$DD_PID" "${args[@]}" -p "$DD_PORT" -l "$BENCH_WARM_SECS" >/dev/null
    for _ in $(seq 1 "$BENCH_RUNS"); do
        read -r qps qcpu _ < <(bench_dnsperf "$LAB_PID" "${args[@]}" -p "$LAB_PORT" -l "$BENCH_SECS")
        lab+=("$qps"); labc+=("$qcpu")
        read -r qps qcpu _ < <(bench_dnsperf "$DD_PID" "${args[@]}" -p "$DD_PORT" -l "$BENCH_SECS")
        dd+=("$qps"); ddc+=("$qcpu")
    done
    bench_row "$label" "${lab[*]}" "${dd[*]}" "${labc[*]}" "${ddc[*]}"
}

echo "Do53: dnsperf -c $CLIENTS -q $OUTSTANDING, server on CPU $BENCH_SERVER_CPU, dnsperf on CPU $BENCH_LOAD_CPU"
bench_header
measure "udp c$CLIENTS q$OUTSTANDING" udp "$CLIENTS" "$OUTSTANDING"
measure "tcp c$CLIENTS q$OUTSTANDING" tcp "$CLIENTS" "$OUTSTANDING"
for point in $TCP_SWEEP; do
    measure "tcp c${point%%:*} q${point##*:}" tcp "${point%%:*}" "${point##*:}"
done
