#!/usr/bin/env bash
# Benchmark (not a test): what the Gateway policy engine costs on the resolver's hot path.
# dnsperf cache-hit qps (Do53 UDP) against dnslab-resolver
#   - with no policy inputs at all,
#   - with the sample export (fixtures/policy, fixtures/categories),
#   - with the sample export plus 500 generated rules and a 1,000,000-name DOMAIN list
#     (generated into a temp dir),
# and the ratio to the no-rules figure (issue 4 target: >= 0.80). The queries come from
# 127.0.0.1, which is the HQ location's network, so every query is evaluated; all of them are
# allowed names the fixture zones answer, so after the warm-up every answer is a cache hit
# and the only difference between the servers is policy work. Also prints each server's
# start-up time (process start to ready file, i.e. policy load) and resident memory.
#
# Usage: bench/policy_qps.sh [BUILD_DIR]   (default build-bench, a release build)
# Knobs (environment): BENCH_RUNS (5), BENCH_SECS (3), BENCH_CLIENTS (8),
# BENCH_OUTSTANDING (200), BENCH_RULES (500), BENCH_LIST (1000000).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need dnsperf python3
bench_init "${1:-$BENCH_ROOT/build-bench}"
CLIENTS="${BENCH_CLIENTS:-8}"
OUTSTANDING="${BENCH_OUTSTANDING:-200}"
NRULES="${BENCH_RULES:-500}"
NLIST="${BENCH_LIST:-1000000}"
FIX="$BENCH_ROOT/fixtures"

# ---- generated inputs ----------------------------------------------------------------------
python3 - "$FIX" "$BENCH_WORK" "$NRULES" "$NLIST" <<'PY'
import json, sys
fix, out, nrules, nlist = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lists = json.load(open(f"{fix}/policy/lists.json"))
rules = json.load(open(f"{fix}/policy/rules.json"))
big = "5b000000-0000-4000-8000-000000000001"
with open(f"{out}/lists.json", "w") as f:
    # written by hand: a 1M-item list through json.dump is slow and memory hungry
    f.write('{"success":true,"result":[')
    for l in lists["result"]:
        f.write(json.dumps(l) + ",")
    f.write('{"id":"%s","name":"bench 1M","type":"DOMAIN","items":[' % big)
    f.write(",".join('{"value":"d%07d.bench-list.example"}' % i for i in range(nlist)))
    f.write("]}]}")
gen = [{"id": "9b000000-0000-4000-8000-ffffffffffff", "name": "block the 1M-name list",
        "precedence": 1999, "enabled": True, "action": "block", "filters": ["dns"],
        "traffic": f"any(dns.domains[*] in ${big})", "identity": "", "rule_settings": {}}]
for i in range(nrules - 1):
    k = i % 10
    # A mix like a real account's: mostly names, name sets, parents, categories and query
    # types; every 50th rule a regex (k=8) or a post-resolution resolved-IP rule (k=9), so
    # about 10 of each; and the one list rule above.
    every50 = i % 50 in (8, 9)
    traffic = [
        f'any(dns.domains[*] == "r{i}.gen.example")',
        f'dns.fqdn in {{"a{i}.gen.example" "b{i}.gen.example" "c{i}.gen.example"}}',
        f'any(dns.domains[*] in {{"p{i}.gen.example" "q{i}.gen.example"}})',
        f'any(dns.content_category[*] in {{{100 + i % 60}}}) and dns.fqdn == "cat{i}.gen.example"',
        f'dns.query_rtype == "TXT" and dns.fqdn == "t{i}.gen.example"',
        f'dns.fqdn eq "l{i}.gen.example"',
        f'dns.fqdn == "e{i}.gen.example" or dns.fqdn == "f{i}.gen.example"',
        f'any(dns.domains[*] == "s{i}.gen.example") and dns.query_rtype in {{"A" "AAAA"}}',
        f'dns.fqdn matches "^re{i}[0-9]+\\\\.gen\\\\.example$"' if every50
        else f'dns.fqdn == "n{i}.gen.example" and not dns.query_rtype == "MX"',
        f'any(dns.resolved_ips[*] in {{198.18.{i % 256}.0/24}})' if every50
        else f'any(dns.domains[*] == "v{i}.gen.example")',
    ][k]
    gen.append({"id": f"9b000000-0000-4000-8000-{i:012d}", "name": f"generated {i}",
                "precedence": 2000 + i, "enabled": True, "action": "block", "filters": ["dns"],
                "traffic": traffic, "identity": "", "rule_settings": {}})
