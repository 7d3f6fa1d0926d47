#!/bin/sh
# SPDX-License-Identifier: MIT
# dnslab-selftest.sh: the customer self-test (docs/selftest.md) as one POSIX sh script, for a
# machine that may not run a downloaded binary, or is a Mac. It uses what such machines have:
# dig, kdig or nslookup for plain DNS; kdig, dig 9.18 or `openssl s_client` for DNS over TLS;
# curl for DNS over HTTPS; openssl for the certificate facts; /etc/resolv.conf or
# `scutil --dns`. It runs the checks of `dnslab-probe selftest` as far as those tools allow,
# reports every check it could not run as "skipped" with the reason, and writes report.json in
# the same schema (dnslab.selftest.v1, tool.name "dnslab-selftest.sh"), which
# `dnslab-probe selftest diff` reads.
#
#   sh dnslab-selftest.sh --doh https://SUB.cloudflare-gateway.com/dns-query \
#      --dot SUB.cloudflare-gateway.com --ipv4 ADDR [--ipv6 ADDR] [--redact]
#
# Only the endpoints given are contacted (DNS queries and TLS handshakes); nothing is uploaded.
# Exit status: 0 every check passed, 1 a check failed, 2 the self-test could not run.
#
# Written for dash, bash, busybox ash and macOS /bin/sh; awk code sticks to what mawk and the
# BSD awk accept. DNSLAB_SELFTEST_TOOLS (comma list: dig,kdig,nslookup,curl,openssl) limits
# the tools used, so the other code paths can be tested on one machine.

# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
VERSION="0.1.0"
SCHEMA="dnslab.selftest.v1"
PROG="dnslab-selftest.sh"

usage() {
    cat <<'EOF'
dnslab-selftest.sh: checks how this machine reaches its DNS resolver and writes one file to
attach to a support ticket (the script form of dnslab-selftest).

Usage: sh dnslab-selftest.sh [OPTIONS]

Your resolver (Cloudflare Gateway location):
  --doh URL            DoH URL, https://<sub>.cloudflare-gateway.com/dns-query
  --dot HOST[:PORT]    DoT host, <sub>.cloudflare-gateway.com
  --ipv4 ADDR[:PORT]   Plain DNS over IPv4 (the location's address)
  --ipv6 ADDR          Plain DNS over IPv6 (ADDR or [ADDR]:PORT)
  --ca FILE            Trust store for DoT/DoH (default: the system's; lab: the lab CA)
  --expected-issuer X  CA PEM file or issuer name text a genuine chain leads to
The dnslab lab instead:
  --lab FILE           Ready file of a running dnslab-resolver
  --lab-host SPEC      ADDR:udp=P,tcp=P,tls=P,https=P
Names asked:
  --name NAME          Also classify this name's policy outcome (repeatable)
  --test-name NAME     Replace the Gateway category test names (repeatable)
  --reach-name NAME    Name asked over every transport (gateway: www.cloudflare.com)
  --large-name NAME    Name with a TXT answer above 1232 bytes (lab: big.example.com)
  --signed-name NAME   DNSSEC-signed name for the AD check (gateway: cloudflare.com)
  --error-name NAME    Name whose answer is an error (gateway: dnssec-failed.org)
Report:
  --out DIR            Directory for report.json, report.md, summary.txt
  --bundle FILE        The .tar.gz to attach to a ticket (default OUT.tar.gz)
  --redact             Replace this machine's addresses and host name with placeholders
  --json               Print report.json instead of the summary
  --no-color           No ANSI colours
  -q, --quiet          No progress lines on stderr
Tuning:
  --resolv-conf FILE   System resolver configuration to report (default /etc/resolv.conf)
  --timeout MS         Per-query timeout (default 2000)
  -h, --help           This text;  --version  the version

What it checks: whether this machine reaches your DNS resolver over plain DNS (UDP and TCP,
IPv4 and IPv6), DNS over TLS and DNS over HTTPS; the TLS certificate each encrypted endpoint
presents (a middlebox intercepting TLS shows up here); whether plain DNS is answered by the
same resolver as the encrypted transports; how the Gateway category test names and your
--name names are answered; EDNS, truncation and TCP fallback, DNSSEC validation, Extended DNS
Errors; this machine's clock, resolver configuration and operating system. A check the tools
on this machine cannot run is reported as skipped, with the reason.

What it sends, and to whom: DNS queries and TLS handshakes to the endpoints you name, and
nothing else. Nothing is uploaded.

What it writes: a directory dnslab-selftest-<time>/ with report.json, report.md and
summary.txt, and one file, dnslab-selftest-<time>.tar.gz: attach that file to your ticket.
EOF
}

# ---- small helpers ----------------------------------------------------------------------

say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
cannot_run() {
    warn "$*"
    cleanup
    exit 2
}

# Tools, optionally limited by DNSLAB_SELFTEST_TOOLS for tests.
have() {
    if [ -n "${DNSLAB_SELFTEST_TOOLS:-}" ]; then
        case ",$DNSLAB_SELFTEST_TOOLS," in
        *",$1,"*) ;;
        *) return 1 ;;
        esac
    fi
    command -v "$1" >/dev/null 2>&1
}

# JSON string of $1 (control characters other than tab and newline are dropped).
js() {
    printf '%s' "$1" | awk 'BEGIN { ORS = ""; printf "\"" }
        { if (NR > 1) printf "\\n"; s = $0; gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
          gsub(/\t/, "\\t", s); gsub(/\r/, "", s); gsub(/[\001-\010\013\014\016-\037]/, "", s)
          printf "%s", s }
        END { printf "\"" }'
}
# JSON number of $1, or null when empty.
jn() { if [ -n "$1" ]; then printf '%s' "$1"; else printf 'null'; fi; }
# JSON string, or null when empty.
jsn() { if [ -n "$1" ]; then js "$1"; else printf 'null'; fi; }
jb() { if [ "$1" = 1 ]; then printf 'true'; else printf 'false'; fi; }
# JSON array of strings from the lines of file/stdin.
jarr() {
    awk 'BEGIN { ORS = ""; printf "["; n = 0 }
        NF > 0 || length($0) > 0 { s = $0; gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
          gsub(/\t/, "\\t", s); gsub(/[\001-\010\013\014\016-\037]/, "", s)
          printf "%s\"%s\"", (n++ ? "," : ""), s }
        END { printf "]" }' "$@"
}

# Runs "$3..." with stdin from file $2, killed after $1 seconds (openssl s_client has no
# timeout of its own). Uses timeout(1) when present; otherwise a watcher subshell stops the
# command by its PID. A background job reads /dev/null unless redirected, hence the file.
run_limited() {
    rl_secs=$1
    rl_in=$2
    shift 2
    if have timeout; then
        timeout "$rl_secs" "$@" <"$rl_in"
        return $?
    fi
    "$@" <"$rl_in" &
    rl_pid=$!
    (
        trap - INT TERM HUP
        sleep "$rl_secs"
        kill "$rl_pid" 2>/dev/null
    ) >/dev/null 2>&1 &
    rl_watch=$!
    wait "$rl_pid"
    rl_rc=$?
    kill "$rl_watch" 2>/dev/null
    wait "$rl_watch" 2>/dev/null
    return $rl_rc
}

now_ms() {
    # Milliseconds where date(1) has %N (GNU, busybox); whole seconds elsewhere (macOS).
    nm=$(date +%s%N 2>/dev/null)
    case "$nm" in
    *N | "") printf '%s000' "$(date +%s)" ;;
    *) printf '%s' "${nm%??????}" ;;
    esac
}

# Epoch seconds of an HTTP date ("Tue, 01 Dec 2026 10:10:30 GMT") or an OpenSSL date
# ("Dec  1 10:11:27 2026 GMT"), computed in awk so that no date(1) dialect is needed.
EPOCH_AWK='
function days_from_civil(y, m, d,   era, yoe, doy, doe) {
    y -= (m <= 2); era = int((y >= 0 ? y : y - 399) / 400); yoe = y - era * 400
    doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
    return era * 146097 + doe - 719468
}
{
    mon = "JanFebMarAprMayJunJulAugSepOctNovDec"; y = m = d = t = ""
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^[A-Z][a-z][a-z],?$/ && index(mon, $i) > 0 && length($i) == 3) m = (index(mon, $i) + 2) / 3
        else if ($i ~ /^[0-9][0-9]?$/) d = $i + 0
        else if ($i ~ /^[0-9][0-9][0-9][0-9]$/) y = $i + 0
        else if ($i ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/) t = $i
    }
    if (y == "" || m == "" || d == "" || t == "") { print ""; next }
    split(t, hms, ":")
    print days_from_civil(y, m, d) * 86400 + hms[1] * 3600 + hms[2] * 60 + hms[3]
}'
epoch_of() { printf '%s\n' "$1" | awk "$EPOCH_AWK"; }
iso_of() { # epoch -> 2026-12-01T10:10:30Z, in awk (civil_from_days)
    awk -v e="$1" 'BEGIN { if (e == "") { print ""; exit }
        z = int(e / 86400); s = e - z * 86400; z += 719468
        era = int((z >= 0 ? z : z - 146096) / 146097); doe = z - era * 146097
        yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
        y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
        mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
        m = mp + (mp < 10 ? 3 : -9); y += (m <= 2)
        printf "%04d-%02d-%02dT%02d:%02d:%02dZ\n", y, m, d, int(s / 3600), int(s % 3600 / 60), s % 60 }'
}

# ---- DNS messages -------------------------------------------------------------------------

# Writes the bytes given as decimal numbers (printf's \ooo escapes are POSIX).
bytes() {
    # shellcheck disable=SC2059 # the format is the octal escapes built here
    printf "$(printf '\\%03o' "$@")"
}

QID=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ')
[ -n "$QID" ] || QID=$$

# Writes a query to file $1 for name $2, type number $3, class number $4 (1 IN, 3 CH), with
# RD and an OPT record for 1232 bytes (DO when $5 = 1). Sets LAST_ID.
build_query() {
    QID=$(((QID + 1) % 65536))
    LAST_ID=$QID
    bq_do=0
    [ "${5:-0}" = 1 ] && bq_do=128
    {
        bytes $((QID / 256)) $((QID % 256)) 1 0 0 1 0 0 0 0 0 1
        bq_rest=${2%.}
        while [ -n "$bq_rest" ]; do
            bq_label=${bq_rest%%.*}
            case "$bq_rest" in
            *.*) bq_rest=${bq_rest#*.} ;;
            *) bq_rest="" ;;
            esac
            bytes ${#bq_label}
            printf '%s' "$bq_label"
        done
        bytes 0 $(($3 / 256)) $(($3 % 256)) $(($4 / 256)) $(($4 % 256))
        bytes 0 0 41 4 208 0 0 "$bq_do" 0 0 0
    } >"$1"
}

