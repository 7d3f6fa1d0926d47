// SPDX-License-Identifier: MIT
// The rule index (RuleIndex, issue 14) against the linear walk: on seeded random rule sets
// and names, evaluate_pre/evaluate_post through the index must give exactly the Evaluation
// the linear reference walk (EvalOptions::linear) gives, for every condition kind, precedence
// ties, disabled, expired and scheduled rules, and every name-related behaviour setting.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;
namespace net = resolver::net;
namespace wire = resolver::wire;

namespace {

constexpr const char* kSmall = "11111111-0000-4000-8000-000000000001";
constexpr const char* kBig = "11111111-0000-4000-8000-000000000002"; // > kInlineListNames
constexpr const char* kIps = "11111111-0000-4000-8000-000000000003"; // an IP list

// Post phase: CIDRs of every length class (host, aligned, /0, IPv6, nested and overlapping)
// and answer addresses in, next to and outside them.
const std::vector<std::string> kCidrs = {"198.18.1.0/24",   "198.18.0.0/15",  "198.18.1.7",
                                         "10.0.0.0/8",      "0.0.0.0/0",      "2001:db8::/32",
                                         "2001:db8:1::/48", "2001:db8::1",    "::/0",
                                         "192.0.2.128/25",  "203.0.113.0/31", "::ffff:0:0/96"};
const std::vector<std::string> kAnswerIps = {
    "198.18.1.7",  "198.18.1.8",  "198.19.255.255", "198.20.0.1",  "10.1.2.3",      "192.0.2.1",
    "192.0.2.200", "203.0.113.1", "203.0.113.2",    "2001:db8::1", "2001:db8:1::5", "2001:db9::1",
    "::1"};

// Non-ASCII too: "é" in UTF-8 (rules and names), a lone 0xFF byte (names only: exports
// are JSON, which must be valid UTF-8).
const std::vector<std::string> kLabels = {"a", "b", "ads", "x1", "cdn", "A", "Ads", "\xc3\xa9"};
const std::vector<std::string> kTlds = {"example", "test", "co.uk"};

struct Gen {
    std::mt19937 rng;
    explicit Gen(std::uint32_t seed) : rng(seed) {}
    std::size_t below(std::size_t n) { return rng() % n; }
    bool chance(int percent) { return static_cast<int>(below(100)) < percent; }
    template <typename T>
    const T& pick(const std::vector<T>& v) {
        return v[below(v.size())];
    }

