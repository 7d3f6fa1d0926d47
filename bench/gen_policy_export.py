#!/usr/bin/env python3
"""Writes a generated Gateway export for the policy benchmarks (not a test fixture).

Usage: gen_policy_export.py FIXTURES_DIR OUT_DIR [RULES] [LIST_NAMES] [--print-mix]

OUT_DIR receives rules.json, lists.json, locations.json (the fixture locations),
categories.csv (the fixture rows plus generated rows for the category rules),
eval_names.txt (query names for bench/policy/bench_policy, "CLASS NAME" per line) and
mix.txt (how many rules of each kind). The mix is what real exports hold, in the
proportions of the issue 14 measurement: domain sets, one rule on a LIST_NAMES-name DOMAIN
list, anchored regexes, 71 `wildcard` rules, content categories, location-scoped rules,
resolved-IP rules, overrides, query types, OR/NOT/XOR combinations, disabled, expired and
scheduled rules. No generated rule matches the names bench/policy_transports.sh queries
(the fixture zones' www.example.com and friends), so those queries walk the candidates and
end allowed: cache hits with the whole policy evaluated.
"""
import json
import random
import sys

fix, out = sys.argv[1], sys.argv[2]
args = [a for a in sys.argv[3:] if not a.startswith("--")]
nrules = int(args[0]) if len(args) > 0 else 500
nlist = int(args[1]) if len(args) > 1 else 1000000
rng = random.Random(14)

HQ = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0001"
BRANCH = "0f3b1d6e-6c4a-4d8e-9a51-3c1e2b7d0002"
BIG = "5b000000-0000-4000-8000-000000000001"
# Content category IDs that exist in fixtures/categories/ids.csv and that no fixture zone
# name carries (example.com is 155, cdn.example.net 81, ...): category rules on them block
# only the generated catgen names.
CATS = [70, 74, 76, 79, 92, 96, 100, 106, 107, 116, 120, 121, 127, 139, 156]

# Kinds in proportion per 500 rules (the remainder goes to plain names).
KINDS = [
    ("list-1M", 1),          # any(dns.domains[*] in $big)
    ("small-list", 8),       # any(dns.domains[*] in $small) on 200-name lists
    ("domain-set", 110),     # dns.fqdn in {...} / any(dns.domains[*] in {...})
    ("name", 40),            # dns.fqdn == / any(dns.domains[*] == ...)
    ("wildcard", 71),        # wildcard / strict wildcard, suffix and free-form patterns
    ("regex", 40),           # anchored regexes on dns.fqdn and dns.domains
    ("category", 50),        # any(dns.content_category[*] in {...}) (some ANDed with names)
    ("location", 50),        # dns.location in {...} and names / categories / source IPs
    ("resolved-ip", 30),     # any(dns.resolved_ips[*] in {...}) (post-resolution)
    ("override", 30),        # action override (override_ips)
    ("rtype", 20),           # dns.query_rtype and a name
    ("or-not-xor", 20),      # or / not / xor combinations
    ("disabled", 10),
    ("expired", 5),
    ("scheduled", 15),
]

rules = []
classes = {}  # eval name class -> names


def add(kind, traffic, action="block", **extra):
    i = len(rules)
    r = {"id": f"9b000000-0000-4000-8000-{i:012d}", "name": f"{kind} {i}",
         "precedence": 2000 + i * 10, "enabled": True, "action": action, "filters": ["dns"],
         "traffic": traffic, "identity": "", "rule_settings": {}}
    r.update(extra)
    rules.append(r)
    return i


def names(cls, *ns):
    classes.setdefault(cls, []).extend(ns)


total = sum(n for _, n in KINDS)
scale = nrules / total
plan = []
for kind, n in KINDS:
    plan += [kind] * max(1 if n else 0, round(n * scale))