# A stream of DNS messages (DoH body, or TCP/DoT framed with 2-byte lengths when framed=1)
# to the normalised result form, one block per message:
#   msg / id N / rcode NAME / flags qr rd ... / edns 0|1 / udp N / ede CODE / an TYPE RDATA /
#   size N / end
WIRE_AWK='
function u8(i) { return b[i] + 0 }
function u16(i) { return b[i] * 256 + b[i + 1] }
function name(i, lim,   out, len, hops, j) {
    out = ""; hops = 0
    while (i < lim) {
        len = b[i]
        if (len == 0) { if (!hops) NEXT = i + 1; return out == "" ? "." : out }
        if (len >= 192) {
            if (!hops) NEXT = i + 2
            i = base + (len - 192) * 256 + b[i + 1]; if (++hops > 32) return out; continue
        }
        for (j = 1; j <= len; j++) { c = b[i + j]; out = out sprintf("%c", (c > 32 && c < 127) ? c : 63) }
        out = out "."; i += len + 1
    }
    NEXT = lim; return out
}
function hex4(v) { return sprintf("%x", v) }
function aaaa(i,   g, k, bs, bl, cs, cl, out) {
    for (k = 0; k < 8; k++) g[k] = u16(i + 2 * k)
    bs = -1; bl = 0; cs = -1; cl = 0
    for (k = 0; k < 8; k++) {
        if (g[k] == 0) { if (cs < 0) { cs = k; cl = 0 } cl++; if (cl > bl) { bl = cl; bs = cs } }
        else cs = -1
    }
    if (bl < 2) bs = -1
    out = ""
    for (k = 0; k < 8; k++) {
        if (k == bs) { out = out "::"; k += bl - 1; continue }
        if (out != "" && substr(out, length(out)) != ":") out = out ":"
        out = out hex4(g[k])
    }
    return out
}
function txt(i, end,   out, len, j, c) {
    out = ""
    while (i < end) {
        len = b[i]; out = out (out == "" ? "" : " ") "\""
        for (j = 1; j <= len && i + j < end; j++) {
            c = b[i + j]
            if (c == 34 || c == 92) out = out "\\" sprintf("%c", c)
            else if (c >= 32 && c < 127) out = out sprintf("%c", c)
            else out = out sprintf("\\%03d", c)
        }
        out = out "\""; i += len + 1
    }
    return out
}
function rcname(r) {
    return r == 0 ? "NOERROR" : r == 1 ? "FORMERR" : r == 2 ? "SERVFAIL" : r == 3 ? "NXDOMAIN" : \
        r == 4 ? "NOTIMP" : r == 5 ? "REFUSED" : r == 6 ? "YXDOMAIN" : r == 7 ? "YXRRSET" : \
        r == 8 ? "NXRRSET" : r == 9 ? "NOTAUTH" : r == 10 ? "NOTZONE" : r == 16 ? "BADVERS" : "RCODE" r
}
function typename(t) {
    return t == 1 ? "A" : t == 2 ? "NS" : t == 5 ? "CNAME" : t == 6 ? "SOA" : t == 15 ? "MX" : \
        t == 16 ? "TXT" : t == 28 ? "AAAA" : t == 41 ? "OPT" : "TYPE" t
}
function bit(v, k) { return int(v / 2 ^ k) % 2 }
function message(start, lim,   fl, qd, an, ns, ar, i, k, t, cl, ttl, rdl, rd, ext, o, oc, ol, f) {
    base = start
    if (lim - start < 12) { print "msg"; print "error short answer (" (lim - start) " bytes)"; print "end"; return }
    fl = u16(start + 2); qd = u16(start + 4); an = u16(start + 6); ns = u16(start + 8); ar = u16(start + 10)
    print "msg"; print "id " u16(start); print "size " (lim - start)
    f = ""
    if (bit(fl, 15)) f = f " qr"; if (bit(fl, 10)) f = f " aa"; if (bit(fl, 9)) f = f " tc"
    if (bit(fl, 8)) f = f " rd"; if (bit(fl, 7)) f = f " ra"; if (bit(fl, 5)) f = f " ad"
    if (bit(fl, 4)) f = f " cd"
    print "flags" f
    i = start + 12
    for (k = 0; k < qd; k++) { name(i, lim); i = NEXT + 4 }
    ext = 0; edns = 0
    for (k = 0; k < an + ns + ar && i < lim; k++) {
        name(i, lim); i = NEXT
        t = u16(i); cl = u16(i + 2); rdl = u16(i + 8); rd = i + 10; i = rd + rdl
        if (i > lim) { print "error truncated record"; break }
        if (t == 41) {
            edns = 1; print "udp " cl; ext = b[rd - 6] + 0
            for (o = rd; o + 4 <= rd + rdl; o += 4 + ol) {
                oc = u16(o); ol = u16(o + 2)
                if (oc == 15 && ol >= 2) print "ede " u16(o + 4)
            }
            continue
        }
        if (k >= an) continue
        if (t == 1 && rdl == 4) print "an A " b[rd] "." b[rd + 1] "." b[rd + 2] "." b[rd + 3]
        else if (t == 28 && rdl == 16) print "an AAAA " aaaa(rd)
        else if (t == 5) print "an CNAME " name(rd, rd + rdl)
        else if (t == 16) print "an TXT " txt(rd, rd + rdl)
        else print "an " typename(t) " (" rdl " bytes)"
    }
    print "edns " edns
    print "rcode " rcname(ext * 16 + fl % 16)
    print "end"
}
{ for (k = 1; k <= NF; k++) b[n++] = $k }
END {
    if (n == 0) { print "msg"; print "error no answer"; print "end"; exit }
    if (framed) {
        p = 0
        while (p + 2 <= n) { len = b[p] * 256 + b[p + 1]; if (p + 2 + len > n) break; message(p + 2, p + 2 + len); p += 2 + len }
    } else message(0, n)
}'

# dig and kdig output to the same result form.
DIG_AWK='
BEGIN { have = 0; ans = 0 }
/->>HEADER<<-/ {
    have = 1; s = $0; sub(/.*status: /, "", s); sub(/[,;].*/, "", s); rc = s
    s = $0; sub(/.*id: /, "", s); sub(/[^0-9].*/, "", s); id = s
}
/^;; [Ff]lags:/ { s = $0; sub(/^;; [Ff]lags: */, "", s); sub(/;.*/, "", s); flags = s }
/^; EDNS: version/ { edns = 1; s = $0; sub(/.*udp: /, "", s); sub(/[^0-9].*/, "", s); udp = s }
/^;; Version: [0-9]+; flags:/ { edns = 1; s = $0; sub(/.*UDP size: /, "", s); sub(/[^0-9].*/, "", s); udp = s }
/^;+ EDE: [0-9]+/ { s = $0; sub(/^;+ EDE: /, "", s); sub(/[^0-9].*/, "", s); ede[++ne] = s }
/^;; ANSWER SECTION:/ { ans = 1; next }
ans && /^[ \t]*$/ { ans = 0 }
ans && !/^;/ {
    r = $5; for (i = 6; i <= NF; i++) r = r " " $i
    an[++na] = $4 " " r
}
/^;; MSG SIZE +rcvd: / { size = $NF }
/^;; Received [0-9]+ B/ { size = $3 }
/^;; Query time: / { ms = $4 }
/^;; From .* in [0-9.]+ ms/ { ms = $(NF - 1) }
/timed out|no servers could be reached|connection refused|failed to query|communications error|TLS|handshake|certificate/ && !/^;; TLS session/ { if (err == "") err = $0 }
END {
    print "msg"
    if (!have) { sub(/^;+ */, "", err); print "error " (err == "" ? "no answer" : err); print "end"; exit }
    print "id " id; print "rcode " rc; print "flags " flags; print "edns " (edns + 0)
    if (udp != "") print "udp " udp
    for (i = 1; i <= ne; i++) print "ede " ede[i]
    for (i = 1; i <= na; i++) print "an " an[i]
    if (size != "") print "size " size
    if (ms != "") print "ms " ms
    print "end"
}'

# nslookup output (no EDNS or header facts) to the result form.
NSLOOKUP_AWK='
/^Name:/ { inans = 1 }
inans && /^Address: / { a = $2; sub(/#.*/, "", a); an[++na] = (index(a, ":") ? "AAAA " : "A ") a }
/canonical name = / { s = $0; sub(/.*canonical name = /, "", s); an[++na] = "CNAME " s }
/text = / { s = $0; sub(/.*text = /, "", s); an[++na] = "TXT " s }
/server can.t find/ { s = $NF; rc = s }
/no servers could be reached|timed out|connection refused|failed/ { if (err == "") err = $0 }
/Non-authoritative answer|Authoritative answers/ { ok = 1 }
END {
    print "msg"
    if (rc == "" && na == 0 && !ok) { print "error " (err == "" ? "no answer" : err); print "end"; exit }
    print "rcode " (rc == "" ? "NOERROR" : rc)
    for (i = 1; i <= na; i++) print "an " an[i]
    print "end"
}'

# Field $2 of result file $1 (first match), e.g. `res_get F rcode`.
res_get() { awk -v k="$2" '$1 == k { sub(/^[^ ]* ?/, ""); print; exit }' "$1"; }
res_ok() { [ -s "$1" ] && ! grep -q '^error ' "$1"; }
res_flag() { res_get "$1" flags | tr ' ' '\n' | grep -qx "$2"; }
res_answers() { awk '$1 == "an" { sub(/^an /, ""); print }' "$1"; }

type_num() {
    case "$1" in
    A) printf 1 ;; TXT) printf 16 ;; AAAA) printf 28 ;; CNAME) printf 5 ;; *) printf 1 ;;
    esac
}

# ---- transports ---------------------------------------------------------------------------
# Each writes the result of one question to file $1 (see WIRE_AWK).

# Plain DNS: $2 udp|tcp, $3 host, $4 port, $5 name, $6 type, $7 class (IN|CH), $8 1 = DO bit.
q_plain() {
    qp_secs=$(((TIMEOUT_MS + 999) / 1000))
    qp_tcp=""
    [ "$2" = tcp ] && qp_tcp="+tcp"
    qp_do=""
    case "$PLAIN_TOOL" in
    dig)
        [ "${8:-0}" = 1 ] && qp_do="+dnssec"
        # shellcheck disable=SC2086 # the empty options must vanish
        dig @"$3" -p "$4" +tries=1 +time="$qp_secs" +bufsize=1232 +ignore $qp_tcp $qp_do \
            -q "$5" -t "$6" -c "$7" 2>&1 | awk "$DIG_AWK" >"$1"
        ;;
    kdig)
        [ "${8:-0}" = 1 ] && qp_do="+dnssec"
        # shellcheck disable=SC2086
        kdig @"$3" -p "$4" +retry=0 +time="$qp_secs" +edns=0 +bufsize=1232 +ignore $qp_tcp $qp_do \
            -q "$5" -t "$6" -c "$7" 2>&1 | awk "$DIG_AWK" >"$1"
        ;;
    nslookup)
        qp_vc=""
        [ "$2" = tcp ] && qp_vc="-vc"
        # shellcheck disable=SC2086
        nslookup $qp_vc -port="$4" -timeout="$qp_secs" -retry=1 -class="$7" -type="$6" "$5" "$3" \
            2>&1 | awk "$NSLOOKUP_AWK" >"$1"
        ;;
    *) printf 'msg\nerror no DNS client (dig, kdig or nslookup)\nend\n' >"$1" ;;
    esac
}

# DNS over TLS: $2 host, $3 port, $4 name, $5 type, $6 class.
q_dot() {
    qt_secs=$(((TIMEOUT_MS + 999) / 1000))
    qt_host=""
    is_ip "$2" || qt_host="$2"
    case "$DOT_TOOL" in
    kdig)
        qt_ca="+tls-ca"
        [ -n "$CA" ] && qt_ca="+tls-ca=$CA"
        qt_hn=""
        [ -n "$qt_host" ] && qt_hn="+tls-hostname=$qt_host"
        # shellcheck disable=SC2086
        kdig @"$2" -p "$3" +tls "$qt_ca" $qt_hn +retry=0 +time="$qt_secs" +edns=0 +bufsize=1232 \
            -q "$4" -t "$5" -c "$6" 2>&1 | awk "$DIG_AWK" >"$1"
        ;;
    dig)
        qt_ca="+tls-ca"
        [ -n "$CA" ] && qt_ca="+tls-ca=$CA"
        qt_hn=""
        [ -n "$qt_host" ] && qt_hn="+tls-hostname=$qt_host"
        # shellcheck disable=SC2086
        dig @"$2" -p "$3" +tls "$qt_ca" $qt_hn +tries=1 +time="$qt_secs" +bufsize=1232 \
            -q "$4" -t "$5" -c "$6" 2>&1 | awk "$DIG_AWK" >"$1"
        ;;
    openssl)
        build_query "$1.q" "$4" "$(type_num "$5")" "$(class_num "$6")"
        dot_batch "$2" "$3" "$1" "$1.q"
        rm -f "$1.q"
        ;;
    *) printf 'msg\nerror no DoT client (kdig, dig 9.18 or openssl)\nend\n' >"$1" ;;
    esac
}

class_num() { if [ "$1" = CH ]; then printf 3; else printf 1; fi; }