rules["result"] = rules["result"] + gen
json.dump(rules, open(f"{out}/rules.json", "w"))
PY

bench_allowed_queries "$BENCH_WORK/queries"

# start NAME ARGS...: one resolver on the server CPU; sets PORT_<NAME>, PID_<NAME>, LOAD_<NAME>.
start() {
    local name="$1" port t0 t1
    shift
    port=$(bench_port)
    t0=$(date +%s.%N)
    bench_start_dnslab "$name" server --listen "udp://127.0.0.1:$port" --upstream "fixture:$FIX/zones" "$@"
    t1=$(date +%s.%N)
    printf -v "PORT_$name" '%s' "$port"
    printf -v "PID_$name" '%s' "$BENCH_LAST_PID"
    printf -v "LOAD_$name" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

POLICY=(--lists "$FIX/policy/lists.json" --locations "$FIX/policy/locations.json"
    --categories "$FIX/categories/categories.csv")
start none
start sample --rules "$FIX/policy/rules.json" "${POLICY[@]}"
start big --rules "$BENCH_WORK/rules.json" --lists "$BENCH_WORK/lists.json" \
    --locations "$FIX/policy/locations.json" --categories "$FIX/categories/categories.csv"

declare -A QPS QCPU
args=(-s 127.0.0.1 -m udp -d "$BENCH_WORK/queries" -c "$CLIENTS" -q "$OUTSTANDING")
for s in none sample big; do
    p="PORT_$s" pid="PID_$s"
    bench_dnsperf "${!pid}" "${args[@]}" -p "${!p}" -l "$BENCH_WARM_SECS" >/dev/null
done
for _ in $(seq 1 "$BENCH_RUNS"); do
    for s in none sample big; do # interleaved: background load drifts hit all three alike
        p="PORT_$s" pid="PID_$s"
        read -r qps qcpu lost < <(bench_dnsperf "${!pid}" "${args[@]}" -p "${!p}" -l "$BENCH_SECS")
        QPS[$s]="${QPS[$s]:-} $qps"
        QCPU[$s]="${QCPU[$s]:-} $qcpu"
    done
done

# The big set is really in force (no query log: logging would cost qps): a name from the
# 1M-name list must be blocked.
probe=$(dig +short +tries=1 +time=2 -p "$PORT_big" @127.0.0.1 d0000042.bench-list.example A || true)
[ "$probe" = "0.0.0.0" ] || bench_die "the 1M-name list does not block (got '$probe')"

echo "policy engine cost on cache hits: dnsperf UDP, $CLIENTS clients x $OUTSTANDING outstanding,"
echo "median of $BENCH_RUNS runs x ${BENCH_SECS}s; queries from 127.0.0.1 (location HQ: every query evaluated)"
printf '%-34s %9s %6s %11s %6s %8s %8s\n' "server" "qps" "ratio" "q/cpu-s" "ratio" "load s" "RSS MB"
nq=$(bench_median ${QPS[none]})
nc=$(bench_median ${QCPU[none]})
for s in none sample big; do
    case $s in
    none) label="no rules" ;;
    sample) label="sample export" ;;
    big) label="sample + $NRULES rules + ${NLIST}-name list" ;;
    esac
    q=$(bench_median ${QPS[$s]})
    c=$(bench_median ${QCPU[$s]})
    pid="PID_$s" load="LOAD_$s"
    printf '%-34s %9.0f %6s %11.0f %6s %8s %8.1f\n' "$label" "$q" "$(bench_ratio "$q" "$nq")" "$c" \
        "$(bench_ratio "$c" "$nc")" "${!load}" "$(awk -v k="$(rss_kb "${!pid}")" 'BEGIN {print k / 1024}')"
    [ -z "${BENCH_VERBOSE:-}" ] || echo "    runs: qps [${QPS[$s]}] q/cpu-s [${QCPU[$s]}]"
done
extra=$(($(rss_kb "$PID_big") - $(rss_kb "$PID_sample")))
awk -v kb="$extra" -v n="$NLIST" 'BEGIN {printf "RSS of the big set over the sample: %.1f MB = %.0f bytes per list name (incl. 500 rules)\n", kb / 1024, kb * 1024 / n}'
echo "target: ratio >= 0.80 (issue 4); load = process start to ready file, includes policy load"
