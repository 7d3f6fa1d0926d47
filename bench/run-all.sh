#!/usr/bin/env bash
# Builds dnslab in release mode and runs every benchmark: Do53 UDP/TCP and DoT/DoH against
# dnsdist, then the policy engine benchmark if it is built. Benchmarks, not tests: the exit
# status is non-zero only when the build or a set-up fails. Loopback only; bounded in time
# (about 4 minutes with the defaults).
#
# Usage: bench/run-all.sh [BUILD_DIR]   (default: build-bench, configured --buildtype=release)
# The BENCH_* knobs of bench/lib.sh apply to every script; see docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build-bench}"

if [ ! -f "$BUILD/build.ninja" ]; then
    # GCC 12 at -O3 reports a false -Wrestrict inside std::string's operator+ (GCC PR 105651),
    # which -Werror turns into a failed build; the warning is off for this release build only.
    meson setup "$BUILD" "$ROOT" --buildtype=release -Dcpp_args=-Wno-restrict
fi
if [ "$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')" != release ]; then
    echo "bench: $BUILD is not a release build; benchmarks must measure optimised code" >&2
    exit 2
fi
# Only what the benchmarks run: the resolver, and the policy benchmark when it exists.
targets=(resolver/dnslab-resolver)
[ ! -f "$ROOT/bench/policy/meson.build" ] || targets+=(bench/policy/bench_policy)
ninja -C "$BUILD" "${targets[@]}"

echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(uname -r), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$ROOT/bench/do53.sh" "$BUILD"
echo
"$ROOT/bench/dot_doh.sh" "$BUILD"
echo
"$ROOT/bench/telemetry.sh" "$BUILD"
if [ -x "$BUILD/bench/policy/bench_policy" ]; then
    echo
    echo "policy engine (bench/policy, generated export: bench/gen_policy_export.py):"
    export_dir="$(mktemp -d /tmp/dnslab-bench-export.XXXXXX)"
    python3 "$ROOT/bench/gen_policy_export.py" "$ROOT/fixtures" "$export_dir" 500 1000000 --print-mix
    timeout 300 "$BUILD/bench/policy/bench_policy" "$export_dir" || true
    rm -rf "$export_dir"
fi
if [ -x "$ROOT/bench/policy_transports.sh" ]; then
    echo
    ninja -C "$BUILD" bench/udp_echo
    timeout 900 "$ROOT/bench/policy_transports.sh" "$BUILD"
fi
if [ -x "$ROOT/bench/workers.sh" ]; then
    echo
    timeout 600 "$ROOT/bench/workers.sh" "$BUILD"
fi
if [ -x "$ROOT/bench/policy_qps.sh" ]; then
    echo
    timeout 600 "$ROOT/bench/policy_qps.sh" "$BUILD"
fi
echo
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
