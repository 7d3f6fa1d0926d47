#!/usr/bin/env bash
# Benchmark (not a test), issue 14: dnslab-resolver with a big policy loaded (the export of
# bench/gen_policy_export.py: 500 rules of every kind plus a 1,000,000-name DOMAIN list, on
# top of the fixture export) against dnsdist with no rules (packet cache), on UDP, TCP, DoT
# and DoH, cache hits, in one run, runs alternating dnslab/dnsdist. Also the UDP echo floor
# (bench/echo/udp_echo.cpp: recvmmsg, flip QR, sendmmsg), so every figure can be read against
# what the machine and the load generator allow. Prints qps and queries per server
# CPU-second for each, the ratios, the policy load time and resident memory per list name.
#
# Every query comes from 127.0.0.1 (location HQ, whose network is 127.0.0.0/24; DoT and DoH
# without a location hint fall back to the client_default location), so every query is
# evaluated against the whole policy; every name is one the fixture zones answer and no rule
# blocks, so after the warm-up every answer is a cache hit and the rules are walked in full.
#
# Usage: bench/policy_transports.sh [BUILD_DIR]   (default build-bench, a release build)
# Knobs (environment, besides bench/lib.sh's): BENCH_RULES (500), BENCH_LIST (1000000),
# BENCH_CLIENTS (8), BENCH_OUTSTANDING (500), BENCH_STREAMS (32 h2 streams per connection).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf h2load dnsdist openssl python3 dig curl
bench_init "${1:-$BENCH_ROOT/build-bench}"
ECHO="$BENCH_BUILD/bench/udp_echo"
[ -x "$ECHO" ] || bench_die "$ECHO missing: ninja -C $BENCH_BUILD bench/udp_echo"
CLIENTS="${BENCH_CLIENTS:-8}"
OUTSTANDING="${BENCH_OUTSTANDING:-500}"
STREAMS="${BENCH_STREAMS:-32}"
NRULES="${BENCH_RULES:-500}"
NLIST="${BENCH_LIST:-1000000}"
FIX="$BENCH_ROOT/fixtures"

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$BENCH_WORK/export"
python3 "$BENCH_ROOT/bench/gen_policy_export.py" "$FIX" "$BENCH_WORK/export" "$NRULES" "$NLIST"
echo "policy: $(head -1 "$BENCH_WORK/export/mix.txt"); rules per kind:"
tail -n +2 "$BENCH_WORK/export/mix.txt" | paste -sd' ' | sed 's/^/  /'

bench_allowed_queries "$BENCH_WORK/queries"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# ---- servers --------------------------------------------------------------------------------
bench_start_backend
EX="$BENCH_WORK/export"
POLICY=(--rules "$EX/rules.json" --lists "$EX/lists.json" --locations "$EX/locations.json"
    --categories "$EX/categories.csv")
LAB_PORT=$(bench_port)
t0=$(date +%s.%N)
bench_start_dnslab lab server --listen "udp://127.0.0.1:$LAB_PORT" --listen "tcp://127.0.0.1:$LAB_PORT" \
    --listen "tls://127.0.0.1:0" --listen "https://127.0.0.1:0/dns-query" \
    --upstream "fixture:$FIX/zones" "${POLICY[@]}"