    /// A name of 0-3 labels over a small vocabulary plus a TLD, so rules and queries meet.
    std::string name() {
        std::string n;
        const std::size_t labels = below(4);
        for (std::size_t i = 0; i < labels; ++i) {
            n += pick(kLabels) + ".";
        }
        return n + pick(kTlds);
    }
    /// A query name: sometimes upper case, a trailing dot, an empty label or the root.
    std::string qname() {
        if (chance(2)) {
            return ".";
        }
        std::string n = name();
        if (chance(10)) {
            for (auto& c : n) {
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            }
        }
        if (chance(5)) {
            n = "a.." + n;
        }
        if (chance(5)) {
            n = "\xff" + n;
        }
        if (chance(15)) {
            n += ".";
        }
        return n;
    }
    std::string quoted(const std::string& s) {
        std::string out = "\"";
        for (char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        return out + "\"";
    }
    std::string name_set() {
        std::string s = "{";
        for (std::size_t i = 0, n = 1 + below(3); i < n; ++i) {
            s += (i ? " " : "") + quoted(name() + (chance(10) ? "." : ""));
        }
        return s + "}";
    }
    std::string glob() {
        std::string base = name();
        if (chance(20)) {
            base[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(base[0])));
        }
        switch (below(7)) {
        case 0:
            return "*." + base;
        case 1:
            return "*" + base;
        case 2:
            return pick(kLabels) + "*";
        case 3:
            return "*" + pick(kLabels) + "*";
        case 4:
            return base; // no star: equality
        case 5:
            return pick(kLabels) + ".*." + pick(kTlds);
        default:
            return "a\\*." + base; // an escaped star is a literal
        }
    }
    std::string regex() {
        static const std::vector<std::string> res = {
            R"(^a\.)",          R"(ads)",      R"(\.example$)", R"(^(a|b)\.x1\.test$)", R"([0-9])",
            R"(^cdn\.co\.uk$)", R"(^x1\.b\.)", R"((?i)^ADS)",   R"(^b\.|\.test$)"};
        return pick(res);
    }
    std::string atom() {
        auto on_name = [&](const std::string& op_rhs) {
            if (chance(50)) {
                return "dns.fqdn " + op_rhs;
            }
            return "any(dns.domains[*] " + op_rhs + ")";
        };
        switch (below(post_atoms ? 24 : 18)) {
        case 0:
        case 1:
            return on_name("== " + quoted(name()));
        case 2:
            return on_name("in " + name_set());
        case 3:
            return on_name(std::string("in $") + kSmall);
        case 4:
            return on_name(std::string("in $") + kBig);
        case 5:
        case 6:
            return on_name("wildcard " + quoted(glob()));
        case 7:
            return on_name("strict wildcard " + quoted(glob()));
        case 8:
        case 9:
            return on_name("matches " + quoted(regex()));
        case 10:
            return on_name("contains " + quoted(pick(kLabels) + "." + pick(kLabels)));
        case 11:
            return chance(50) ? R"(dns.query_rtype == "TXT")"
                              : R"(dns.query_rtype in {"TXT" "AAAA"})";
        case 12:
            return chance(50) ? R"(dns.location in {"loc1"})" : R"(dns.location == "loc2")";
        case 13:
            return "any(dns.content_category[*] in {" + std::to_string(70 + below(3)) + "})";
        case 14:
            return "dns.src_ip in {10.0.0.0/8}";
        case 15:
            return "dns.fqdn != " + quoted(name());
        case 16:
            return "dns.domains[1] == " + quoted(name()); // an element by position
        case 17:
            return "all(dns.domains[*] " + std::string(chance(50) ? "wildcard " : "== ") +
                   quoted(chance(50) ? name() : "*") + ")";
        // Post-resolution atoms (post_atoms): the indexed resolved-IP forms and others.
        case 18:
        case 19:
            return "any(dns.resolved_ips[*] in " + cidr_set() + ")";
        case 20:
            return std::string("any(dns.resolved_ips[*] in $") + kIps + ")";
        case 21:
            return "dns.resolved_ips[0] in " + cidr_set(); // one element by position
        case 22:
            return chance(50) ? R"(any(dns.response.cname[*] == "ads.example"))"
                              : R"(any(dns.dst.geo.country[*] == "US"))";
        default:
            return "not any(dns.resolved_ips[*] in " + cidr_set() + ")";
        }
    }
    std::string cidr_set() {
        std::string s = "{";
        for (std::size_t i = 0, n = 1 + below(3); i < n; ++i) {
            s += (i ? " " : "") + pick(kCidrs);
        }
        return s + "}";
    }
    bool post_atoms = false;
    std::string expr(int depth) {
        if (depth == 0 || chance(35)) {
            return atom();
        }
        // Mostly conjunctions, as in real exports: a negation or a disjunction of broad
        // atoms matches nearly every query, and first-match would then hide the rest.
        switch (below(8)) {
        case 0:
        case 1:
        case 2:
        case 3:
            return "(" + expr(depth - 1) + " and " + expr(depth - 1) + ")";
        case 4:
            return "(" + expr(depth - 1) + " or " + expr(depth - 1) + ")";
        case 5:
            return "(" + expr(depth - 1) + " xor " + expr(depth - 1) + ")";
        case 6:
            return "not not " + atom();
        default:
            return "(not " + atom() + " and " + atom() + ")";
        }
    }
};

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

/// One random export: rules, a small and a big list, two locations, a few category rows.
PolicyTexts random_export(Gen& g, std::size_t nrules) {
    PolicyTexts t;
    t.locations = R"([{"id":"loc1","name":"L1"},{"id":"loc2","name":"L2"}])";
    t.categories = "domain,categories\nads.example,70\nb.test,71\ncdn.co.uk,72 70\n"
                   "198.18.1.0/24,71\n2001:db8::/32,72\n";
    std::string small;
    for (int i = 0; i < 6; ++i) {
        small += (i ? "," : "") + std::string("{\"value\":\"") + g.name() + "\"}";
    }
    std::string big;
    for (int i = 0; i < 5000; ++i) {
        big +=
            (i ? "," : "") + std::string("{\"value\":\"filler") + std::to_string(i) + ".example\"}";
    }
    for (int i = 0; i < 4; ++i) {
        big += ",{\"value\":\"" + g.name() + "\"}";
    }
    t.lists = std::string(R"({"result":[{"id":")") + kSmall +
              R"(","name":"small","type":"DOMAIN","items":[)" + small + R"(]},{"id":")" + kBig +
              R"(","name":"big","type":"DOMAIN","items":[)" + big + R"(]},{"id":")" + kIps +
              R"(","name":"ips","type":"IP","items":[{"value":")" + g.pick(kCidrs) +
              R"("},{"value":")" + g.pick(kCidrs) + R"("}]}]})";
    t.rules = "[";
    static const std::vector<std::string> actions = {"block", "allow", "override"};
    for (std::size_t i = 0; i < nrules; ++i) {
        // A third of the rules may use post-resolution fields (then never an override:
        // the loader rejects those).
        g.post_atoms = g.chance(33);
        const std::string traffic = g.chance(50) ? g.expr(3) : g.atom() + " and " + g.expr(2);
        g.post_atoms = false;
        const bool post = traffic.find("dns.resolved_ips") != std::string::npos ||
                          traffic.find("dns.response") != std::string::npos ||
                          traffic.find("dns.dst") != std::string::npos;
        std::string action = g.pick(actions);
        if (post && action == "override") {
            action = g.chance(50) ? "block" : "allow";
        }
        std::string r = "{\"id\":\"r" + std::to_string(i) +
                        "\",\"precedence\":" + std::to_string(g.below(nrules / 2 + 1)) + // ties
                        ",\"action\":\"" + action + "\",\"filters\":[\"dns\"],\"traffic\":\"" +
                        json_escape(traffic) + "\"";
        if (action == "override") {
            r += R"(,"rule_settings":{"override_ips":["192.0.2.1"]})";
        } else if (g.chance(25)) {
            // Category rules re-checked on resolved-IP categories, or not on CNAME targets.
            r += g.chance(50) ? R"(,"rule_settings":{"ip_categories":true})"
                              : R"(,"rule_settings":{"ignore_cname_category_matches":true})";
        }
        if (g.chance(10)) {
            r += ",\"enabled\":false";
        }
        if (g.chance(5)) {
            r += R"(,"expiration":{"expires_at":"2024-07-03T11:00:00Z","expired":false})";
        }
        if (g.chance(3)) {
            r += R"(,"expiration":{"expired":true})";
        }
        if (g.chance(10)) {
            r += R"(,"schedule":{"wed":"09:00-11:00","thu":"00:00-23:59"})";
        }
        if (g.chance(5)) {
            r += R"(,"identity":"identity.email == \"u@example.com\"")";
        }
        t.rules += (i ? "," : "") + r + "}";
    }
    t.rules += "]";
    return t;
}