# DoT through `openssl s_client`: sends every query file in $4... on one TLS connection
# (RFC 7858 §3.3 lets queries be pipelined), keeps it open until as many answers as queries
# arrived or the timeout passed, and writes their results to $3 (one block per answer, in
# arrival order; match them by id).
dot_batch() {
    db_host=$1
    db_port=$2
    db_out=$3
    shift 3
    db_n=$#
    db_in="$db_out.in"
    db_raw="$db_out.raw"
    : >"$db_in"
    : >"$db_raw"
    for db_q in "$@"; do
        db_len=$(wc -c <"$db_q" | tr -d ' ')
        bytes $((db_len / 256)) $((db_len % 256)) >>"$db_in"
        cat "$db_q" >>"$db_in"
    done
    db_ca=""
    [ -n "$CA" ] && db_ca="-CAfile $CA"
    db_sni=""
    is_ip "$db_host" || db_sni="-servername $db_host"
    db_naps=$(((TIMEOUT_MS + 199) / 200 + 5))
    # The writer holds stdin open until the answers are in; at its end of file s_client
    # closes the connection (-no_ign_eof). A stalled handshake never reads stdin, so the
    # watcher below stops s_client by its PID.
    # shellcheck disable=SC2086
    {
        trap - INT TERM HUP
        cat "$db_in"
        db_i=0
        while [ "$db_i" -lt "$db_naps" ]; do
            nap
            db_i=$((db_i + 1))
            [ "$(frames_in "$db_raw")" -ge "$db_n" ] && break
        done
    } | openssl s_client -quiet -no_ign_eof -connect "$(hostport "$db_host" "$db_port")" \
        $db_sni -alpn dot $db_ca >"$db_raw" 2>/dev/null &
    db_pid=$!
    (
        trap - INT TERM HUP
        sleep $((db_naps / 5 + 2))
        kill "$db_pid" 2>/dev/null
    ) >/dev/null 2>&1 &
    db_watch=$!
    wait "$db_pid"
    kill "$db_watch" 2>/dev/null
    wait "$db_watch" 2>/dev/null
    if [ -s "$db_raw" ]; then
        od -An -v -tu1 "$db_raw" | awk -v framed=1 "$WIRE_AWK" >"$db_out"
    else
        printf 'msg\nerror no answer over TLS from %s\nend\n' "$(hostport "$db_host" "$db_port")" >"$db_out"
    fi
    rm -f "$db_in" "$db_raw"
}

# A fifth of a second where sleep(1) takes fractions (GNU, BSD, busybox), else a second.
nap() { sleep 0.2 2>/dev/null || sleep 1; }

# Splits the blocks of a batch result $1 by message id into files: $2 lists "id file" lines.
split_by_id() {
    awk -v map="$2" 'BEGIN { while ((getline l < map) > 0) { split(l, f, " "); file[f[1]] = f[2] } }
        $1 == "msg" { buf = $0 "\n"; id = ""; next }
        $1 == "id" { id = $2 }
        { buf = buf $0 "\n" }
        $1 == "end" { if (id in file) { printf "%s", buf > file[id]; close(file[id]) } }' "$1"
}

# Number of complete 2-byte-length-framed messages in file $1.
frames_in() {
    if [ ! -s "$1" ]; then
        printf 0
        return
    fi
    od -An -v -tu1 "$1" | awk '{ for (k = 1; k <= NF; k++) b[n++] = $k }
        END { p = 0; c = 0; while (p + 2 <= n) { l = b[p] * 256 + b[p + 1]; if (p + 2 + l > n) break; c++; p += 2 + l }; print c }'
}

# DNS over HTTPS (RFC 8484 POST): $2 URL, $3 HTTP version (2 | 1.1), $4 name, $5 type,
# $6 class, $7 1 = DO. Also records the HTTP status, timings and Date header.
q_doh() {
    qh_q="$1.q"
    build_query "$qh_q" "$4" "$(type_num "$5")" "$(class_num "$6")" "${7:-0}"
    qh_body="$1.body"
    qh_hdr="$1.hdr"
    : >"$qh_body"
    qh_cacert=""
    [ -n "$CA" ] && qh_cacert="--cacert $CA"
    qh_v="--http1.1"
    [ "$3" = 2 ] && qh_v="--http2"
    qh_secs=$(((TIMEOUT_MS + 999) / 1000))
    # shellcheck disable=SC2086
    qh_w=$(curl -sS $qh_v $qh_cacert --max-time "$qh_secs" -o "$qh_body" -D "$qh_hdr" \
        -H 'content-type: application/dns-message' -H 'accept: application/dns-message' \
        --data-binary @"$qh_q" -w '%{http_code} %{time_connect} %{time_appconnect} %{time_total} %{http_version}' \
        "$2" 2>"$qh_hdr.err")
    qh_rc=$?
    # When the Date header was read, for the clock check (the reach question only: one date(1)
    # run per check, not per query).
    qh_now=""
    case "$1" in */r.reach.*) qh_now=$(date -u +%s) ;; esac
    # shellcheck disable=SC2086 # split the -w fields into $2...
    set -- "$1" $qh_w
    {
        if [ "$qh_rc" -ne 0 ]; then
            printf 'msg\nerror %s\nend\n' "$(tail -n 1 "$qh_hdr.err" | sed 's/^curl: ([0-9]*) //')"
        elif [ "$2" != 200 ]; then
            printf 'msg\nerror HTTP status %s\nend\n' "$2"
        else
            od -An -v -tu1 "$qh_body" | awk -v framed=0 "$WIRE_AWK"
        fi
        # Status, version, timings (curl -w) and the Date header in one awk run.
        awk -v st="${2:-}" -v ver="${6:-}" -v c="${3:-0}" -v a="${4:-0}" -v t="${5:-0}" \
            -v now="$qh_now" 'BEGIN { if (a == 0) a = c
                printf "http_status %s\nhttp_version %s\nconnect_ms %.1f\nms %.1f\n", st, ver, a * 1000, (t - a) * 1000
                if (now != "") print "received_at " now }
            { sub(/\r$/, "") } tolower($1) == "date:" { sub(/^[^:]*: */, ""); print "date " $0 }' "$qh_hdr"
    } >"$1"
}

is_ip() {
    case "$1" in
    *:*) return 0 ;;
    *[!0-9.]*) return 1 ;;
    *) return 0 ;;
    esac
}
hostport() { case "$1" in *:*) printf '[%s]:%s' "$1" "$2" ;; *) printf '%s:%s' "$1" "$2" ;; esac; }

# Asks endpoint $2 (udp4 ... doh-h1) question $3 $4 [$5 class] [$6 DO]; result in file $1.
ask() {
    ak_class=${5:-IN}
    ak_v=$(ep "$2" host)
    ak_p=$(ep "$2" port)
    case "$2" in
    udp*) q_plain "$1" udp "$ak_v" "$ak_p" "$3" "$4" "$ak_class" "${6:-0}" ;;
    tcp*) q_plain "$1" tcp "$ak_v" "$ak_p" "$3" "$4" "$ak_class" "${6:-0}" ;;
    dot) q_dot "$1" "$ak_v" "$ak_p" "$3" "$4" "$ak_class" ;;
    doh-h2) q_doh "$1" "$(ep doh url)" 2 "$3" "$4" "$ak_class" "${6:-0}" ;;
    doh-h1) q_doh "$1" "$(ep doh url)" 1.1 "$3" "$4" "$ak_class" "${6:-0}" ;;
    esac
}

# Asks question $2 $3 [$4 class] of every endpoint in $5... at once, one background job each
# (the answers come in parallel, as the binary's engine asks them); results in $1.<id>.
ask_each() {
    ae_prefix=$1
    ae_name=$2
    ae_type=$3
    ae_class=$4
    shift 4
    ae_pids=""
    for ae_id in "$@"; do
        (
            trap - INT TERM HUP
            ask "$ae_prefix.$ae_id" "$ae_id" "$ae_name" "$ae_type" "$ae_class"
        ) &
        ae_pids="$ae_pids $!"
    done
    for ae_p in $ae_pids; do wait "$ae_p"; done
}

# ---- endpoints ----------------------------------------------------------------------------
# Kept as variables EP_<id>_<field> (id with '-' as '_'): host, port, url.

ep_var() { printf 'EP_%s_%s' "$(printf '%s' "$1" | tr '-' '_')" "$2"; }
ep() { eval "printf '%s' \"\${$(ep_var "$1" "$2"):-}\""; }
ep_set() { eval "$(ep_var "$1" "$2")=\$3"; }
ep_known() { [ -n "$(ep "$1" host)" ]; }

# HOST:PORT, [V6]:PORT, bare V6 or HOST -> "host port" (default port $2).
split_hp() {
    case "$1" in
    \[*\]:*) sh_h=${1#\[}; sh_h=${sh_h%%\]*}; sh_p=${1##*\]:} ;;
    \[*\]) sh_h=${1#\[}; sh_h=${sh_h%\]}; sh_p=$2 ;;
    *:*:*) sh_h=$1; sh_p=$2 ;;
    *:*) sh_h=${1%:*}; sh_p=${1##*:} ;;
    *) sh_h=$1; sh_p=$2 ;;
    esac
    case "$sh_p" in
    "" | *[!0-9]*) cannot_run "bad port in '$1'" ;;
    esac
    SPLIT_HOST=$sh_h
    SPLIT_PORT=$sh_p
}