plan = plan[:nrules]
rng.shuffle(plan)  # kinds interleaved in precedence order, as in a real export
mix = {}
small_lists = []
for k, kind in enumerate(plan):
    mix[kind] = mix.get(kind, 0) + 1
    j = k % 7
    if kind == "list-1M":
        add(kind, f"any(dns.domains[*] in ${BIG})")
    elif kind == "small-list":
        lid = f"5b000000-0000-4000-8000-1{k:011d}"
        small_lists.append((lid, [f"m{k}-{x}.small.example" for x in range(200)]))
        add(kind, f"any(dns.domains[*] in ${lid})")
        names("small-list", f"www.m{k}-7.small.example")
    elif kind == "domain-set":
        s = " ".join(f'"s{k}-{x}.set.example"' for x in range(5))
        if j % 2:
            add(kind, f"dns.fqdn in {{{s}}}")
            names("domain-set", f"s{k}-3.set.example")
        else:
            add(kind, f"any(dns.domains[*] in {{{s}}})")
            names("domain-set", f"a.b.s{k}-1.set.example")
    elif kind == "name":
        if j % 2:
            add(kind, f'dns.fqdn == "n{k}.name.example"')
        else:
            add(kind, f'any(dns.domains[*] == "n{k}.name.example")')
        names("name", f"n{k}.name.example")
    elif kind == "wildcard":
        forms = [
            (f'dns.fqdn wildcard "*.w{k}.wild.example"', f"x.w{k}.wild.example"),
            (f'dns.fqdn wildcard "ads*.w{k}.wild.example"', f"ads7.w{k}.wild.example"),
            (f'any(dns.domains[*] wildcard "*.d{k}.wild.example")', f"a.b.d{k}.wild.example"),
            (f'dns.fqdn strict wildcard "*.S{k}.wild.example"', f"x.S{k}.wild.example"),
            (f'dns.fqdn wildcard "*track{k}*"', f"ab.track{k}x.example"),
            (f'dns.fqdn wildcard "cdn{k}.*.wild.example"', f"cdn{k}.q.wild.example"),
            (f'dns.fqdn wildcard "W{k}.WILD.example"', f"w{k}.wild.example"),
        ]
        t, n = forms[j]
        add(kind, t)
        names("wildcard", n)
    elif kind == "regex":
        forms = [
            (f'dns.fqdn matches "^re{k}[0-9]+\\\\.rx\\\\.example$"', f"re{k}42.rx.example"),
            (f'dns.fqdn matches "^(www\\\\.)?r{k}-[a-z]+\\\\.rx\\\\.example$"', f"www.r{k}-ab.rx.example"),
            (f'any(dns.domains[*] matches "^t{k}[0-9]*\\\\.rx\\\\.example$")', f"a.t{k}9.rx.example"),
            (f'dns.fqdn matches "\\\\.u{k}\\\\.rx\\\\.example$"', f"a.u{k}.rx.example"),
            (f'dns.fqdn matches "^v{k}\\\\."', f"v{k}.anything.example"),
        ]
        t, n = forms[j % len(forms)]
        add(kind, t)
        names("regex", n)
    elif kind == "category":
        c = CATS[k % len(CATS)]
        if j % 3 == 0:
            add(kind, f'any(dns.content_category[*] in {{{c}}}) and dns.fqdn == "k{k}.catgen.example"')
        else:
            add(kind, f"any(dns.content_category[*] in {{{c} {CATS[(k + 3) % len(CATS)]}}})")
    elif kind == "location":
        loc = HQ if j % 2 else BRANCH
        forms = [
            f'dns.location in {{"{loc}"}} and any(dns.domains[*] in {{"l{k}.loc.example" "l{k}b.loc.example"}})',
            f'dns.location in {{"{loc}"}} and any(dns.content_category[*] in {{{CATS[k % len(CATS)]}}})',
            f'dns.location in {{"{BRANCH}"}} and dns.src_ip in {{10.{k % 256}.0.0/16}}',
        ]
        add(kind, forms[j % 3])
        names("location", f"l{k}.loc.example")
    elif kind == "resolved-ip":
        add(kind, f"any(dns.resolved_ips[*] in {{198.18.{k % 256}.0/24}})")
    elif kind == "override":
        add(kind, f'dns.fqdn == "o{k}.ovr.example"', action="override",
            rule_settings={"override_ips": ["192.0.2.10"]})
        names("override", f"o{k}.ovr.example")
    elif kind == "rtype":
        add(kind, f'dns.query_rtype == "TXT" and any(dns.domains[*] == "q{k}.rtype.example")')
    elif kind == "or-not-xor":
        forms = [
            f'dns.fqdn == "e{k}.bool.example" or any(dns.domains[*] == "f{k}.bool.example")',
            f'not dns.query_rtype == "MX" and dns.fqdn == "g{k}.bool.example"',
            # xor of two name-bound terms: h{k} for any type but AAAA, or AAAA for the rest
            # of bool.example (a bare `xor dns.query_rtype == "AAAA"` would block every AAAA
            # query of the benchmark's allowed names).
            f'dns.fqdn == "h{k}.bool.example" xor'
            f' (dns.query_rtype == "AAAA" and any(dns.domains[*] == "bool.example"))',
            f'not (dns.fqdn == "i{k}.bool.example" or dns.fqdn == "j{k}.bool.example")'
            f' and dns.location in {{"{BRANCH}"}}',
        ]
        add(kind, forms[j % 4])
        names("or-not-xor", f"e{k}.bool.example", f"g{k}.bool.example")
    elif kind == "disabled":
        add(kind, f'dns.fqdn == "z{k}.off.example"', enabled=False)
    elif kind == "expired":
        add(kind, f'dns.fqdn == "x{k}.exp.example"',
            expiration={"expires_at": "2024-01-01T00:00:00Z", "expired": True})
    elif kind == "scheduled":
        add(kind, f'any(dns.domains[*] == "y{k}.sched.example")',
            schedule={"mon": "09:00-17:00", "wed": "09:00-12:00", "time_zone": "UTC"})
        names("scheduled", f"y{k}.sched.example")

