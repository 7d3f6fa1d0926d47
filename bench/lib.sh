# shellcheck shell=bash
# Shared helpers for the bench/*.sh scripts (sourced, not run). Benchmarks, not tests:
# they print figures and exit non-zero only when the set-up fails (a binary missing, a
# server that never came up). Loopback only; every run is bounded in time.
#
# Fairness rules every script follows:
# - the server under test (dnslab-resolver or dnsdist, all its threads) runs pinned to
#   CPU $BENCH_SERVER_CPU and the load generator to $BENCH_LOAD_CPU, so both servers get
#   the same single core and never compete with their own load generator;
# - the same query mix, concurrency and duration for both servers;
# - one warm-up run per server first (fills both caches), then $BENCH_RUNS short runs per
#   server, interleaved dnslab/dnsdist so drifting background load hits both alike; the
#   median is reported.

set -euo pipefail

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_RUNS="${BENCH_RUNS:-5}"
BENCH_SECS="${BENCH_SECS:-3}"
BENCH_WARM_SECS="${BENCH_WARM_SECS:-1}"
BENCH_SERVER_CPU="${BENCH_SERVER_CPU:-0}"
BENCH_LOAD_CPU="${BENCH_LOAD_CPU:-1}"

bench_die() {
    echo "bench: $*" >&2
    exit 2
}

bench_need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || bench_die "'$tool' not found (scripts/bootstrap installs it)"
    done
}

# Pinning prefixes. With fewer than two CPUs there is nothing to separate: run unpinned.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    PIN_SERVER=(taskset -c "$BENCH_SERVER_CPU")
    PIN_LOAD=(taskset -c "$BENCH_LOAD_CPU")
else
    PIN_SERVER=()
    PIN_LOAD=()
fi