t1=$(date +%s.%N)
LAB_PID=$BENCH_LAST_PID
LOAD_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
LAB_DOT=$(bench_ready_url lab tls)
LAB_DOT_PORT=${LAB_DOT##*:}
LAB_DOH=$(bench_ready_url lab https)
# dnslab without any policy, UDP only: measured in the UDP rotation, so the cost of the
# policy itself reads off directly.
NOPOL_PORT=$(bench_port)
bench_start_dnslab nopolicy server --listen "udp://127.0.0.1:$NOPOL_PORT" --upstream "fixture:$FIX/zones"
NOPOL_PID=$BENCH_LAST_PID
# The same resolver without the generated export (fixture policy only), idle on the load
# CPU: its RSS is the baseline of the per-name figure.
bench_start_dnslab base load --listen "udp://127.0.0.1:$(bench_port)" --upstream "fixture:$FIX/zones" \
    --rules "$FIX/policy/rules.json" --lists "$FIX/policy/lists.json" \
    --locations "$FIX/policy/locations.json" --categories "$FIX/categories/categories.csv"
BASE_PID=$BENCH_LAST_PID

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=dnsdist.bench" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$BENCH_WORK/dd.key" -out "$BENCH_WORK/dd.crt" \
    >/dev/null 2>&1 || bench_die "openssl could not make the dnsdist certificate"
DD_PORT=$(bench_port)
DD_DOT_PORT=$(bench_port)
DD_DOH_PORT=$(bench_port)
cat >"$BENCH_WORK/dnsdist.conf" <<CONF
-- No rules: dnsdist's packet cache only. UDP and TCP on one port; DoT and DoH frontends.
-- One TCP worker thread (DoT runs there too), like dnslab's single loop; DoH has its own
-- h2o thread per frontend (dnsdist 1.7).
setLocal('127.0.0.1:$DD_PORT')
setMaxTCPClientThreads(1)
setMaxTCPConnectionsPerClient(0)
addTLSLocal('127.0.0.1:$DD_DOT_PORT', '$BENCH_WORK/dd.crt', '$BENCH_WORK/dd.key')
addDOHLocal('127.0.0.1:$DD_DOH_PORT', '$BENCH_WORK/dd.crt', '$BENCH_WORK/dd.key', '/dns-query')
newServer({address='127.0.0.1:$BACKEND_PORT', checkInterval=3600})
pc = newPacketCache(100000, {maxTTL=86400, minTTL=0})
getPool(''):setCache(pc)
CONF
bench_start_dnsdist "$BENCH_WORK/dnsdist.conf" "$DD_PORT" "$DD_DOT_PORT" "$DD_DOH_PORT"
DD_PID=$BENCH_LAST_PID
DD_DOH="https://127.0.0.1:$DD_DOH_PORT/dns-query"

"${PIN_SERVER[@]}" "$ECHO" 0 >"$BENCH_WORK/echo.out" 2>&1 &
ECHO_PID=$!
BENCH_PIDS+=("$ECHO_PID")
for _ in $(seq 1 100); do
    [ -s "$BENCH_WORK/echo.out" ] && break
    sleep 0.05
done
ECHO_PORT=$(awk '/^port/ {print $2}' "$BENCH_WORK/echo.out")
[ -n "$ECHO_PORT" ] || bench_die "udp_echo did not start: $(cat "$BENCH_WORK/echo.out")"

# The policy is really in force: a name of the 1M-name list is blocked.
probe=$(dig +short +tries=1 +time=2 -p "$LAB_PORT" @127.0.0.1 d0000042.bench-list.example A || true)
[ "$probe" = "0.0.0.0" ] || bench_die "the 1M-name list does not block (got '$probe')"
bench_check_allowed "$LAB_PORT" "$BENCH_WORK/queries"

DNS_PARAM=$(bench_doh_param)
for url in "$LAB_DOH" "$DD_DOH"; do
    code=$(curl -sk -o "$BENCH_WORK/doh.out" -w '%{http_code}' "$url?dns=$DNS_PARAM" || true)
    [ "$code" = 200 ] && [ -s "$BENCH_WORK/doh.out" ] || bench_die "DoH GET $url answered HTTP '$code'"
done

# one KIND PID PORT_OR_URL SECONDS: one run of the transport's load generator; prints "QPS
# Q_PER_CPU_S" (udp: also user and system microseconds per answer).
one() {
    local kind="$1" pid="$2" target="$3" secs="$4"
    case $kind in
    doh) bench_h2load "$pid" "$target?dns=$DNS_PARAM" "$secs" -c "$CLIENTS" -m "$STREAMS" ;;
    udp) bench_dnsperf_split "$pid" -s 127.0.0.1 -m udp -d "$BENCH_WORK/queries" -c "$CLIENTS" \
        -q "$OUTSTANDING" -p "$target" -l "$secs" ;;
    *) bench_dnsperf "$pid" -s 127.0.0.1 -m "$kind" -d "$BENCH_WORK/queries" -c "$CLIENTS" \
        -q "$OUTSTANDING" -p "$target" -l "$secs" | awk '{print $1, $2}' ;;
    esac
}

declare -A ROW_LAB_Q ROW_LAB_C ROW_DD_Q ROW_DD_C
# measure KIND LAB_TARGET DD_TARGET: warm-up, then BENCH_RUNS alternating runs (and the echo
# floor, UDP only, in the same rotation).
ECHO_Q="" ECHO_C="" NOPOL_Q="" NOPOL_C=""
declare -A SPLIT_U SPLIT_S # UDP user / system microseconds per answer, per server (only UDP
# runs print them: the other transports leave u and s empty, which adds nothing)
measure() {
    local kind="$1" lt="$2" dt="$3" q c u s
    one "$kind" "$LAB_PID" "$lt" "$BENCH_WARM_SECS" >/dev/null
    one "$kind" "$DD_PID" "$dt" "$BENCH_WARM_SECS" >/dev/null
    [ "$kind" != udp ] || one udp "$NOPOL_PID" "$NOPOL_PORT" "$BENCH_WARM_SECS" >/dev/null
    for _ in $(seq 1 "$BENCH_RUNS"); do
        read -r q c u s < <(one "$kind" "$LAB_PID" "$lt" "$BENCH_SECS")
        ROW_LAB_Q[$kind]="${ROW_LAB_Q[$kind]:-} $q" ROW_LAB_C[$kind]="${ROW_LAB_C[$kind]:-} $c"
        SPLIT_U[lab]="${SPLIT_U[lab]:-} ${u:-}" SPLIT_S[lab]="${SPLIT_S[lab]:-} ${s:-}"
        read -r q c u s < <(one "$kind" "$DD_PID" "$dt" "$BENCH_SECS")
        ROW_DD_Q[$kind]="${ROW_DD_Q[$kind]:-} $q" ROW_DD_C[$kind]="${ROW_DD_C[$kind]:-} $c"
        SPLIT_U[dnsdist]="${SPLIT_U[dnsdist]:-} ${u:-}" SPLIT_S[dnsdist]="${SPLIT_S[dnsdist]:-} ${s:-}"
        if [ "$kind" = udp ]; then
            read -r q c u s < <(one udp "$ECHO_PID" "$ECHO_PORT" "$BENCH_SECS")
            ECHO_Q="$ECHO_Q $q" ECHO_C="$ECHO_C $c"
            SPLIT_U[echo]="${SPLIT_U[echo]:-} $u" SPLIT_S[echo]="${SPLIT_S[echo]:-} $s"
            read -r q c u s < <(one udp "$NOPOL_PID" "$NOPOL_PORT" "$BENCH_SECS")
            NOPOL_Q="$NOPOL_Q $q" NOPOL_C="$NOPOL_C $c"
            SPLIT_U[nopolicy]="${SPLIT_U[nopolicy]:-} $u" SPLIT_S[nopolicy]="${SPLIT_S[nopolicy]:-} $s"
        fi
    done
}
measure udp "$LAB_PORT" "$DD_PORT"
measure tcp "$LAB_PORT" "$DD_PORT"
measure dot "$LAB_DOT_PORT" "$DD_DOT_PORT"
measure doh "$LAB_DOH" "$DD_DOH"