fixture_rules = json.load(open(f"{fix}/policy/rules.json"))
fixture_rules["result"] = [r for r in fixture_rules["result"] if r["filters"] != ["http"]] + rules
json.dump(fixture_rules, open(f"{out}/rules.json", "w"))

with open(f"{out}/lists.json", "w") as f:
    # written by hand: a 1M-item list through json.dump is slow and memory hungry
    f.write('{"success":true,"result":[')
    for lst in json.load(open(f"{fix}/policy/lists.json"))["result"]:
        f.write(json.dumps(lst) + ",")
    for lid, items in small_lists:
        f.write(json.dumps({"id": lid, "name": "small " + lid[-4:], "type": "DOMAIN",
                            "items": [{"value": v} for v in items]}) + ",")
    f.write('{"id":"%s","name":"bench 1M","type":"DOMAIN","items":[' % BIG)
    f.write(",".join('{"value":"d%07d.bench-list.example"}' % i for i in range(nlist)))
    f.write("]}]}")

with open(f"{out}/locations.json", "w") as f:
    f.write(open(f"{fix}/policy/locations.json").read())

with open(f"{out}/categories.csv", "w") as f:
    f.write(open(f"{fix}/categories/categories.csv").read())
    for x in range(2000):
        f.write(f"c{x}.catgen.example,{CATS[x % len(CATS)]}\n")
        f.write(f"k{x}.catgen.example,{CATS[x % len(CATS)]}\n")

names("list-1M", *[f"www.d{rng.randrange(nlist):07d}.bench-list.example" for _ in range(200)])
names("category", *[f"c{rng.randrange(2000)}.catgen.example" for _ in range(200)])
# Allowed: no rule matches. Fixture names (what the transport benchmark queries) and
# random misses under the same suffixes as the rules.
names("allowed", "www.example.com", "mail.example.com", "chain1.example.com", "example.com",
      "edge.example.net", "www.example.net", "ipv6only.example.com",
      *[f"miss{rng.randrange(10**9)}.{s}" for s in
        ("wild.example", "rx.example", "set.example", "bench-list.example", "example.com",
         "name.example", "catgen.example") for _ in range(30)])
with open(f"{out}/eval_names.txt", "w") as f:
    for cls, ns in sorted(classes.items()):
        for n in ns:
            f.write(f"{cls} {n}\n")
with open(f"{out}/mix.txt", "w") as f:
    f.write(f"{len(rules)} generated rules + {len(fixture_rules['result']) - len(rules)} "
            f"fixture rules; {nlist} names in the big list\n")
    for kind, _ in KINDS:
        f.write(f"{kind} {mix.get(kind, 0)}\n")
if "--print-mix" in sys.argv:
    sys.stdout.write(open(f"{out}/mix.txt").read())
