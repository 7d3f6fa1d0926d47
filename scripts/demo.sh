#!/usr/bin/env bash
# The main job: start dnslab-resolver on the fixture zones (and the sample Gateway export
# when present) on loopback, query it over every transport it serves, print the answers,
# the decisions from the query log, and where it listens; then stop it cleanly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
RESOLVER="$BUILD/resolver/dnslab-resolver"
PROBE="$BUILD/probes/dnslab-probe"
WORK="$(mktemp -d /tmp/dnslab-demo.XXXXXX)"
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

args=(--listen dns://127.0.0.1:0 --listen tls://127.0.0.1:0 --listen https://127.0.0.1:0/dns-query
      --upstream "fixture:$ROOT/fixtures/zones"
      --ready-file "$WORK/ready" --log-json "$WORK/queries.jsonl" --event-log "$WORK/events.jsonl"
      --state-dir "$WORK/state")
if "$RESOLVER" --help | grep -q -- '--rules' && [ -f "$ROOT/fixtures/policy/rules.json" ]; then
  args+=(--rules "$ROOT/fixtures/policy/rules.json")
  [ -f "$ROOT/fixtures/policy/lists.json" ] && args+=(--lists "$ROOT/fixtures/policy/lists.json")
  [ -f "$ROOT/fixtures/policy/locations.json" ] && args+=(--locations "$ROOT/fixtures/policy/locations.json")
  [ -f "$ROOT/fixtures/categories/categories.csv" ] && args+=(--categories "$ROOT/fixtures/categories/categories.csv")
fi

"$RESOLVER" "${args[@]}" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 1 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
if [ ! -s "$WORK/ready" ]; then cat "$WORK/stderr" >&2; exit 1; fi

echo "== dnslab-resolver is listening on:"
sed 's/^/   /' "$WORK/ready"
url() { grep "^$1://" "$WORK/ready" | head -1; }
hostport() { url "$1" | sed -E 's#^[a-z]+://##; s#/.*##'; }
UDP=$(hostport udp); TCP=$(hostport tcp)
CA=$(grep '^ca ' "$WORK/ready" | cut -d' ' -f2- || true)

q() { # transport name type
  local t=$1 n=$2 ty=$3 out
  case $t in
    udp) out=$(kdig @"${UDP%:*}" -p "${UDP##*:}" "$n" "$ty" +short +notcp) ;;
    tcp) out=$(kdig @"${TCP%:*}" -p "${TCP##*:}" "$n" "$ty" +short +tcp) ;;
    tls) local h=$(hostport tls); out=$(kdig @"${h%:*}" -p "${h##*:}" "$n" "$ty" +short +tls-ca="$CA" +tls-hostname=localhost) ;;
    https) local h=$(hostport https); out=$(kdig @"${h%:*}" -p "${h##*:}" "$n" "$ty" +short +https=/dns-query +tls-ca="$CA" +tls-hostname=localhost) ;;
  esac
  printf '   %-6s %-34s %-5s %s\n' "$t" "$n" "$ty" "$(echo "$out" | tr '\n' ' ')"
}

transports="udp tcp tls https"
echo
echo "== answers (kdig over $transports; DoT/DoH carry no location hint, so they land on the"
echo "   client_default location 'Roaming', plain DNS from 127.0.0.1 on 'HQ')"
for n in "www.example.com A" "blocked.example.com A" "malware.testcategory.com A" \
         "portal.example.com A" "doh-blocked.example.com A" "www.google.com A" "blocked.example.com MX"; do
  for t in $transports; do q "$t" $n; done
done

if [ -x "$PROBE" ]; then
  echo
  echo "== probe matrix: the same questions over UDP, TCP, DoT, DoH GET/POST/JSON, diffed"
  printf '%s\n' "www.example.com A" "blocked.example.com A" "malware.testcategory.com A" \
    "portal.example.com A" "doh-blocked.example.com A" > "$WORK/questions"
  tls=$(hostport tls); https=$(hostport https)
  "$PROBE" -f "$WORK/questions" --no-color --ca "$CA" \
    --target "lab=lab://127.0.0.1?udp=${UDP##*:}&tcp=${TCP##*:}&tls=${tls##*:}&https=${https##*:}" || true
fi

sleep 0.3
echo
echo "== decisions from the query log (gateway_dns fields; one line per name, type and protocol)"
python3 - "$WORK/queries.jsonl" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    r = json.loads(line)  # gateway_dns records only: lab events have their own log
    key = (r["QueryName"], r["QueryTypeName"], r["Protocol"])
    if key in seen:
        continue
    seen.add(key)
    print("   {Protocol:<6} {QueryName:<27} {QueryTypeName:<4} rcode={RCode:<2} {d:<24} {pol:<36} {loc}".format(
          d=r.get("ResolverDecision") or "-", pol=(r.get("PolicyName") or "-")[:36],
          loc=r.get("Location") or "-", **r))
PY
echo
echo "== lab events (--event-log: policy loads and reloads, fault-plan reloads)"
python3 - "$WORK/events.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print("   {Datetime} {LabEvent} generation={g}".format(g=e.get("LabPolicyGeneration", "-"), **e))
PY
kill -TERM "$PID"; wait "$PID"; echo; echo "== resolver stopped cleanly (exit $?)"