# ---- report ---------------------------------------------------------------------------------
echo
echo "dnslab with the policy above vs dnsdist (no rules, packet cache); cache hits."
echo "dnsperf -c $CLIENTS -q $OUTSTANDING (udp, tcp, dot); h2load -c $CLIENTS -m $STREAMS GET (doh)."
bench_header
for kind in udp tcp dot doh; do
    bench_row "$kind" "${ROW_LAB_Q[$kind]}" "${ROW_DD_Q[$kind]}" "${ROW_LAB_C[$kind]}" "${ROW_DD_C[$kind]}"
done
# shellcheck disable=SC2086
eq=$(bench_median $ECHO_Q)
# shellcheck disable=SC2086
ec=$(bench_median $ECHO_C)
# shellcheck disable=SC2086
lq=$(bench_median ${ROW_LAB_Q[udp]})
# shellcheck disable=SC2086
lc=$(bench_median ${ROW_LAB_C[udp]})
printf 'echo floor (udp): %.0f qps, %.0f q/cpu-s; dnslab udp = %s of its qps, %s of its q/cpu-s\n' \
    "$eq" "$ec" "$(bench_ratio "$lq" "$eq")" "$(bench_ratio "$lc" "$ec")"
# shellcheck disable=SC2086
nq=$(bench_median $NOPOL_Q)
# shellcheck disable=SC2086
nc=$(bench_median $NOPOL_C)
printf 'dnslab udp without policy: %.0f qps, %.0f q/cpu-s (with the policy: %s of its q/cpu-s, %.2f us more per answer)\n' \
    "$nq" "$nc" "$(bench_ratio "$lc" "$nc")" "$(awk -v a="$lc" -v b="$nc" 'BEGIN {if (a > 0 && b > 0) print 1e6 / a - 1e6 / b; else print 0}')"
[ -z "${BENCH_VERBOSE:-}" ] || echo "    runs: echo qps [$ECHO_Q] q/cpu-s [$ECHO_C]; no policy qps [$NOPOL_Q] q/cpu-s [$NOPOL_C]"
# Where each UDP answer's server CPU went: user space is each server's own work; system time
# is mostly the loopback path both ways, the same for every server (the echo floor is nearly
# all system time), so it bounds how far any ratio per CPU-second can go.
echo "udp CPU per answer, microseconds (median): user + system = total"
for k in echo dnsdist lab nopolicy; do
    # shellcheck disable=SC2086
    u=$(bench_median ${SPLIT_U[$k]})
    # shellcheck disable=SC2086
    s=$(bench_median ${SPLIT_S[$k]})
    printf '  %-22s %6.2f + %6.2f = %6.2f\n' \
        "$(case $k in echo) echo "echo floor" ;; lab) echo "dnslab with policy" ;; nopolicy) echo "dnslab without policy" ;; *) echo "$k" ;; esac)" \
        "$u" "$s" "$(awk -v a="$u" -v b="$s" 'BEGIN {print a + b}')"
done
extra=$(($(rss_kb "$LAB_PID") - $(rss_kb "$BASE_PID")))
echo "policy load: ${LOAD_S} s from process start to ready (includes start-up); resident:" \
    "$(awk -v k="$(rss_kb "$LAB_PID")" 'BEGIN {printf "%.1f MB", k / 1024}')"
awk -v kb="$extra" -v n="$NLIST" 'BEGIN {printf "RSS over the fixture-only resolver: %.1f MB = %.1f bytes per list name (500 rules and the index included)\n", kb / 1024, kb * 1024 / n}'
echo "targets (issue 14): q/cpu-s ratio >= 1.25 and qps ratio >= 1.00 on every transport;" \
    "load < 1 s; < 64 B per name"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
