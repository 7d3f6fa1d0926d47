#!/usr/bin/env bash
# Benchmark (not a test): DoT (dnsperf -m dot) and DoH (h2load, GET with a fixed ?dns= query)
# against dnslab-resolver and against dnsdist (Debian's, addTLSLocal/addDOHLocal, packet
# cache), side by side, caches warm, one core each. dnsdist forwards to a second
# dnslab-resolver serving the fixture zones, so both answer the same data.
#
# Certificates: dnslab uses its lab CA leaf (EC P-256); dnsdist gets a self-signed EC P-256
# certificate made here with the openssl CLI, so both do the same signature work. Neither
# load generator verifies certificates; connections are long-lived, so handshakes are a
# negligible part of a run.
#
# Usage: bench/dot_doh.sh [BUILD_DIR]
# Knobs (environment): BENCH_RUNS (5), BENCH_SECS (3), BENCH_CLIENTS (8 connections),
# BENCH_OUTSTANDING (500 DoT queries in flight over all connections), BENCH_STREAMS (32
# concurrent h2 streams per DoH connection), BENCH_SERVER_CPU/BENCH_LOAD_CPU (0/1).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf h2load dnsdist openssl python3
bench_init "${1:-$BENCH_ROOT/build-bench}"
CLIENTS="${BENCH_CLIENTS:-8}"
OUTSTANDING="${BENCH_OUTSTANDING:-500}"
STREAMS="${BENCH_STREAMS:-32}"

bench_start_backend
bench_start_dnslab lab server --listen "tls://127.0.0.1:0" --listen "https://127.0.0.1:0/dns-query" \
    --upstream "fixture:$BENCH_ROOT/fixtures/zones"
LAB_PID=$BENCH_LAST_PID
LAB_DOT=$(bench_ready_url lab tls)
LAB_DOT_PORT=${LAB_DOT##*:}
LAB_DOH=$(bench_ready_url lab https)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=dnsdist.bench" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$BENCH_WORK/dd.key" -out "$BENCH_WORK/dd.crt" \
    >/dev/null 2>&1 || bench_die "openssl could not make the dnsdist certificate"
DD_DOT_PORT=$(bench_port)
DD_DOH_PORT=$(bench_port)
cat >"$BENCH_WORK/dnsdist.conf" <<CONF
-- No plain Do53 frontend (setLocal would bind :53); only DoT and DoH. dnsdist 1.7 handles
-- DoT in its TCP worker threads (capped at one, like dnslab's single loop) and DoH in one
-- h2o thread per frontend.
setLocal('127.0.0.1:$(bench_port)')
setMaxTCPClientThreads(1)
setMaxTCPConnectionsPerClient(0)
addTLSLocal('127.0.0.1:$DD_DOT_PORT', '$BENCH_WORK/dd.crt', '$BENCH_WORK/dd.key')
addDOHLocal('127.0.0.1:$DD_DOH_PORT', '$BENCH_WORK/dd.crt', '$BENCH_WORK/dd.key', '/dns-query')
newServer({address='127.0.0.1:$BACKEND_PORT', checkInterval=3600})
pc = newPacketCache(100000, {maxTTL=86400, minTTL=0})
getPool(''):setCache(pc)
CONF
bench_start_dnsdist "$BENCH_WORK/dnsdist.conf" "$DD_DOT_PORT" "$DD_DOH_PORT"
DD_PID=$BENCH_LAST_PID
DD_DOH="https://127.0.0.1:$DD_DOH_PORT/dns-query"

bench_query_mix "$BENCH_WORK/queries"
DNS_PARAM=$(bench_doh_param)

# Sanity: both DoH endpoints answer 200 with a DNS message (set-up failure otherwise).
for url in "$LAB_DOH" "$DD_DOH"; do
    code=$(curl -sk -o "$BENCH_WORK/doh.out" -w '%{http_code}' "$url?dns=$DNS_PARAM" || true)
    [ "$code" = 200 ] && [ -s "$BENCH_WORK/doh.out" ] || bench_die "DoH GET $url answered HTTP '$code'"
done

measure_dot() {
    local r qps qcpu
    local -a lab=() dd=() labc=() ddc=()
    local -a args=(-s 127.0.0.1 -m dot -d "$BENCH_WORK/queries" -c "$CLIENTS" -q "$OUTSTANDING")
    bench_dnsperf "$LAB_PID" "${args[@]}" -p "$LAB_DOT_PORT" -l "$BENCH_WARM_SECS" >/dev/null
    bench_dnsperf "$DD_PID" "${args[@]}" -p "$DD_DOT_PORT" -l "$BENCH_WARM_SECS" >/dev/null
    for _ in $(seq 1 "$BENCH_RUNS"); do
        read -r qps qcpu _ < <(bench_dnsperf "$LAB_PID" "${args[@]}" -p "$LAB_DOT_PORT" -l "$BENCH_SECS")
        lab+=("$qps"); labc+=("$qcpu")
        read -r qps qcpu _ < <(bench_dnsperf "$DD_PID" "${args[@]}" -p "$DD_DOT_PORT" -l "$BENCH_SECS")
        dd+=("$qps"); ddc+=("$qcpu")
    done
    bench_row "dot c$CLIENTS q$OUTSTANDING" "${lab[*]}" "${dd[*]}" "${labc[*]}" "${ddc[*]}"
}

measure_doh() {
    local qps qcpu
    local -a H2=(-c "$CLIENTS" -m "$STREAMS")
    local -a lab=() dd=() labc=() ddc=()
    bench_h2load "$LAB_PID" "$LAB_DOH?dns=$DNS_PARAM" "$BENCH_WARM_SECS" "${H2[@]}" >/dev/null
    bench_h2load "$DD_PID" "$DD_DOH?dns=$DNS_PARAM" "$BENCH_WARM_SECS" "${H2[@]}" >/dev/null
    for _ in $(seq 1 "$BENCH_RUNS"); do
        read -r qps qcpu < <(bench_h2load "$LAB_PID" "$LAB_DOH?dns=$DNS_PARAM" "$BENCH_SECS" "${H2[@]}")
        lab+=("$qps"); labc+=("$qcpu")
        read -r qps qcpu < <(bench_h2load "$DD_PID" "$DD_DOH?dns=$DNS_PARAM" "$BENCH_SECS" "${H2[@]}")
        dd+=("$qps"); ddc+=("$qcpu")
    done
    bench_row "doh-get c$CLIENTS m$STREAMS" "${lab[*]}" "${dd[*]}" "${labc[*]}" "${ddc[*]}"
}

echo "DoT: dnsperf -m dot -c $CLIENTS -q $OUTSTANDING; DoH: h2load -c $CLIENTS -m $STREAMS GET ?dns=(www.example.com A)"
echo "server on CPU $BENCH_SERVER_CPU, load generator on CPU $BENCH_LOAD_CPU"
bench_header
measure_dot
measure_doh