add_plain() { # host port proto(udp|tcp|both)
    ap_fam=4
    case "$1" in *:*) ap_fam=6 ;; esac
    for ap_s in udp tcp; do
        case "$3" in both | "$ap_s") ;; *) continue ;; esac
        ep_set "$ap_s$ap_fam" host "$1"
        ep_set "$ap_s$ap_fam" port "$2"
        ep_set "$ap_s$ap_fam" url "$ap_s://$(hostport "$1" "$2")"
    done
}
add_dot() {
    ep_set dot host "$1"
    ep_set dot port "$2"
    ep_set dot url "tls://$(hostport "$1" "$2")"
}
add_doh() { # URL
    ad_rest=${1#https://}
    ad_auth=${ad_rest%%/*}
    ad_path=/${ad_rest#*/}
    [ "$ad_rest" = "$ad_auth" ] && ad_path=/dns-query
    ad_path=${ad_path%%\?*}
    split_hp "$ad_auth" 443
    ep_set doh url "https://$(hostport "$SPLIT_HOST" "$SPLIT_PORT")$ad_path"
    for ad_id in doh-h2 doh-h1; do
        ep_set "$ad_id" host "$SPLIT_HOST"
        ep_set "$ad_id" port "$SPLIT_PORT"
    done
    ep_set doh-h2 url "https://$(hostport "$SPLIT_HOST" "$SPLIT_PORT")$ad_path?http=2&method=post"
    ep_set doh-h1 url "https://$(hostport "$SPLIT_HOST" "$SPLIT_PORT")$ad_path?http=1.1&method=post"
}

read_ready() {
    [ -r "$1" ] || cannot_run "cannot read lab ready file $1 (start the lab resolver with --ready-file, docs/selftest.md)"
    while IFS= read -r rr_line || [ -n "$rr_line" ]; do
        case "$rr_line" in
        "ca "*) [ -n "$CA" ] || CA=${rr_line#ca } ;;
        dns://* | udp://* | tcp://*)
            rr_hp=${rr_line#*://}
            rr_hp=${rr_hp%%/*}
            rr_hp=${rr_hp%%\?*}
            split_hp "$rr_hp" 53
            case "$rr_line" in dns://*) rr_k=both ;; udp://*) rr_k=udp ;; *) rr_k=tcp ;; esac
            add_plain "$SPLIT_HOST" "$SPLIT_PORT" "$rr_k"
            ;;
        tls://*)
            if ! ep_known dot; then
                rr_hp=${rr_line#tls://}
                rr_hp=${rr_hp%%/*}
                rr_hp=${rr_hp%%\?*}
                split_hp "$rr_hp" 853
                add_dot "$SPLIT_HOST" "$SPLIT_PORT"
            fi
            ;;
        https://*) ep_known doh-h2 || add_doh "${rr_line%%\?*}" ;;
        esac
    done <"$1"
}

read_lab_host() { # ADDR:udp=P,tcp=P,tls=P,https=P
    case "$1" in
    \[*\]:*) lh_h=${1#\[}; lh_h=${lh_h%%\]*}; lh_spec=${1##*\]:} ;;
    *) lh_h=${1%%:*}; lh_spec=${1#*:} ;;
    esac
    lh_old_ifs=$IFS
    IFS=,
    for lh_kv in $lh_spec; do
        lh_p=${lh_kv#*=}
        case "$lh_kv" in
        udp=*) add_plain "$lh_h" "$lh_p" udp ;;
        tcp=*) add_plain "$lh_h" "$lh_p" tcp ;;
        tls=*) add_dot "$lh_h" "$lh_p" ;;
        https=*) add_doh "https://$(hostport "$lh_h" "$lh_p")/dns-query" ;;
        [0-9]*) add_plain "$lh_h" "$lh_kv" both ;;
        esac
    done
    IFS=$lh_old_ifs
}

ALL_IDS="udp4 tcp4 udp6 tcp6 dot doh-h2 doh-h1"
transport_of() {
    case "$1" in udp*) printf udp ;; tcp*) printf tcp ;; dot) printf tls ;; *) printf https-post ;; esac
}
is_plain() { case "$1" in udp* | tcp*) return 0 ;; *) return 1 ;; esac; }

# ---- checks -------------------------------------------------------------------------------
# Each check is one JSON object per line in $WORK/checks.

EMPTY_OBJ='{}'
add_check() { # id category title verdict detail data-json
    printf '{"id":%s,"category":%s,"title":%s,"verdict":%s,"detail":%s,"data":%s}\n' \
        "$(js "$1")" "$(js "$2")" "$(js "$3")" "$(js "$4")" "$(js "$5")" "${6:-$EMPTY_OBJ}" \
        >>"${CHECKS_OUT:-$WORK/checks}"
}

progress() {
    [ "$QUIET" = 1 ] && return
    printf 'selftest [%s/7] %s...\n' "$1" "$2" >&2
    [ -n "${DNSLAB_SELFTEST_TRACE:-}" ] && printf '  at %s ms\n' "$(($(now_ms) - STARTED_MS))" >&2
    return 0
}

latency_json() { # result file
    lj_ms=$(res_get "$1" ms)
    lj_c=$(res_get "$1" connect_ms)
    printf '{"connect_ms":%s,"query_ms":%s,"server":null}' "$(jn "${lj_c:-0}")" "$(jn "$lj_ms")"
}

error_of() { res_get "$1" error; }

check_reachability() {
    UP=""
    cr_ask=""
    for cr_id in $ALL_IDS; do
        ep_known "$cr_id" && [ -z "$(tool_missing_for "$cr_id")" ] && cr_ask="$cr_ask $cr_id"
    done
    # shellcheck disable=SC2086 # one word per endpoint
    ask_each "$WORK/r.reach" "$REACH_NAME" A IN $cr_ask
    for cr_id in $ALL_IDS; do
        cr_title="Reachability over $cr_id"
        if ! ep_known "$cr_id"; then
            add_check "reachability.$cr_id" reachability "$cr_title" skipped "not configured"
            continue
        fi
        cr_why=$(tool_missing_for "$cr_id")
        if [ -n "$cr_why" ]; then
            add_check "reachability.$cr_id" reachability "$cr_title" skipped "$cr_why" \
                "{\"url\":$(js "$(ep "$cr_id" url)"),\"reason\":$(js "$cr_why")}"
            continue
        fi
        cr_f="$WORK/r.reach.$cr_id"
        cr_rc=$(res_get "$cr_f" rcode)
        cr_err=$(error_of "$cr_f")
        cr_http=""
        case "$cr_id" in doh*) cr_http=",\"http_status\":$(jn "$(res_get "$cr_f" http_status)")" ;; esac
        cr_data="{\"url\":$(js "$(ep "$cr_id" url)"),\"question\":$(js "$REACH_NAME A"),\"latency\":$(latency_json "$cr_f"),\"rcode\":$(jsn "$cr_rc"),\"error\":$(jsn "$cr_err")$cr_http,\"tool\":$(js "$(tool_for "$cr_id")")}"
        if [ -n "$cr_err" ] || [ -z "$cr_rc" ]; then
            add_check "reachability.$cr_id" reachability "$cr_title" fail \
                "no answer: ${cr_err:-unparsable answer}" "$cr_data"
        else
            cr_ms=$(res_get "$cr_f" ms)
            cr_detail="answered $cr_rc"
            [ -n "$cr_ms" ] && cr_detail="$cr_detail in $cr_ms ms"
            add_check "reachability.$cr_id" reachability "$cr_title" pass "$cr_detail" "$cr_data"
            UP="$UP $cr_id"
        fi
    done
}

tool_for() {
    case "$1" in
    udp* | tcp*) printf '%s' "$PLAIN_TOOL" ;;
    dot) printf '%s' "$DOT_TOOL" ;;
    doh-h2 | doh-h1) printf curl ;;
    esac
}

# Why endpoint $1 cannot be asked on this machine ("" when it can).
tool_missing_for() {
    case "$1" in
    udp* | tcp*) [ -n "$PLAIN_TOOL" ] || printf 'needs dig, kdig or nslookup (none installed)' ;;
    dot) [ -n "$DOT_TOOL" ] || printf 'needs kdig, dig 9.18 or openssl (none installed)' ;;
    doh-h2)
        if ! have curl; then
            printf 'needs curl (not installed)'
        elif ! curl -V 2>/dev/null | grep -qi 'HTTP2'; then
            printf 'this curl has no HTTP/2 support'
        fi
        ;;
    doh-h1) have curl || printf 'needs curl (not installed)' ;;
    esac
}

# ---- TLS facts ----------------------------------------------------------------------------

# Chain, protocol, trust, name and validity of endpoint $2 (dot|doh), as tls.$2's check.
check_tls_one() {
    ct_kind=$1
    if [ "$ct_kind" = dot ]; then
        ct_id=dot ct_alpn=dot ct_title="TLS certificate of DoT"
    else
        ct_id=doh-h2 ct_alpn=http/1.1 ct_title="TLS certificate of DoH"
    fi
    if ! ep_known "$ct_id"; then
        add_check "tls.$ct_kind" tls "$ct_title" skipped "not configured"
        return
    fi
    if ! have openssl; then
        add_check "tls.$ct_kind" tls "$ct_title" skipped "needs openssl (not installed)"
        return
    fi
    ct_h=$(ep "$ct_id" host)
    ct_p=$(ep "$ct_id" port)
    ct_out="$WORK/tls.$ct_kind"
    ct_sni=""
    is_ip "$ct_h" || ct_sni="-servername $ct_h"
    ct_ca=""
    [ -n "$CA" ] && ct_ca="-CAfile $CA"
    : >"$WORK/empty"
    # shellcheck disable=SC2086
    run_limited $(((TIMEOUT_MS + 999) / 1000 + 1)) "$WORK/empty" openssl s_client -showcerts \
        -connect "$(hostport "$ct_h" "$ct_p")" $ct_sni -alpn "$ct_alpn" $ct_ca \
        >"$ct_out" 2>&1
    # The presented chain, one PEM file per certificate.
    awk -v dir="$WORK" -v kind="$ct_kind" '/-----BEGIN CERTIFICATE-----/ { n++; f = dir "/cert." kind "." n }
        f != "" { print > f } /-----END CERTIFICATE-----/ { close(f); f = "" }' "$ct_out"
    ct_chain=""
    ct_issuer=""
    ct_n=0
    while [ -f "$WORK/cert.$ct_kind.$((ct_n + 1))" ]; do
        ct_n=$((ct_n + 1))
        ct_c="$WORK/cert.$ct_kind.$ct_n"
        # One openssl run per certificate (each start costs tens of milliseconds).
        openssl x509 -in "$ct_c" -noout -nameopt RFC2253 -subject -issuer -startdate -enddate \
            -fingerprint -sha256 >"$ct_c.txt" 2>/dev/null
        ct_subj=$(sed -n 's/^subject= *//p' "$ct_c.txt")
        ct_iss=$(sed -n 's/^issuer= *//p' "$ct_c.txt")
        ct_nb=$(sed -n 's/^notBefore=//p' "$ct_c.txt")
        ct_na=$(sed -n 's/^notAfter=//p' "$ct_c.txt")
        ct_fp=$(sed -n 's/^[sS][hH][aA]256 [fF]ingerprint=//p' "$ct_c.txt" | tr -d ':' | tr 'A-F' 'a-f')
        [ "$ct_n" = 1 ] && ct_issuer=$ct_iss ct_leaf_end=$ct_na ct_leaf_start=$ct_nb
        ct_chain="$ct_chain${ct_chain:+,}{\"subject\":$(js "$ct_subj"),\"issuer\":$(js "$ct_iss"),\"not_before\":$(js "$(iso_of "$(epoch_of "$ct_nb")")"),\"not_after\":$(js "$(iso_of "$(epoch_of "$ct_na")")"),\"sha256\":$(js "$ct_fp")}"
    done
    if [ "$ct_n" = 0 ]; then
        ct_err=$(grep -E -i 'error|errno|refused|timed out|alert' "$ct_out" | head -n 1)
        [ -n "$ct_err" ] || ct_err="no TLS handshake with $(hostport "$ct_h" "$ct_p")"
        add_check "tls.$ct_kind" tls "$ct_title" fail "$ct_err" \
            "{\"connected\":false,\"error\":$(js "$ct_err"),\"chain\":[],\"server_name\":$(js "$ct_h"),\"interception\":false}"
        return
    fi
    ct_proto=$(awk '/^ *Protocol *: / { print $3; exit }' "$ct_out")
    [ -n "$ct_proto" ] || ct_proto=$(sed -n 's/^New, \([^,]*\),.*/\1/p' "$ct_out" | head -n 1)
    ct_cipher=$(awk '/^ *Cipher *: / { print $3; exit }' "$ct_out")
    ct_alpn_got=$(sed -n 's/^ALPN protocol: //p' "$ct_out" | head -n 1)
    ct_vcode=$(sed -n 's/^ *Verify return code: \([0-9]*\).*/\1/p' "$ct_out" | tail -n 1)
    ct_vtext=$(sed -n 's/^ *Verify return code: [0-9]* (\(.*\))/\1/p' "$ct_out" | tail -n 1)
    ct_trusted=0
    [ "$ct_vcode" = 0 ] && ct_trusted=1
    if is_ip "$ct_h"; then
        ct_match=$(openssl x509 -in "$WORK/cert.$ct_kind.1" -noout -checkip "$ct_h" 2>/dev/null)
    else
        ct_match=$(openssl x509 -in "$WORK/cert.$ct_kind.1" -noout -checkhost "$ct_h" 2>/dev/null)
    fi
    # "" when this openssl cannot tell (LibreSSL before 3.x has no -checkhost): not judged.
    case "$ct_match" in
    *"does match"*) ct_name=1 ;;
    *"does NOT match"*) ct_name=0 ;;
    *) ct_name="" ;;
    esac
    ct_now=$(date -u +%s)
    ct_end=$(epoch_of "$ct_leaf_end")
    ct_start=$(epoch_of "$ct_leaf_start")
    ct_valid=0
    ct_days=""
    if [ -n "$ct_end" ] && [ -n "$ct_start" ]; then
        [ "$ct_now" -gt "$ct_start" ] && [ "$ct_now" -lt "$ct_end" ] && ct_valid=1
        ct_days=$(((ct_end - ct_now) / 86400))
    fi
    # Interception: the chain does not lead to the issuer a genuine endpoint has (a CA file
    # the chain must verify against, or text an issuer DN must contain).
    ct_exp=$EXPECTED_ISSUER
    [ -z "$ct_exp" ] && [ "$PROFILE" = lab ] && ct_exp=$CA
    ct_expmatch=""
    if [ -n "$ct_exp" ] && [ -f "$ct_exp" ]; then
        cat "$WORK"/cert."$ct_kind".* >"$WORK/chain.$ct_kind"
        if openssl verify -CAfile "$ct_exp" -untrusted "$WORK/chain.$ct_kind" \
            "$WORK/cert.$ct_kind.1" >/dev/null 2>&1; then ct_expmatch=1; else ct_expmatch=0; fi
    elif [ -n "$ct_exp" ]; then
        ct_expmatch=0
        ct_k=0
        while [ "$ct_k" -lt "$ct_n" ]; do
            ct_k=$((ct_k + 1))
            openssl x509 -in "$WORK/cert.$ct_kind.$ct_k" -noout -issuer -nameopt RFC2253 2>/dev/null |
                grep -qiF -- "$ct_exp" && ct_expmatch=1
        done
    fi
    ct_intercept=0
    [ "$ct_expmatch" = 0 ] && ct_intercept=1
    ct_data="{\"connected\":true,\"error\":null,\"protocol\":$(jsn "$ct_proto"),\"cipher\":$(jsn "$ct_cipher"),\"alpn\":$(js "$ct_alpn_got"),\"chain\":[$ct_chain],\"issuer\":$(jsn "$ct_issuer"),\"trusted\":$(jb $ct_trusted),\"trust_error\":$([ $ct_trusted = 1 ] && printf null || jsn "$ct_vtext"),\"name_match\":$([ -n "$ct_name" ] && jb "$ct_name" || printf null),\"valid_now\":$(jb $ct_valid),\"days_left\":$(jn "$ct_days"),\"expected_issuer_match\":$([ -n "$ct_expmatch" ] && jb "$ct_expmatch" || printf null),\"interception\":$(jb $ct_intercept),\"server_name\":$(js "$ct_h"),\"expected_issuer\":$(jsn "$ct_exp")}"
    if [ "$ct_intercept" = 1 ]; then
        add_check "tls.$ct_kind" tls "$ct_title" fail "certificate chain does not lead to the expected issuer (issuer: $ct_issuer): TLS interception by a middlebox, or the wrong endpoint" "$ct_data"
    elif [ "$ct_trusted" = 0 ]; then
        add_check "tls.$ct_kind" tls "$ct_title" fail "certificate not trusted: ${ct_vtext:-verification failed}" "$ct_data"
    elif [ "$ct_name" = 0 ]; then
        add_check "tls.$ct_kind" tls "$ct_title" fail "certificate does not match $ct_h" "$ct_data"
    elif [ "$ct_valid" = 0 ]; then
        add_check "tls.$ct_kind" tls "$ct_title" fail "certificate outside its validity period" "$ct_data"
    elif [ "$ct_days" -lt 14 ]; then
        add_check "tls.$ct_kind" tls "$ct_title" warn "certificate expires in $ct_days days" "$ct_data"
    else
        add_check "tls.$ct_kind" tls "$ct_title" pass "$ct_proto, issuer $ct_issuer, valid $ct_days more days" "$ct_data"
    fi
}