/// Everything an Evaluation carries that a decision depends on, compared field by field.
void check_same(const Evaluation& fast, const Evaluation& slow) {
    CHECK(fast.rule == slow.rule);
    CHECK(fast.action == slow.action);
    CHECK(fast.decision == slow.decision);
    CHECK(fast.decided_in == slow.decided_in);
    CHECK(fast.finished == slow.finished);
    CHECK(fast.request_context_block == slow.request_context_block);
    CHECK(fast.matched_categories == slow.matched_categories);
    CHECK(fast.initial_categories == slow.initial_categories);
    CHECK(fast.query_categories == slow.query_categories);
    CHECK(fast.route.key() == slow.route.key());
    CHECK(fast.cname_categories == slow.cname_categories);
    CHECK(fast.resolved_ip_categories == slow.resolved_ip_categories);
}

} // namespace

TEST_SUITE_BEGIN("policy.rule_index");

TEST_CASE("the indexed walk decides exactly like the linear walk on random rule sets") {
    // 1720000800 = Wednesday 2024-07-03 10:00 UTC: inside the Wednesday schedule, before
    // expires_at; +2h: outside it and expired; +1 day: Thursday.
    const std::int64_t times[] = {1720000800, 1720000800 + 7200, 1720000800 + 86400};
    std::size_t queries = 0;
    std::size_t decided = 0;
    std::size_t post_decided = 0; // decided by a post-resolution rule
    for (std::uint32_t seed = 1; seed <= 40; ++seed) {
        Gen g(seed);
        const PolicyTexts texts = random_export(g, 5 + g.below(30));
        auto set = load_policy_texts(texts);
        REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
        const PolicySet& s = **set;
        EvalScratch scratch;
        for (int b = 0; b < 4; ++b) {
            Behaviour beh;
            beh.fqdn_lowercase = b != 1;
            beh.fqdn_trailing_dot = b == 2;
            beh.regex_anchored = b == 3;
            for (int k = 0; k < 60; ++k) {
                const std::string name = g.qname();
                QueryFacts q;
                q.qname = name;
                q.qtype = g.chance(50) ? wire::rrtype::A
                                       : (g.chance(50) ? wire::rrtype::AAAA : wire::rrtype::TXT);
                q.src_ip = net::IpAddr::parse(g.chance(50) ? "10.1.2.3" : "192.0.2.9");
                q.location = &s.locations.locations[g.below(2)];
                q.query_id = ++queries;
                const std::int64_t now = times[g.below(3)];
                EvalOptions linear{now};
                linear.linear = true;
                EvalOptions indexed{now};
                EvalOptions reused{now, false, &scratch};
                CAPTURE(seed);
                CAPTURE(b);
                CAPTURE(name);
                CAPTURE(q.qtype);
                Evaluation slow = evaluate_pre(s, q, beh, linear);
                Evaluation fast = evaluate_pre(s, q, beh, indexed);
                Evaluation quick = evaluate_pre(s, q, beh, reused);
                if (slow.rule != fast.rule) {
                    MESSAGE(
                        "linear: "
                        << (slow.rule ? slow.rule->id + " " + slow.rule->traffic.source() : "none")
                        << "\nindexed: "
                        << (fast.rule ? fast.rule->id + " " + fast.rule->traffic.source()
                                      : "none"));
                }
                check_same(fast, slow);
                check_same(quick, slow);
                decided += slow.action ? 1 : 0;
                if (!slow.finished) {
                    // 0-3 answer addresses (v4 and v6), sometimes a CNAME with categories.
                    ResponseFacts resp;
                    for (std::size_t n = g.below(4); n > 0; --n) {
                        resp.resolved_ips.push_back(*net::IpAddr::parse(g.pick(kAnswerIps)));
                    }
                    if (g.chance(20)) {
                        resp.cnames.push_back(g.chance(50) ? "ads.example" : "other.test");
                    }
                    evaluate_post(s, q, resp, beh, linear, slow);
                    evaluate_post(s, q, resp, beh, indexed, fast);
                    evaluate_post(s, q, resp, beh, reused, quick);
                    if (slow.rule != fast.rule) {
                        MESSAGE("post, linear: "
                                << (slow.rule ? slow.rule->id + " " + slow.rule->traffic.source()
                                              : "none")
                                << "\nindexed: "
                                << (fast.rule ? fast.rule->id + " " + fast.rule->traffic.source()
                                              : "none"));
                    }
                    check_same(fast, slow);
                    check_same(quick, slow);
                    post_decided += slow.decided_in == Phase::Post && slow.action ? 1 : 0;
                }
            }
        }
    }
    // The random sets must exercise both outcomes, or the comparison proves little.
    CHECK(decided > queries / 10);
    CHECK(decided < queries * 9 / 10);
    CHECK(post_decided > queries / 50); // the post phase decides often enough to compare
}