# bench_init BUILD_DIR: work directory, cleanup trap, resolver binary.
bench_init() {
    BENCH_BUILD="$1"
    RESOLVER="$BENCH_BUILD/resolver/dnslab-resolver"
    [ -x "$RESOLVER" ] || bench_die "$RESOLVER missing: build first (bench/run-all.sh builds release)"
    BENCH_WORK="$(mktemp -d /tmp/dnslab-bench.XXXXXX)"
    BENCH_PIDS=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${BENCH_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${BENCH_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "bench: work directory kept: $BENCH_WORK" >&2
    else
        rm -rf "$BENCH_WORK"
    fi
}

# bench_port: a loopback port free for both UDP and TCP at the time of the call, so one
# number can serve a server's UDP and TCP listeners (dnsdist reaches a backend's TCP on
# the same port as its UDP).
bench_port() {
    python3 - <<'PY'
import socket
for _ in range(100):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    print(port)
    break
PY
}

# bench_start_dnslab NAME PIN(server|load) ARGS...: starts dnslab-resolver with ARGS plus a
# ready file; waits (at most 10 s) for the ready file. The ready file lines (listener URLs,
# `ca PATH`) end up in $BENCH_WORK/NAME.ready; the process id in $BENCH_LAST_PID.
bench_start_dnslab() {
    local name="$1" pin="$2"
    shift 2
    local -a prefix=()
    if [ "$pin" = server ]; then prefix=("${PIN_SERVER[@]}"); else prefix=("${PIN_LOAD[@]}"); fi
    "${prefix[@]}" "$RESOLVER" "$@" --state-dir "$BENCH_WORK/$name.state" --ready-file "$BENCH_WORK/$name.ready" \
        >/dev/null 2>"$BENCH_WORK/$name.err" &
    BENCH_PIDS+=($!)
    local pid=$!
    BENCH_LAST_PID=$pid
    for _ in $(seq 1 200); do
        [ -s "$BENCH_WORK/$name.ready" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$BENCH_WORK/$name.err" >&2 || true
    bench_die "dnslab-resolver '$name' did not become ready"
}

# bench_ready_url NAME SCHEME: the first listener URL of that scheme in NAME's ready file.
bench_ready_url() {
    grep -m1 "^$2://" "$BENCH_WORK/$1.ready" || bench_die "no $2 listener in $1's ready file"
}

# bench_wait_tcp PORT [SECONDS]: waits until something accepts TCP connections on PORT;
# non-zero status when nothing does within SECONDS (default 10).
bench_wait_tcp() {
    python3 - "$1" "${2:-10}" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# bench_start_dnsdist CONF_FILE PORT...: starts Debian's dnsdist pinned like dnslab and waits
# until every PORT accepts TCP connections. The process id in $BENCH_LAST_PID.
bench_start_dnsdist() {
    local conf="$1"
    shift
    "${PIN_SERVER[@]}" dnsdist --supervised --disable-syslog -C "$conf" >"$BENCH_WORK/dnsdist.log" 2>&1 &
    BENCH_PIDS+=($!)
    local pid=$!
    BENCH_LAST_PID=$pid
    for p in "$@"; do
        if ! bench_wait_tcp "$p" 15; then
            cat "$BENCH_WORK/dnsdist.log" >&2 || true
            bench_die "dnsdist did not listen on $p"
        fi
    done
    kill -0 "$pid" 2>/dev/null || { cat "$BENCH_WORK/dnsdist.log" >&2; bench_die "dnsdist exited"; }
}

# bench_start_backend: the plain dnslab-resolver dnsdist forwards to (fixture zones), on one
# port for UDP and TCP (dnsdist reaches a backend's TCP on the port of its UDP), on the load
# generator's CPU: it idles once dnsdist's cache is warm. Sets BACKEND_PORT.
bench_start_backend() {
    BACKEND_PORT=$(bench_port)
    bench_start_dnslab backend load --listen "udp://127.0.0.1:$BACKEND_PORT" \
        --listen "tcp://127.0.0.1:$BACKEND_PORT" --upstream "fixture:$BENCH_ROOT/fixtures/zones"
}

# bench_query_mix FILE: the dnsperf data file. Names from fixtures/zones, all answerable
# (NOERROR, some through CNAME chains and NODATA), so after the warm-up every answer is a
# cache hit for both servers.
bench_query_mix() {
    for n in www.example.com mail.example.com alias.example.com chain1.example.com example.com \
        edge.example.net www.example.net malware.testcategory.com phishing.testcategory.com \
        ipv6only.example.com; do
        echo "$n A"
        echo "$n AAAA"
    done >"$1"
}

# bench_allowed_queries FILE: the dnsperf data file of the policy benchmarks (ab.sh,
# policy_qps.sh, policy_transports.sh, udp_allocs.sh). Names the fixture zones answer and no
# rule blocks or overrides (neither the fixture export's nor the benchmarks' generated ones), so
# every answer is allowed and, after the warm-up, a cache hit: what differs is policy work.
bench_allowed_queries() {
    for n in www.example.com mail.example.com mail2.example.com chain1.example.com example.com \
        edge.example.net www.example.net ns1.example.com sip.example.com ipv6only.example.com \
        nudity.testcategory.com login.testcategory.com intranet.example.net cdn.example.net; do
        echo "$n A"
        echo "$n AAAA"
    done >"$1"
}

# bench_check_allowed PORT QUERY_FILE: every "NAME TYPE" of the file gets an answer from the
# UDP listener on PORT that is not a block (0.0.0.0 or ::), so a benchmark of allowed cache
# hits measures cache hits and not locally built block answers. Dies naming the first that is.
bench_check_allowed() {
    local port="$1" file="$2" name type got
    while read -r name type; do
        got=$(dig +short +tries=1 +time=2 -p "$port" @127.0.0.1 "$name" "$type" || true)
        if grep -qxE '0\.0\.0\.0|::' <<<"$got"; then
            bench_die "$name $type is blocked by the policy (answer: $(paste -sd' ' <<<"$got")): not an allowed cache hit"
        fi
    done <"$file"
}

# bench_cpu_ticks PID: CPU time (user + system, all threads) the process used so far, in
# clock ticks. On a shared machine the wall-clock qps depends on what else runs; queries per
# CPU-second of the server does not, so every row reports both.
bench_cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# bench_dnsperf SERVER_PID ARGS...: one dnsperf run on the load CPU; prints
# "QPS QUERIES_PER_SERVER_CPU_SECOND LOST_PERCENT".
bench_dnsperf() {
    local pid="$1"
    shift
    local out t0 t1
    t0=$(bench_cpu_ticks "$pid")
    out=$("${PIN_LOAD[@]}" dnsperf "$@" 2>&1) || true
    t1=$(bench_cpu_ticks "$pid")
    awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
        /Queries per second/ {qps = $4}
        /Queries completed/ {done = $3}
        /Queries lost/ {gsub(/[()%]/, "", $4); lost = $4}
        END {printf "%.0f %.0f %s\n", qps, (ticks > 0 ? done * hz / ticks : 0), (lost == "" ? 100 : lost)}' <<<"$out"
}

# bench_dnsperf_split SERVER_PID ARGS...: as bench_dnsperf, split by where the server's CPU
# went; prints "QPS QUERIES_PER_SERVER_CPU_SECOND USER_US_PER_ANSWER SYSTEM_US_PER_ANSWER". On
# loopback the system part includes delivering each answer into the client's socket (and the
# client's queries into ours): work any server pays alike, which bounds every ratio.
bench_dnsperf_split() {
    local pid="$1"
    shift
    local out u0 s0 u1 s1
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    out=$("${PIN_LOAD[@]}" dnsperf "$@" 2>&1) || true
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    awk -v ut=$((u1 - u0)) -v st=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" '
        /Queries per second/ {qps = $4}
        /Queries completed/ {done = $3}
        END {
            t = ut + st
            printf "%.0f %.0f %.3f %.3f\n", qps, (t > 0 ? done * hz / t : 0),
                (done > 0 ? ut * 1e6 / hz / done : 0), (done > 0 ? st * 1e6 / hz / done : 0)
        }' <<<"$out"
}

# bench_doh_param: the ?dns= value of every DoH GET (RFC 8484 §4.1: base64url without
# padding, ID 0 so that the answer is cache friendly): www.example.com A.
bench_doh_param() {
    python3 -c '
import base64, struct
q = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l for l in b"www.example.com".split(b".")) + b"\0" + struct.pack(">HH", 1, 1)
print(base64.urlsafe_b64encode(q).decode().rstrip("="))'
}

# bench_h2load SERVER_PID URL SECONDS H2LOAD_ARGS...: one h2load run of GETs of URL on the load
# CPU; prints "QPS QUERIES_PER_SERVER_CPU_SECOND" (2xx answers only).
bench_h2load() {
    local pid="$1" url="$2" secs="$3" t0 t1 out
    shift 3
    t0=$(bench_cpu_ticks "$pid")
    out=$("${PIN_LOAD[@]}" h2load "$@" -D "$secs" "$url" 2>&1) || true
    t1=$(bench_cpu_ticks "$pid")
    awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v secs="$secs" '
        /^status codes:/ {ok = $3}
        END {printf "%.0f %.0f\n", ok / secs, (ticks > 0 ? ok * hz / ticks : 0)}' <<<"$out"
}

# bench_median V...: median of numbers.
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'
}

# bench_ratio A B: A/B with two decimals ("n/a" when B is 0).
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b}'
}