# ---- interception -------------------------------------------------------------------------

check_identity() {
    ci_per=""
    : >"$WORK/ids.plain"
    : >"$WORK/ids.enc"
    ci_silent=""
    # shellcheck disable=SC2086
    ask_each "$WORK/r.ident" id.server TXT CH $UP
    for ci_id in $UP; do
        ci_f="$WORK/r.ident.$ci_id"
        ci_txt=$(awk '$1 == "an" && $2 == "TXT" { sub(/^an TXT /, ""); print }' "$ci_f" | sort)
        if [ -z "$ci_txt" ]; then
            ci_per="$ci_per${ci_per:+,}$(js "$ci_id"):null"
            ci_silent="$ci_silent${ci_silent:+, }$ci_id"
            continue
        fi
        ci_per="$ci_per${ci_per:+,}$(js "$ci_id"):$(printf '%s\n' "$ci_txt" | jarr)"
        ci_key=$(printf '%s' "$ci_txt" | tr '\n' ' ')
        if is_plain "$ci_id"; then say "$ci_key" >>"$WORK/ids.plain"; else say "$ci_key" >>"$WORK/ids.enc"; fi
    done
    ci_data="{\"identity\":{$ci_per}}"
    ci_np=$(sort -u "$WORK/ids.plain" | wc -l | tr -d ' ')
    ci_ne=$(sort -u "$WORK/ids.enc" | wc -l | tr -d ' ')
    ci_title="Resolver identity (id.server) across transports"
    if [ "$ci_np" = 0 ] && [ "$ci_ne" = 0 ]; then
        if [ -z "$UP" ]; then
            add_check interception.identity interception "$ci_title" skipped "no endpoint reachable" "$ci_data"
        else
            add_check interception.identity interception "$ci_title" info "the resolver does not reveal an identity" "$ci_data"
        fi
        return
    fi
    if [ "$ci_np" != 0 ] && [ "$ci_ne" != 0 ] &&
        [ "$(sort -u "$WORK/ids.plain")" != "$(sort -u "$WORK/ids.enc")" ]; then
        add_check interception.identity interception "$ci_title" fail "plain DNS is answered by a different resolver than DoT/DoH: intercepted or redirected" "$ci_data"
        return
    fi
    if [ "$ci_np" -gt 1 ] || [ "$ci_ne" -gt 1 ]; then
        add_check interception.identity interception "$ci_title" warn "transports report different identities" "$ci_data"
        return
    fi
    ci_one=$(sort -u "$WORK/ids.enc" "$WORK/ids.plain" | head -n 1 | sed 's/ $//')
    if [ "$ci_np" = 0 ] || [ "$ci_ne" = 0 ]; then
        add_check interception.identity interception "$ci_title" info "identity $ci_one; nothing to compare it with" "$ci_data"
    elif [ -n "$ci_silent" ]; then
        add_check interception.identity interception "$ci_title" warn "identity $ci_one on every transport; no identity over $ci_silent" "$ci_data"
    else
        add_check interception.identity interception "$ci_title" pass "identity $ci_one on every transport" "$ci_data"
    fi
}

# The reach answer (rcode and sorted answer records) of endpoint $1.
answer_key() {
    printf '%s|%s' "$(res_get "$WORK/r.reach.$1" rcode)" \
        "$(res_answers "$WORK/r.reach.$1" | sort | tr '\n' ' ')"
}

check_answers() {
    ca_title="Same answer over plain DNS and DoT/DoH"
    ca_ref=""
    for ca_id in doh-h2 dot doh-h1; do
        case " $UP " in *" $ca_id "*) ca_ref=$ca_id; break ;; esac
    done
    if [ -z "$ca_ref" ]; then
        add_check interception.answers interception "$ca_title" skipped "no encrypted endpoint reachable to compare with" \
            "{\"question\":$(js "$REACH_NAME A"),\"reference\":null,\"differences\":{}}"
        return
    fi
    ca_plain=""
    for ca_id in $UP; do is_plain "$ca_id" && ca_plain=1; done
    if [ -z "$ca_plain" ]; then
        add_check interception.answers interception "$ca_title" skipped "no plain DNS endpoint reachable to compare with" \
            "{\"question\":$(js "$REACH_NAME A"),\"reference\":$(js "$ca_ref"),\"differences\":{}}"
        return
    fi
    ca_want=$(answer_key "$ca_ref")
    ca_diffs=""
    ca_differ=""
    for ca_id in $UP; do
        is_plain "$ca_id" || continue
        ca_got=$(answer_key "$ca_id")
        if [ "$ca_got" != "$ca_want" ]; then
            ca_differ="$ca_differ${ca_differ:+, }$ca_id"
            ca_diffs="$ca_diffs${ca_diffs:+,}$(js "$ca_id"):{\"field\":\"answer\",\"encrypted\":$(js "$ca_want"),\"plain\":$(js "$ca_got")}"
        fi
    done
    ca_data="{\"question\":$(js "$REACH_NAME A"),\"reference\":$(js "$ca_ref"),\"differences\":{$ca_diffs}}"
    if [ -n "$ca_differ" ]; then
        add_check interception.answers interception "$ca_title" fail "plain DNS ($ca_differ) gets a different answer than $ca_ref: intercepted or rewritten" "$ca_data"
    else
        add_check interception.answers interception "$ca_title" pass "plain and encrypted answers agree" "$ca_data"
    fi
}

# ---- policy -------------------------------------------------------------------------------

GATEWAY_TEST_NAMES="anonymizer commandandcontrolandbotnet compromiseddomain cryptomining malware
newdomains parkedandforsaledomains phishing potentiallyunwantedsoftware privateipaddress spam
spyware unreachable nudity"
SAFESEARCH="forcesafesearch.google.com. strict.bing.com. safe.duckduckgo.com. restrict.youtube.com. restrictmoderate.youtube.com."

# One policy check from the results of one name on every reachable endpoint (files in
# ARGV, endpoint ids in `ids`, same order), classified as the probe does (docs/selftest.md):
# labels sinkhole (0.0.0.0/::), blockpage (Gateway's block page addresses), refused,
# ede-blocked/censored/filtered (RFC 8914 codes 15-17), nxdomain (where another transport got
# data); classes blockpage, blocked, override (CNAME to a safe-search host), allowed, error.
POLICY_AWK='
function j(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s); return "\"" s "\"" }
FNR == 1 { k++; rc[k] = ""; err[k] = ""; na[k] = 0; nadr[k] = 0; lab[k] = "" }
$1 == "rcode" { rc[k] = $2 }
$1 == "error" { e = $0; sub(/^error /, "", e); err[k] = e }
$1 == "ede" { if ($2 == 15) lab[k] = lab[k] " ede-blocked"; if ($2 == 16) lab[k] = lab[k] " ede-censored"; if ($2 == 17) lab[k] = lab[k] " ede-filtered" }
$1 == "an" { r = $0; sub(/^an [^ ]+ /, "", r); ans[k, ++na[k]] = r; typ[k, na[k]] = $2
             if ($2 == "A" || $2 == "AAAA") { adr[k, ++nadr[k]] = r; any = 1 } }
END {
    n = split(ids, id, " "); split(safe, sh, " ")
    for (i = 1; i <= n; i++) {
        l = ""
        if (nadr[i] > 0) {
            s0 = 1; bp = 1
            for (a = 1; a <= nadr[i]; a++) {
                if (adr[i, a] != "0.0.0.0" && adr[i, a] != "::") s0 = 0
                if (adr[i, a] != "162.159.36.12" && adr[i, a] != "162.159.46.12") bp = 0
            }
            if (s0) l = l " sinkhole"; if (bp) l = l " blockpage"
        }
        if (rc[i] == "REFUSED") l = l " refused"
        l = l lab[i]
        if (rc[i] == "NXDOMAIN" && any) l = l " nxdomain"
        sub(/^ /, "", l); labels[i] = l
        c = ""
        if (err[i] != "" || rc[i] == "") c = "error"
        else if (index(" " l " ", " blockpage ")) c = "blockpage"
        else if (l != "") c = "blocked"
        else {
            for (a = 1; a <= na[i]; a++) if (typ[i, a] == "CNAME") for (h in sh) if (ans[i, a] == sh[h]) c = "override"
            if (c == "") c = (rc[i] == "NOERROR" || rc[i] == "NXDOMAIN") ? "allowed" : "error"
        }
        cls[i] = c
        if (!(c in seen)) { seen[c] = 1; nc++; order[nc] = c }
        who[c] = who[c] (who[c] == "" ? "" : ", ") id[i]
    }
    # detail: classes in name order, as the probe prints them
    for (x = 1; x <= nc; x++) for (y = x + 1; y <= nc; y++) if (order[y] < order[x]) { t = order[x]; order[x] = order[y]; order[y] = t }
    d = ""; for (x = 1; x <= nc; x++) d = d (d == "" ? "" : "; ") order[x] " on " who[order[x]]
    verdict = (nc == 1 && order[1] != "error") ? "info" : "warn"
    out = ""
    for (i = 1; i <= n; i++) {
        la = ""; m = split(labels[i], lw, " "); for (a = 1; a <= m; a++) la = la (a > 1 ? "," : "") j(lw[a])
        an = ""; for (a = 1; a <= na[i]; a++) an = an (a > 1 ? "," : "") j(ans[i, a])
        out = out (i > 1 ? "," : "") j(id[i]) ":{\"classification\":" j(cls[i]) ",\"labels\":[" la "],\"rcode\":" (rc[i] == "" ? "null" : j(rc[i])) \
            ",\"answer\":[" an "],\"error\":" (err[i] == "" ? "null" : j(err[i])) ",\"failures\":[]}"
    }
    printf "{\"id\":%s,\"category\":\"policy\",\"title\":%s,\"verdict\":\"%s\",\"detail\":%s,\"data\":{\"name\":%s,\"type\":\"A\",\"expect\":null,\"outcomes\":{%s},\"failures\":[],\"classification\":%s}}\n", \
        j("policy." name), j("Policy outcome of " name " A"), verdict, j(d), j(name), out, j(nc == 1 ? order[1] : "mixed")
}'