TEST_CASE("rules the index can key are not always-candidates; the others are") {
    PolicyTexts t;
    t.locations = R"([{"id":"loc1","name":"L1"}])";
    t.lists = std::string(R"({"result":[{"id":")") + kSmall +
              R"(","name":"small","type":"DOMAIN","items":[{"value":"l.example"}]}]})";
    t.rules = std::string(R"j([
      {"id":"eq","precedence":1,"action":"block","filters":["dns"],"traffic":"dns.fqdn == \"a.example\""},
      {"id":"wild","precedence":2,"action":"block","filters":["dns"],"traffic":"dns.fqdn wildcard \"*.w.example\""},
      {"id":"glob","precedence":3,"action":"block","filters":["dns"],"traffic":"dns.fqdn wildcard \"*ads*\""},
      {"id":"re","precedence":4,"action":"block","filters":["dns"],"traffic":"dns.fqdn matches \"^re[0-9]+\\\\.\""},
      {"id":"list","precedence":5,"action":"block","filters":["dns"],"traffic":"any(dns.domains[*] in $)j") +
              kSmall + R"j()"},
      {"id":"or","precedence":6,"action":"block","filters":["dns"],"traffic":"dns.fqdn == \"o.example\" or dns.query_rtype == \"TXT\""},
      {"id":"and","precedence":7,"action":"block","filters":["dns"],"traffic":"dns.src_ip in {10.0.0.0/8} and any(dns.domains[*] == \"s.example\")"},
      {"id":"xor","precedence":8,"action":"block","filters":["dns"],"traffic":"dns.fqdn == \"x.example\" xor any(dns.domains[*] == \"y.example\")"},
      {"id":"not","precedence":9,"action":"block","filters":["dns"],"traffic":"not dns.fqdn == \"n.example\""},
      {"id":"ip","precedence":10,"action":"block","filters":["dns"],"traffic":"dns.src_ip in {10.0.0.0/8}"},
      {"id":"loc","precedence":11,"action":"block","filters":["dns"],"traffic":"dns.location in {\"loc1\"} and dns.src_ip in {10.0.0.0/8}"},
      {"id":"off","precedence":12,"enabled":false,"action":"block","filters":["dns"],"traffic":"dns.src_ip in {10.0.0.0/8}"}])j";
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const PolicySet& s = **set;
    const RuleIndex& x = s.pre_index;
    auto always = [&](std::string_view id) {
        for (std::size_t i = 0; i < s.dns_rules.size(); ++i) {
            if (s.dns_rules[i].id == id) {
                return ((x.always[i / 64] >> (i % 64)) & 1U) != 0;
            }
        }
        FAIL("no rule " << id);
        return false;
    };
    for (const char* id : {"eq", "wild", "glob", "re", "list", "or", "and", "xor", "loc"}) {
        CAPTURE(id);
        CHECK_FALSE(always(id));
    }
    CHECK(always("not"));
    CHECK(always("ip"));
    CHECK_FALSE(always("off")); // disabled: never a candidate
    // Candidates for one name: its own rules and the always-candidates, nothing else.
    auto candidates = [&](std::string_view normal, std::string_view rtype) {
        std::vector<std::string_view> domains;
        std::string_view rest = normal;
        while (true) {
            domains.push_back(rest);
            auto dot = rest.find('.');
            if (dot == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(dot + 1);
        }
        IndexQuery q{normal, normal, domains, rtype, "loc-other", {}};
        IndexScratch scratch;
        x.candidates(q, scratch);
        std::vector<std::string> ids;
        for (std::size_t i = 0; i < s.dns_rules.size(); ++i) {
            if ((scratch.bits[i / 64] >> (i % 64)) & 1U) {
                ids.push_back(s.dns_rules[i].id);
            }
        }
        return ids;
    };
    using V = std::vector<std::string>;
    CHECK(candidates("a.example", "A") == V{"eq", "not", "ip"});
    CHECK(candidates("b.w.example", "A") == V{"wild", "not", "ip"});
    CHECK(candidates("w.example", "A") == V{"wild", "not", "ip"}); // a superset is fine
    CHECK(candidates("my-ads.example", "A") == V{"glob", "not", "ip"});
    CHECK(candidates("re12.example", "A") == V{"re", "not", "ip"});
    CHECK(candidates("www.l.example", "A") == V{"list", "not", "ip"});
    CHECK(candidates("q.example", "TXT") == V{"or", "not", "ip"});
    CHECK(candidates("t.s.example", "A") == V{"and", "not", "ip"});
    CHECK(candidates("z.y.example", "A") == V{"xor", "not", "ip"});
    CHECK(candidates("q.example", "A") == V{"not", "ip"});
}

TEST_SUITE_END();
