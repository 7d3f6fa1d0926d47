#!/usr/bin/env bash
# Replay throughput: N gateway_dns records (default 100000; mixed UDP/TCP/DoT/DoH, two
# locations, 2,000 names of which half come only from the log) through the doh-only-block
# scenario on loopback. Prints the probe's own timing line. Usage: bench/replay.sh [BUILD] [N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
N="${2:-100000}"
LOG="$(mktemp /tmp/dnslab-replay-bench-XXXXXX.jsonl)"
trap 'rm -f "$LOG"' EXIT
python3 - "$N" "$LOG" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
HQ = ("HQ", "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0001", "hq7x2k9m1a")
RO = ("Roaming", "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0003", "r0am1ng3d4")
protos = ["udp", "udp", "udp", "tcp", "tls", "https"]
with open(out, "w") as f:
    for i in range(n):
        proto = protos[i % len(protos)]
        loc = RO if proto == "https" and i % 12 == 5 else HQ
        if i % 2:
            name, ips = f"h{i % 1000}.example-cdn{i % 50}.net", [f"203.0.113.{i % 250 + 1}"]
        else:
            name, ips = ("app.partner.example", ["192.0.2.81"]) if i % 4 else ("www.partner.example", ["192.0.2.80"])
        dec, pol = "allowedOnNoPolicyMatch", ""
        if loc is RO and name == "app.partner.example":
            dec, pol, ips = "blockedByQueryName", "c7a10000-0000-4000-8000-000000000001", ["0.0.0.0"]
        r = {"Protocol": proto, "QueryName": name, "QueryType": 1, "QueryTypeName": "A", "RCode": 0,
             "ResolvedIPs": ips, "Location": loc[0], "LocationID": loc[1],
             "DoHSubdomain": loc[2] if proto == "https" else "", "DoTSubdomain": loc[2] if proto == "tls" else "",
             "ResolverDecision": dec, "PolicyID": pol, "QueryCategoryIDs": [], "SrcIP": "127.0.0.10"}
        f.write(json.dumps(r) + "\n")
PY
/usr/bin/time -f "wall %e s, probe max RSS %M KB" "$BUILD/probes/dnslab-probe" replay "$LOG" \
  --scenario "$ROOT/fixtures/scenarios/doh-only-block" --json > "$LOG.out" || true
python3 - "$LOG.out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"{s['records']} records: asked in {s['ask_seconds']:.2f} s ({s['queries_per_second']:.0f} queries/s), "
      f"total {s['total_seconds']:.2f} s; agree {s['agree']}, disagree {s['disagree']}, errors {s['errors']}")
PY
rm -f "$LOG.out"