# The policy names over DoT through s_client: one connection, every query pipelined.
policy_over_s_client() {
    ps_names=$1
    ps_i=0
    : >"$WORK/pol.dot.map"
    set --
    for ps_n in $ps_names; do
        ps_i=$((ps_i + 1))
        build_query "$WORK/pol.dot.q.$ps_i" "$ps_n" 1 1
        say "$LAST_ID $WORK/r.pol.$ps_i.dot" >>"$WORK/pol.dot.map"
        printf 'msg\nerror no answer over TLS\nend\n' >"$WORK/r.pol.$ps_i.dot"
        set -- "$@" "$WORK/pol.dot.q.$ps_i"
    done
    dot_batch "$(ep dot host)" "$(ep dot port)" "$WORK/pol.dot.all" "$@"
    split_by_id "$WORK/pol.dot.all" "$WORK/pol.dot.map"
}

check_policy() {
    pl_names=""
    for pl_n in $TEST_NAMES; do pl_names="$pl_names $pl_n"; done
    for pl_n in $NAMES; do
        case " $pl_names " in *" $pl_n "*) ;; *) pl_names="$pl_names $pl_n" ;; esac
    done
    # One background job per endpoint: the names go out concurrently across transports.
    pl_pids=""
    for pl_id in $UP; do
        if [ "$pl_id" = dot ] && [ "$DOT_TOOL" = openssl ]; then
            policy_over_s_client "$pl_names" &
        else
            (
                trap - INT TERM HUP
                pl_i=0
                for pl_n in $pl_names; do
                    pl_i=$((pl_i + 1))
                    ask "$WORK/r.pol.$pl_i.$pl_id" "$pl_id" "$pl_n" A
                done
            ) &
        fi
        pl_pids="$pl_pids $!"
    done
    for pl_p in $pl_pids; do wait "$pl_p"; done
    pl_i=0
    for pl_n in $pl_names; do
        pl_i=$((pl_i + 1))
        if [ -z "$UP" ]; then
            add_check "policy.$pl_n" policy "Policy outcome of $pl_n A" skipped "no endpoint reachable"
            continue
        fi
        set --
        for pl_id in $UP; do set -- "$@" "$WORK/r.pol.$pl_i.$pl_id"; done
        awk -v ids="$UP" -v name="$pl_n" -v safe="$SAFESEARCH" "$POLICY_AWK" "$@" >>"$WORK/checks"
    done
    if [ -n "$EXPECT_FILE" ]; then
        add_check policy.expectations policy "Expectation file" skipped \
            "expectation files (--expect) need dnslab-probe; the script reports outcomes only"
    fi
}

# ---- features -----------------------------------------------------------------------------

check_edns() {
    ce_title="EDNS (RFC 6891) in answers"
    ce_per=""
    ce_without=""
    ce_blind=""
    ce_known=0
    for ce_id in $UP; do
        ce_f="$WORK/r.reach.$ce_id"
        ce_e=$(res_get "$ce_f" edns)
        if [ -z "$ce_e" ]; then
            ce_per="$ce_per${ce_per:+,}$(js "$ce_id"):null"
            ce_blind="$ce_blind${ce_blind:+, }$ce_id"
            continue
        fi
        ce_known=1
        ce_per="$ce_per${ce_per:+,}$(js "$ce_id"):{\"present\":$(jb "$ce_e"),\"udp_size\":$(jn "$(res_get "$ce_f" udp)")}"
        [ "$ce_e" = 0 ] && ce_without="$ce_without${ce_without:+, }$ce_id"
    done
    if [ -z "$UP" ]; then
        add_check features.edns features "$ce_title" skipped "no endpoint reachable"
    elif [ "$ce_known" = 0 ]; then
        add_check features.edns features "$ce_title" skipped "needs dig or kdig (nslookup does not show the OPT record)" "{\"endpoints\":{$ce_per}}"
    elif [ -n "$ce_without" ]; then
        add_check features.edns features "$ce_title" fail "no OPT record over $ce_without" "{\"endpoints\":{$ce_per}}"
    else
        ce_udp=""
        case " $UP " in *" udp4 "*) ce_udp=$(res_get "$WORK/r.reach.udp4" udp) ;; esac
        ce_detail="OPT record present on every transport"
        [ -n "$ce_blind" ] && ce_detail="OPT record present on every transport it can be seen on"
        [ -n "$ce_udp" ] && ce_detail="$ce_detail (UDP payload size $ce_udp)"
        [ -n "$ce_blind" ] && ce_detail="$ce_detail; not visible over $ce_blind with $PLAIN_TOOL"
        add_check features.edns features "$ce_title" pass "$ce_detail" "{\"endpoints\":{$ce_per}$([ -n "$ce_udp" ] && printf ',"udp_size":%s' "$ce_udp")}"
    fi
}

check_tcp_fallback() {
    tf_title="Large answer: TC over UDP, then TCP"
    tf_u=""
    for tf_fam in 4 6; do
        case " $UP " in *" udp$tf_fam "*) case " $UP " in *" tcp$tf_fam "*) tf_u=udp$tf_fam tf_t=tcp$tf_fam; break ;; esac ;; esac
    done
    if [ -z "$LARGE_NAME" ]; then
        add_check features.tcp-fallback features "$tf_title" skipped "no large test name configured (--large-name)"
        return
    elif [ -z "$tf_u" ]; then
        add_check features.tcp-fallback features "$tf_title" skipped "needs reachable UDP and TCP endpoints of one address family"
        return
    elif [ "$PLAIN_TOOL" = nslookup ]; then
        add_check features.tcp-fallback features "$tf_title" skipped "needs dig or kdig (nslookup does not show the TC bit)"
        return
    fi
    ask "$WORK/r.big.udp" "$tf_u" "$LARGE_NAME" TXT
    ask "$WORK/r.big.tcp" "$tf_t" "$LARGE_NAME" TXT
    tf_ut=0
    res_flag "$WORK/r.big.udp" tc && tf_ut=1
    tf_tt=0
    res_flag "$WORK/r.big.tcp" tc && tf_tt=1
    tf_ur=$(grep -c '^an TXT' "$WORK/r.big.udp")
    tf_tr=$(grep -c '^an TXT' "$WORK/r.big.tcp")
    tf_ue=$(error_of "$WORK/r.big.udp")
    tf_te=$(error_of "$WORK/r.big.tcp")
    tf_data="{\"question\":$(js "$LARGE_NAME TXT"),\"udp\":{\"error\":$(jsn "$tf_ue"),\"tc\":$(jb $tf_ut),\"records\":$tf_ur,\"bytes\":$(jn "$(res_get "$WORK/r.big.udp" size)")},\"tcp\":{\"error\":$(jsn "$tf_te"),\"tc\":$(jb $tf_tt),\"records\":$tf_tr,\"bytes\":$(jn "$(res_get "$WORK/r.big.tcp" size)")}}"
    if [ -n "$tf_ue" ] || [ -n "$tf_te" ]; then
        if [ -n "$tf_ue" ]; then tf_d="UDP: $tf_ue"; else tf_d="TCP: $tf_te"; fi
        add_check features.tcp-fallback features "$tf_title" fail "$tf_d" "$tf_data"
    elif [ "$tf_tt" = 1 ] || [ "$tf_tr" = 0 ]; then
        add_check features.tcp-fallback features "$tf_title" fail "TCP did not return the full answer" "$tf_data"
    elif [ "$tf_ut" = 0 ] && [ "$tf_ur" -lt "$tf_tr" ]; then
        add_check features.tcp-fallback features "$tf_title" fail "UDP answer is incomplete but TC is not set" "$tf_data"
    elif [ "$tf_ut" = 1 ]; then
        add_check features.tcp-fallback features "$tf_title" pass "UDP answer truncated (TC), TCP returned all $tf_tr records" "$tf_data"
    else
        add_check features.tcp-fallback features "$tf_title" pass "the answer fit in UDP ($tf_ur records)" "$tf_data"
    fi
}

check_dnssec() {
    cd_title="DNSSEC validation (AD bit)"
    if [ "$PROFILE" = lab ] && [ -z "$SIGNED_NAME" ]; then
        add_check features.dnssec-ad features "$cd_title" not_applicable "the lab fixture zones are unsigned"
        return
    elif [ -z "$SIGNED_NAME" ]; then
        add_check features.dnssec-ad features "$cd_title" skipped "no signed name configured (--signed-name)"
        return
    fi
    cd_ep=""
    for cd_id in $UP; do
        # nslookup cannot show the AD bit; DoT through s_client can (wire format).
        if is_plain "$cd_id" && [ "$PLAIN_TOOL" = nslookup ]; then continue; fi
        cd_ep=$cd_id
        break
    done
    if [ -z "$cd_ep" ]; then
        add_check features.dnssec-ad features "$cd_title" skipped "no reachable endpoint this machine's tools can read the AD bit from"
        return
    fi
    ask "$WORK/r.ad" "$cd_ep" "$SIGNED_NAME" A IN 1
    cd_ad=0
    res_flag "$WORK/r.ad" ad && cd_ad=1
    cd_err=$(error_of "$WORK/r.ad")
    cd_data="{\"question\":$(js "$SIGNED_NAME A +dnssec"),\"endpoint\":$(js "$cd_ep"),\"ad\":$(jb $cd_ad),\"rcode\":$(jsn "$(res_get "$WORK/r.ad" rcode)")}"
    if [ -n "$cd_err" ]; then
        add_check features.dnssec-ad features "$cd_title" fail "$cd_err" "$cd_data"
    elif [ "$cd_ad" = 1 ]; then
        add_check features.dnssec-ad features "$cd_title" pass "AD set on $SIGNED_NAME" "$cd_data"
    else
        add_check features.dnssec-ad features "$cd_title" fail "AD not set on the signed name $SIGNED_NAME" "$cd_data"
    fi
}

check_ede() {
    ed_title="Extended DNS Errors (RFC 8914) on errors"
    if [ -z "$ERROR_NAME" ]; then
        add_check features.ede features "$ed_title" skipped "no error name configured (--error-name)"
        return
    elif [ -z "$UP" ]; then
        add_check features.ede features "$ed_title" skipped "no endpoint reachable"
        return
    fi
    ed_per=""
    ed_with=""
    ed_without=""
    ed_blind=""
    # shellcheck disable=SC2086
    ask_each "$WORK/r.ede" "$ERROR_NAME" A IN $UP
    for ed_id in $UP; do
        ed_f="$WORK/r.ede.$ed_id"
        ed_rc=$(res_get "$ed_f" rcode)
        ed_codes=$(awk '$1 == "ede" { printf "%s{\"code\":%s,\"text\":\"\"}", (n++ ? "," : ""), $2 }' "$ed_f")
        ed_per="$ed_per${ed_per:+,}$(js "$ed_id"):{\"rcode\":$(jsn "$ed_rc"),\"ede\":[$ed_codes],\"error\":$(jsn "$(error_of "$ed_f")")}"
        if is_plain "$ed_id" && [ "$PLAIN_TOOL" = nslookup ]; then
            ed_blind="$ed_blind${ed_blind:+, }$ed_id"
        elif [ -z "$ed_rc" ] || [ "$ed_rc" = NOERROR ] || [ "$ed_rc" = NXDOMAIN ]; then
            :
        elif [ -n "$ed_codes" ]; then
            ed_with="$ed_with${ed_with:+, }$ed_id"
        else
            ed_without="$ed_without${ed_without:+, }$ed_id"
        fi
    done
    ed_data="{\"question\":$(js "$ERROR_NAME A"),\"endpoints\":{$ed_per}}"
    if [ -n "$ed_without" ]; then
        add_check features.ede features "$ed_title" fail "error answer without EDE over $ed_without" "$ed_data"
    elif [ -n "$ed_with" ]; then
        add_check features.ede features "$ed_title" pass "EDE present on the error answer over $ed_with" "$ed_data"
    elif [ -n "$ed_blind" ]; then
        add_check features.ede features "$ed_title" skipped "needs dig or kdig to read EDE over $ed_blind" "$ed_data"
    else
        add_check features.ede features "$ed_title" not_applicable "$ERROR_NAME produced no error answer" "$ed_data"
    fi
}

# ---- local facts --------------------------------------------------------------------------