bench_header() {
    echo "median of $BENCH_RUNS runs x ${BENCH_SECS}s each; qps = answers per second (wall clock);"
    echo "q/cpu-s = answers per CPU-second used by the server (all its threads), robust to other load"
    printf '%-22s %10s %10s %6s | %10s %10s %6s\n' "benchmark" "dnslab" "dnsdist" "ratio" "dnslab" "dnsdist" "ratio"
    printf '%-22s %10s %10s %6s | %10s %10s %6s\n' "" "qps" "qps" "" "q/cpu-s" "q/cpu-s" ""
}

# bench_row LABEL DNSLAB_QPS DNSDIST_QPS DNSLAB_QCPU DNSDIST_QCPU (each a space-separated list
# of per-run values)
bench_row() {
    local a b c d
    # shellcheck disable=SC2086
    a=$(bench_median $2)
    # shellcheck disable=SC2086
    b=$(bench_median $3)
    # shellcheck disable=SC2086
    c=$(bench_median $4)
    # shellcheck disable=SC2086
    d=$(bench_median $5)
    printf '%-22s %10.0f %10.0f %6s | %10.0f %10.0f %6s\n' "$1" "$a" "$b" "$(bench_ratio "$a" "$b")" "$c" "$d" "$(bench_ratio "$c" "$d")"
    [ -z "${BENCH_VERBOSE:-}" ] || echo "    runs: dnslab qps [$2] dnsdist qps [$3] dnslab q/cpu-s [$4] dnsdist q/cpu-s [$5]"
}