check_clock() {
    cc_title="Clock offset against the DoH endpoint"
    cc_f=""
    for cc_id in doh-h2 doh-h1; do
        [ -f "$WORK/r.reach.$cc_id" ] && cc_f="$WORK/r.reach.$cc_id" && break
    done
    if [ -z "$cc_f" ]; then
        add_check local.clock local "$cc_title" skipped "no DoH endpoint"
        return
    fi
    cc_date=$(res_get "$cc_f" date)
    if [ -z "$cc_date" ]; then
        add_check local.clock local "$cc_title" not_applicable "the DoH endpoint sent no Date header" \
            "{\"http_date\":null,\"offset_s\":null}"
        return
    fi
    cc_off=$(($(res_get "$cc_f" received_at) - $(epoch_of "$cc_date")))
    cc_data="{\"http_date\":$(js "$cc_date"),\"offset_s\":$cc_off}"
    if [ "$cc_off" -ge 0 ]; then cc_dir="ahead of"; else cc_dir="behind"; fi
    cc_abs=${cc_off#-}
    if [ "$cc_abs" -gt 60 ]; then cc_v=warn; else cc_v=pass; fi
    add_check local.clock local "$cc_title" "$cc_v" "local clock is $cc_abs s $cc_dir the DoH endpoint" "$cc_data"
}

# Nameservers of resolv.conf ($1) or, on macOS, of `scutil --dns`.
collect_local() {
    LOCAL_NS="$WORK/nameservers"
    : >"$LOCAL_NS"
    RC_READABLE=0
    if [ -r "$RESOLV_CONF" ]; then
        RC_READABLE=1
        awk '$1 == "nameserver" { print $2 }' "$RESOLV_CONF" >"$LOCAL_NS"
        awk '$1 == "search" || $1 == "domain" { for (i = 2; i <= NF; i++) print $i }' "$RESOLV_CONF" >"$WORK/search"
        awk '$1 == "options" { for (i = 2; i <= NF; i++) print $i }' "$RESOLV_CONF" >"$WORK/options"
    fi
    SCUTIL_JSON=""
    if have scutil; then
        scutil --dns >"$WORK/scutil" 2>/dev/null
        awk '/nameserver\[[0-9]+\] *:/ { print $3 }' "$WORK/scutil" | awk '!seen[$0]++' >"$WORK/scutil.ns"
        SCUTIL_JSON=",\"scutil_dns\":{\"present\":true,\"nameservers\":$(jarr "$WORK/scutil.ns"),\"status\":$(js "$(cat "$WORK/scutil")")}"
        # On macOS resolv.conf is informational; scutil is what the system resolver uses.
        [ -s "$LOCAL_NS" ] || cp "$WORK/scutil.ns" "$LOCAL_NS"
    fi
    SD_PRESENT=0
    if have resolvectl; then
        if have timeout; then
            timeout 3 resolvectl status --no-pager >"$WORK/resolvectl" 2>/dev/null && SD_PRESENT=1
        else
            resolvectl status --no-pager >"$WORK/resolvectl" 2>/dev/null && SD_PRESENT=1
        fi
    fi
    # Interface addresses: ip(8) on Linux, ifconfig(8) elsewhere.
    : >"$WORK/ifaddrs"
    if command -v ip >/dev/null 2>&1; then
        ip -o addr show 2>/dev/null | awk '{ a = $4; sub(/\/.*/, "", a); print $2 " " a }' >"$WORK/ifaddrs"
    elif command -v ifconfig >/dev/null 2>&1; then
        ifconfig -a 2>/dev/null | awk '/^[^ \t]/ { i = $1; sub(/:$/, "", i) }
            $1 == "inet" || $1 == "inet6" { a = $2; sub(/^addr:/, "", a); sub(/%.*/, "", a); sub(/\/.*/, "", a); print i " " a }' >"$WORK/ifaddrs"
    fi
    if [ -r /etc/os-release ]; then
        OS_PRETTY=$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')
        OS_JSON=$(awk -F= '/^[A-Z_]+=/ { v = substr($0, index($0, "=") + 1); gsub(/^"|"$/, "", v)
            gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v); printf "%s\"%s\":\"%s\"", (n++ ? "," : ""), $1, v }' /etc/os-release)
    elif have sw_vers; then
        OS_PRETTY="$(sw_vers -productName 2>/dev/null) $(sw_vers -productVersion 2>/dev/null)"
        OS_JSON="\"NAME\":$(js "$(sw_vers -productName 2>/dev/null)"),\"VERSION_ID\":$(js "$(sw_vers -productVersion 2>/dev/null)"),\"PRETTY_NAME\":$(js "$OS_PRETTY")"
    else
        OS_PRETTY="unknown OS"
        OS_JSON=""
    fi
    HOSTNAME_=$(uname -n)
}

local_checks() {
    if [ "$RC_READABLE" = 1 ] || [ -s "$LOCAL_NS" ]; then
        lc_ns=$(tr '\n' ' ' <"$LOCAL_NS" | sed 's/ $//; s/ /, /g')
        add_check local.resolv-conf local "System resolver configuration" info \
            "nameservers: ${lc_ns:-(none)}" "{\"nameservers\":$(jarr "$LOCAL_NS")}"
    else
        add_check local.resolv-conf local "System resolver configuration" warn \
            "cannot read $RESOLV_CONF" "{\"nameservers\":[]}"
    fi
    if [ "$SD_PRESENT" = 1 ]; then
        add_check local.systemd-resolved local systemd-resolved info "present (resolvectl status in the report)" '{"present":true}'
    else
        add_check local.systemd-resolved local systemd-resolved not_applicable "not in use on this machine" '{"present":false}'
    fi
    add_check local.system local "Operating system and tools" info "$OS_PRETTY, kernel $(uname -r)" \
        "{\"os\":$(js "$OS_PRETTY"),\"kernel\":$(js "$(uname -r)")}"
}

local_json() {
    lj_sd="{\"present\":$(jb "$SD_PRESENT")"
    if [ "$SD_PRESENT" = 1 ]; then
        grep -Eo '([0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-fA-F]*:[0-9a-fA-F:]*:[0-9a-fA-F:]*' "$WORK/resolvectl" | sort -u >"$WORK/sd.addrs"
        lj_sd="$lj_sd,\"status\":$(js "$(cat "$WORK/resolvectl")"),\"addresses\":$(jarr "$WORK/sd.addrs")"
    fi
    lj_sd="$lj_sd}"
    lj_rc="{\"path\":$(js "$RESOLV_CONF"),\"readable\":$(jb "$RC_READABLE")"
    if [ "$RC_READABLE" = 1 ]; then
        lj_rc="$lj_rc,\"nameservers\":$(jarr "$LOCAL_NS"),\"search\":$(jarr "$WORK/search"),\"options\":$(jarr "$WORK/options")"
    fi
    lj_rc="$lj_rc}"
    lj_if=$(awk '{ printf "%s{\"interface\":\"%s\",\"address\":\"%s\"}", (n++ ? "," : ""), $1, $2 }' "$WORK/ifaddrs")
    lj_tools="\"$PROG\":$(js "$VERSION"),\"openssl\":$(jsn "$(have openssl && openssl version 2>/dev/null)"),\"curl\":$(jsn "$(have curl && curl -V 2>/dev/null | head -n 1)")"
    have dig && lj_tools="$lj_tools,\"dig\":$(js "$(dig -v 2>&1 </dev/null | head -n 1)")"
    have kdig && lj_tools="$lj_tools,\"kdig\":$(js "$(kdig -V 2>&1 </dev/null | head -n 1)")"
    have nslookup && lj_tools="$lj_tools,\"nslookup\":\"present\""
    lj_tools="$lj_tools,\"dns_client\":$(jsn "$PLAIN_TOOL"),\"dot_client\":$(jsn "$DOT_TOOL")"
    printf '{"resolv_conf":%s,"systemd_resolved":%s,"interfaces":[%s],"os_release":{%s},"uname":{"sysname":%s,"release":%s,"version":%s,"machine":%s,"nodename":%s},"tools":{%s}%s}' \
        "$lj_rc" "$lj_sd" "$lj_if" "$OS_JSON" "$(js "$(uname -s)")" "$(js "$(uname -r)")" \
        "$(js "$(uname -v)")" "$(js "$(uname -m)")" "$(js "$HOSTNAME_")" "$lj_tools" "$SCUTIL_JSON"
}

# ---- redaction ----------------------------------------------------------------------------

# Lists this machine's addresses with stable placeholders ("ADDR <ipv4-N>", numbered in
# sorted order per family, as dnslab-probe --redact numbers them) in $WORK/secrets: interface,
# resolv.conf/scutil and resolvectl addresses; loopback, link-local and the endpoints under
# test stay.
collect_secrets() {
    {
        awk '{ print $2 }' "$WORK/ifaddrs"
        cat "$LOCAL_NS"
        [ -f "$WORK/sd.addrs" ] && cat "$WORK/sd.addrs"
    } | grep -vE '^(127\.|0\.|169\.254\.|::1$|::$|[fF][eE]80:)' | grep -E '^[0-9a-fA-F.:]+$' |
        grep -E '[0-9]' | sort -u >"$WORK/secrets.all"
    : >"$WORK/secrets.kept"
    while IFS= read -r cs_a; do
        cs_skip=0
        for cs_id in $ALL_IDS; do [ "$(ep "$cs_id" host)" = "$cs_a" ] && cs_skip=1; done
        [ $cs_skip = 0 ] && say "$cs_a" >>"$WORK/secrets.kept"
    done <"$WORK/secrets.all"
    awk '{ fam = index($0, ":") ? "ipv6" : "ipv4"; n[fam]++; print $0 " <" fam "-" n[fam] ">" }' \
        "$WORK/secrets.kept" >"$WORK/secrets"
}

# Replaces the secrets (longest first, so 10.0.0.1 never eats part of 10.0.0.12, and only
# where no address character touches them) and the host name in stdin.
REDACT_AWK='
function bound(c) { return c == "" || c !~ /[0-9A-Za-z.:]/ }
BEGIN {
    while ((getline l < list) > 0) { split(l, f, " "); n++; addr[n] = f[1]; ph[n] = f[2] }
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (length(addr[j]) > length(addr[i])) {
        t = addr[i]; addr[i] = addr[j]; addr[j] = t; t = ph[i]; ph[i] = ph[j]; ph[j] = t }
}
{
    line = $0
    for (i = 1; i <= n; i++) {
        out = ""; rest = line; a = addr[i]
        while ((p = index(rest, a)) > 0) {
            before = p > 1 ? substr(rest, p - 1, 1) : substr(out, length(out), 1)
            after = substr(rest, p + length(a), 1)
            if (bound(before) && bound(after)) out = out substr(rest, 1, p - 1) ph[i]
            else out = out substr(rest, 1, p - 1 + length(a))
            rest = substr(rest, p + length(a))
        }
        line = out rest
    }
    if (host != "" && host != "localhost") {
        out = ""; rest = line
        while ((p = index(rest, host)) > 0) { out = out substr(rest, 1, p - 1) "<hostname>"; rest = substr(rest, p + length(host)) }
        line = out rest
    }
    print line
}'
redact() { awk -v list="$WORK/secrets" -v host="$HOSTNAME_" "$REDACT_AWK"; }

# ---- report -------------------------------------------------------------------------------

summary_text() { # report checks file -> terminal lines; $2 = 1 for colour
    awk -v color="$2" '
        function field(k,   s) { s = $0; if (!match(s, "\"" k "\":\"([^\"\\\\]|\\\\.)*\"")) return ""
            s = substr(s, RSTART + length(k) + 4, RLENGTH - length(k) - 5); gsub(/\\"/, "\"", s); gsub(/\\\\/, "\\", s); return s }
        { v = field("verdict"); b = v == "pass" ? "PASS" : v == "fail" ? "FAIL" : v == "warn" ? "WARN" : v == "skipped" ? "SKIP" : v == "info" ? "INFO" : "N/A "
          c = v == "pass" ? "32" : v == "fail" ? "31" : v == "warn" ? "33" : "2"
          if (color == 1) b = "\033[" c "m" b "\033[0m"
          d = field("detail"); printf "%s  %s%s\n", b, field("title"), (d == "" ? "" : ": " d) }' "$1"
}

count_of() { grep -c "\"verdict\":\"$1\"" "$WORK/checks"; }

write_report() {
    wr_dir=$1
    wr_fail=$(count_of fail)
    EXIT=0
    [ "$wr_fail" -gt 0 ] && EXIT=1
    wr_endpoints=""
    for wr_id in $ALL_IDS; do
        ep_known "$wr_id" || continue
        wr_endpoints="$wr_endpoints${wr_endpoints:+,}{\"id\":$(js "$wr_id"),\"transport\":$(js "$(transport_of "$wr_id")"),\"url\":$(js "$(ep "$wr_id" url)")}"
    done
    wr_checks=$(awk '{ printf "%s%s", (NR > 1 ? ",\n    " : ""), $0 }' "$WORK/checks")
    wr_dur=$(($(now_ms) - STARTED_MS))
    {
        printf '{"schema":%s,\n "tool":{"name":%s,"version":%s,"kind":"script"},\n' "$(js "$SCHEMA")" "$(js "$PROG")" "$(js "$VERSION")"
        printf ' "generated_at":%s,"profile":%s,"redacted":%s,"duration_ms":%s,\n' "$(js "$GENERATED_AT")" "$(js "$PROFILE")" "$(jb "$REDACT")" "$wr_dur"
        printf ' "endpoints":[%s],\n "checks":[\n    %s],\n' "$wr_endpoints" "$wr_checks"
        printf ' "local":%s,\n' "$(local_json)"
        printf ' "summary":{"pass":%s,"fail":%s,"warn":%s,"info":%s,"skipped":%s,"not_applicable":%s},\n' \
            "$(count_of pass)" "$wr_fail" "$(count_of warn)" "$(count_of info)" "$(count_of skipped)" "$(count_of not_applicable)"
        printf ' "exit_code":%s}\n' "$EXIT"
    } >"$WORK/report.json"
    {
        summary_text "$WORK/checks" 0
        printf '\n%s passed, %s failed, %s warnings, %s info, %s skipped, %s not applicable\n' \
            "$(count_of pass)" "$wr_fail" "$(count_of warn)" "$(count_of info)" "$(count_of skipped)" "$(count_of not_applicable)"
        if [ "$EXIT" = 0 ]; then say "Verdict: OK"; else say "Verdict: PROBLEMS FOUND (see the FAIL lines)"; fi
        say "Produced by $PROG $VERSION (tools: dns=${PLAIN_TOOL:-none}, dot=${DOT_TOOL:-none}, doh=$(have curl && printf curl || printf none))"
    } >"$WORK/summary.txt"
    {
        say "# dnslab self-test report"
        say ""
        say "Produced by \`$PROG\` $VERSION, $GENERATED_AT, profile \`$PROFILE\`."
        say ""
        say "| Verdict | Check | Detail |"
        say "|---|---|---|"
        summary_text "$WORK/checks" 0 | awk '{ v = $1; sub(/^[^ ]+  /, ""); t = $0; d = ""
            if (i = index(t, ": ")) { d = substr(t, i + 2); t = substr(t, 1, i - 1) }
            gsub(/\|/, "/", t); gsub(/\|/, "/", d); printf "| %s | %s | %s |\n", v, t, d }'
        say ""
        say "## Local configuration"
        say ""
        say "- nameservers: $(tr '\n' ' ' <"$LOCAL_NS")"
        say "- system: $OS_PRETTY, $(uname -s) $(uname -r) $(uname -m)"
    } >"$WORK/report.md"
    mkdir -p "$wr_dir" || cannot_run "cannot create $wr_dir"
    if [ "$REDACT" = 1 ]; then
        collect_secrets
        for wr_f in report.json report.md summary.txt; do
            redact <"$WORK/$wr_f" >"$wr_dir/$wr_f" || cannot_run "cannot write into $wr_dir"
        done
    else
        for wr_f in report.json report.md summary.txt; do
            cp "$WORK/$wr_f" "$wr_dir/$wr_f" || cannot_run "cannot write into $wr_dir"
        done
    fi
    mkdir -p "$WORK/bundle/dnslab-selftest"
    cp "$wr_dir/report.json" "$wr_dir/report.md" "$wr_dir/summary.txt" "$WORK/bundle/dnslab-selftest/"
    (cd "$WORK/bundle" && tar -cf - dnslab-selftest/report.json dnslab-selftest/report.md \
        dnslab-selftest/summary.txt) | gzip -9 >"$BUNDLE" || cannot_run "cannot write $BUNDLE"
}

# ---- main ---------------------------------------------------------------------------------

TIMEOUT_MS=2000
DOH="" DOT="" IPV4="" IPV6="" CA="" EXPECTED_ISSUER="" LAB="" LAB_HOST=""
NAMES="" TEST_NAMES="" REACH_NAME="" LARGE_NAME="" SIGNED_NAME="" ERROR_NAME="" EXPECT_FILE=""
RESOLV_CONF=/etc/resolv.conf OUT="" BUNDLE="" REDACT=0 JSON=0 QUIET=0 COLOR=1
LARGE_SET=0 SIGNED_SET=0 ERROR_SET=0

while [ $# -gt 0 ]; do
    opt=$1
    val=""
    case "$opt" in
    --*=*)
        val=${opt#*=}
        opt=${opt%%=*}
        set -- "$opt" "$val" "$@"
        shift
        ;;
    esac
    case "$opt" in
    -h | --help) usage; exit 0 ;;
    --version) say "$PROG $VERSION"; exit 0 ;;
    --redact) REDACT=1; shift; continue ;;
    --json) JSON=1; shift; continue ;;
    -q | --quiet) QUIET=1; shift; continue ;;
    --no-color) COLOR=0; shift; continue ;;
    esac
    case "$opt" in
    --doh | --dot | --ipv4 | --ipv6 | --ca | --expected-issuer | --lab | --lab-host | --name | \
        --test-name | --reach-name | --large-name | --signed-name | --error-name | --expect | \
        --resolv-conf | --timeout | --retries | --out | --bundle) ;;
    *) cannot_run "unknown option $opt (see --help)" ;;
    esac
    [ $# -ge 2 ] || cannot_run "$opt needs a value (see --help)"
    val=$2
    case "$opt" in
    --doh) DOH=$val ;;
    --dot) DOT=$val ;;
    --ipv4) IPV4=$val ;;
    --ipv6) IPV6=$val ;;
    --ca) CA=$val ;;
    --expected-issuer) EXPECTED_ISSUER=$val ;;
    --lab) LAB=$val ;;
    --lab-host) LAB_HOST=$val ;;
    --name) NAMES="$NAMES $val" ;;
    --test-name) TEST_NAMES="$TEST_NAMES $val" ;;
    --reach-name) REACH_NAME=$val ;;
    --large-name) LARGE_NAME=$val LARGE_SET=1 ;;
    --signed-name) SIGNED_NAME=$val SIGNED_SET=1 ;;
    --error-name) ERROR_NAME=$val ERROR_SET=1 ;;
    --expect) EXPECT_FILE=$val ;;
    --resolv-conf) RESOLV_CONF=$val ;;
    --timeout)
        case "$val" in "" | *[!0-9]*) cannot_run "--timeout wants milliseconds, got '$val'" ;; esac
        TIMEOUT_MS=$val
        ;;
    --retries) ;; # accepted for dnslab-selftest compatibility; the tools try once
    --out) OUT=$val ;;
    --bundle) BUNDLE=$val ;;
    *) cannot_run "unknown option $opt (see --help)" ;;
    esac
    shift 2
done

STARTED_MS=$(now_ms)
GENERATED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnslab-selftest.XXXXXX") || cannot_run "cannot create a temporary directory"
# Cleaned up by the main shell only, explicitly: no EXIT trap, so that no subshell (a
# watcher, a background query job) can remove the directory while the main shell works.
cleanup() { [ -n "${WORK:-}" ] && rm -rf "$WORK"; }
trap 'cleanup; exit 2' INT TERM HUP
: >"$WORK/checks"

# Profile and endpoints, as dnslab-probe selftest chooses them.
if [ -n "$LAB" ] || [ -n "$LAB_HOST" ]; then
    PROFILE=lab
elif [ -n "$DOH$DOT$IPV4$IPV6" ]; then
    PROFILE=gateway
else
    cannot_run "name your resolver: --doh URL, --dot HOST and --ipv4 ADDR (the DNS endpoints of your Gateway location), or see --help"
fi
[ -n "$LAB" ] && read_ready "$LAB"
[ -n "$LAB_HOST" ] && read_lab_host "$LAB_HOST"
if [ -n "$IPV4" ]; then
    split_hp "$IPV4" 53
    case "$SPLIT_HOST" in *:* | *[!0-9.]*) cannot_run "'$IPV4' is not an IPv4 address" ;; esac
    add_plain "$SPLIT_HOST" "$SPLIT_PORT" both
fi
if [ -n "$IPV6" ]; then
    split_hp "$IPV6" 53
    case "$SPLIT_HOST" in *:*) ;; *) cannot_run "'$IPV6' is not an IPv6 address" ;; esac
    add_plain "$SPLIT_HOST" "$SPLIT_PORT" both
fi
if [ -n "$DOT" ]; then
    dot_spec=${DOT#tls://}
    split_hp "${dot_spec%%\?*}" 853
    add_dot "$SPLIT_HOST" "$SPLIT_PORT"
fi
if [ -n "$DOH" ]; then
    case "$DOH" in https://*) ;; *) cannot_run "--doh wants https://HOST[:PORT]/PATH, got '$DOH'" ;; esac
    add_doh "$DOH"
fi
any_ep=0
for id in $ALL_IDS; do ep_known "$id" && any_ep=1; done
[ "$any_ep" = 1 ] || cannot_run "nothing to test: give --lab READY_FILE, --lab-host, or Gateway endpoints (--doh, --dot, --ipv4, --ipv6)"

if [ "$PROFILE" = lab ]; then
    REACH_NAME=${REACH_NAME:-www.example.com}
    [ "$LARGE_SET" = 1 ] || LARGE_NAME=big.example.com
    [ "$ERROR_SET" = 1 ] || ERROR_NAME=servfail.example.com
else
    REACH_NAME=${REACH_NAME:-www.cloudflare.com}
    [ "$SIGNED_SET" = 1 ] || SIGNED_NAME=cloudflare.com
    [ "$ERROR_SET" = 1 ] || ERROR_NAME=dnssec-failed.org
fi
if [ -z "$TEST_NAMES" ]; then
    for n in $GATEWAY_TEST_NAMES; do TEST_NAMES="$TEST_NAMES $n.testcategory.com"; done
fi

# The tools this machine has, best first.
PLAIN_TOOL=""
for t in dig kdig nslookup; do
    if have "$t"; then PLAIN_TOOL=$t; break; fi
done
DOT_TOOL=""
if have kdig; then
    DOT_TOOL=kdig
elif have dig && dig -h 2>&1 | grep -q '+\[no\]tls '; then
    DOT_TOOL=dig
elif have openssl; then
    DOT_TOOL=openssl
fi

if [ -z "$OUT" ]; then
    OUT="dnslab-selftest-$(date -u +%Y%m%dT%H%M%SZ)"
fi
[ -n "$BUNDLE" ] || BUNDLE="$OUT.tar.gz"

n_eps=0
for id in $ALL_IDS; do ep_known "$id" && n_eps=$((n_eps + 1)); done
progress 1 "reachability of $n_eps endpoints"
check_reachability
progress 2 "TLS certificates"
# Both handshakes at once; their checks are appended in order afterwards.
(
    trap - INT TERM HUP
    CHECKS_OUT="$WORK/checks.tls.dot"
    check_tls_one dot
) &
tls_pid=$!
CHECKS_OUT="$WORK/checks.tls.doh" check_tls_one doh
wait "$tls_pid"
cat "$WORK/checks.tls.dot" "$WORK/checks.tls.doh" >>"$WORK/checks" 2>/dev/null
progress 3 "plain DNS interception"
check_identity
check_answers
progress 4 "policy outcomes"
check_policy
progress 5 "resolver features"
check_edns
check_tcp_fallback
check_dnssec
check_ede
progress 6 "local clock"
check_clock
progress 7 "local configuration"
collect_local
local_checks
write_report "$OUT"

if [ "$JSON" = 1 ]; then
    cat "$OUT/report.json"
else
    col=0
    [ "$COLOR" = 1 ] && [ -t 1 ] && col=1
    if [ "$REDACT" = 1 ]; then
        summary_text "$WORK/checks" "$col" | redact
    else
        summary_text "$WORK/checks" "$col"
    fi
    say ""
    tail -n 3 "$OUT/summary.txt" | head -n 2
    say "Report: $OUT/report.json, bundle: $BUNDLE"
fi
cleanup
exit "$EXIT"
