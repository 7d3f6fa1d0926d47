// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "resolver/policy/expr.hpp"

using namespace resolver::policy;
namespace net = resolver::net;

namespace {

/// A tiny fact set: fqdn www.example.com, AAAA, source 192.0.2.10, categories 117 21,
/// resolved 203.0.113.5, no identity.
struct Facts {
    std::vector<std::string_view> fqdn{"www.example.com"};
    std::vector<std::string_view> domains{"www.example.com", "example.com", "com"};
    std::vector<std::string_view> rtype{"AAAA"};
    std::vector<net::IpAddr> src{*net::IpAddr::parse("192.0.2.10")};
    std::vector<std::int64_t> content{};
    std::vector<std::int64_t> security{117, 21};
    std::vector<net::IpAddr> resolved{*net::IpAddr::parse("203.0.113.5"),
                                      *net::IpAddr::parse("2001:db8::5")};
    std::vector<std::string_view> country{"DE", "US"};
    std::vector<std::string_view> groups{"Contractors", "Staff"};
    std::map<std::string, std::vector<std::string>, std::less<>> saml{{"urn:dept", {"eng", "ops"}}};
    FieldValues values;

    Facts() {
        auto set_s = [&](FieldId f, const std::vector<std::string_view>& v) {
            auto& fv = values.views[static_cast<std::size_t>(f)];
            fv.present = true;
            fv.strs = v;
        };
        set_s(FieldId::DnsFqdn, fqdn);
        set_s(FieldId::DnsDomains, domains);
        set_s(FieldId::DnsQueryRtype, rtype);
        set_s(FieldId::DnsDstGeoCountry, country);
        set_s(FieldId::IdentityGroupsName, groups);
        auto& s = values.views[static_cast<std::size_t>(FieldId::DnsSrcIp)];
        s.present = true;
        s.ips = src;
        auto& r = values.views[static_cast<std::size_t>(FieldId::DnsResolvedIps)];
        r.present = true;
        r.ips = resolved;
        auto& c = values.views[static_cast<std::size_t>(FieldId::DnsContentCategory)];
        c.present = true;
        c.ints = content;
        auto& sc = values.views[static_cast<std::size_t>(FieldId::DnsSecurityCategory)];
        sc.present = true;
        sc.ints = security;
        auto& b =
            values.views[static_cast<std::size_t>(FieldId::DnsCategoriesInRequestContextMatches)];
        b.present = true;
        b.boolean = true;
        values.saml = &saml;
    }
};

PolicyList make_domain_list() {
    PolicyList l;
    l.id = "11111111-2222-3333-4444-555555555555";
    l.type = ListType::Domain;
    l.domains.insert("example.com");
    return l;
}

PolicyList make_ip_list() {
    PolicyList l;
    l.id = "ips_1";
    l.type = ListType::Ip;
    l.ips.add(*net::IpRange::parse_cidr("203.0.113.0/24"));
    l.ips.seal();
    return l;
}

struct Env {
    PolicyList dl = make_domain_list();
    PolicyList il = make_ip_list();
    ListLookup lookup = [this](std::string_view id) -> const PolicyList* {
        if (id == dl.id) {
            return &dl;
        }
        if (id == il.id) {
            return &il;
        }
        return nullptr;
    };
};

bool eval(std::string_view src) {
    Env env;
    Facts f;
    auto r = compile_expr(src, env.lookup);
    INFO("expr: " << src << " error col " << r.error.column << ": " << r.error.message);
    REQUIRE(r);
    EvalNotes notes;
    return r.expr->eval(f.values, notes);
}

ExprError error_of(std::string_view src) {
    Env env;
    auto r = compile_expr(src, env.lookup);
    INFO("expr: " << src);
    REQUIRE_FALSE(r);
    return r.error;
}

} // namespace

TEST_SUITE_BEGIN("policy.expr");

TEST_CASE("every comparison operator evaluates as wirefilter defines it") {
    struct Row {
        const char* expr;
        bool want;
    };
    const Row rows[] = {
        {R"(dns.fqdn == "www.example.com")", true},
        {R"(dns.fqdn eq "www.example.com")", true},
        {R"(dns.fqdn == "WWW.example.com")", false},
        {R"(dns.fqdn != "other.example.com")", true},
        {R"(dns.fqdn ne "www.example.com")", false},
        {R"(dns.fqdn < "xyz")", true},
        {R"(dns.fqdn lt "abc")", false},
        {R"(dns.fqdn >= "www.example.com")", true},
        {R"(dns.fqdn contains "example")", true},
        {R"(dns.fqdn contains "nope")", false},
        {R"(dns.fqdn matches "ex.mple")", true},
        {R"(dns.fqdn ~ "^www\\.")", true},
        {R"(dns.fqdn matches "^example")", false},
        {R"(dns.fqdn matches "foo|www")", true},
        {R"(dns.fqdn wildcard "*.EXAMPLE.com")", true},
        {R"(dns.fqdn strict wildcard "*.EXAMPLE.com")", false},
        {R"(dns.fqdn strict wildcard "*.example.*")", true},
        {R"(dns.fqdn wildcard "example.com")", false},
        {R"(dns.query_rtype in {"A" "AAAA"})", true},
        {R"(dns.query_rtype in {"MX"})", false},
        {R"(dns.src_ip == 192.0.2.10)", true},
        {R"(dns.src_ip != 192.0.2.10)", false},
        {R"(dns.src_ip > 192.0.2.9)", true},
        {R"(dns.src_ip le 192.0.2.9)", false},
        {R"(dns.src_ip in {10.0.0.0/8 192.0.2.0/24})", true},
        {R"(dns.src_ip in {192.0.2.1..192.0.2.9})", false},
        {R"(dns.src_ip in {192.0.2.1..192.0.2.10})", true},
        {R"(dns.src_ip in {2001:db8::/32})", false},
        {R"(any(dns.resolved_ips[*] in {2001:db8::/32}))", true},
        {R"(any(dns.resolved_ips[*] in $ips_1))", true},
        {R"(all(dns.resolved_ips[*] in $ips_1))", false},
        {R"(any(dns.domains[*] in $11111111-2222-3333-4444-555555555555))", true},
        {R"(dns.fqdn in $11111111-2222-3333-4444-555555555555)", false},
        {R"(any(dns.domains[*] == "example.com"))", true},
        {R"(any(dns.security_category[*] in {117}))", true},
        {R"(any(dns.security_category[*] in {100..120}))", true},
        {R"(any(dns.security_category[*] in {0x75}))", true},
        {R"(any(dns.security_category[*] in {0165}))", true},
        {R"(any(dns.security_category[*] > 200))", false},
        {R"(any(dns.security_category[*] & 1))", true},
        {R"(any(dns.content_category[*] in {1}))", false},
        {R"(all(dns.content_category[*] in {1}))", true},
        {R"(dns.security_category[0] == 117)", true},
        {R"(dns.security_category[1] == 117)", false},
        {R"(dns.security_category[5] == 117)", false},
        {R"(any(dns.security_category[*] in {-1 117}))", true},
        {R"(dns.categories_in_request_context_matches)", true},
        {R"(not dns.categories_in_request_context_matches)", false},
        {R"(dns.dst.geo.country == "US")", true},
        {R"(any(dns.dst.geo.country[*] in {"AF" "DE"}))", true},
        {R"(any(identity.groups[*].name in {"Contractors"}))", true},
        {R"(any(identity.groups.name[*] in {"Contractors"}))", true},
        {R"(any(identity.saml_attributes["urn:dept"] in {"ops"}))", true},
        {R"(identity.saml_attributes["urn:other"] == "ops")", false},
        {R"(identity.email == "user@example.com")", false},
        {R"(not (identity.email == "user@example.com"))", true},
        {R"(identity.email != "user@example.com")", false},
        {R"(any(dns.domains[*] == "com" or dns.domains[*] == "net"))", true},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expr);
        CHECK(eval(row.expr) == row.want);
    }
}

TEST_CASE("logical operators: and binds tighter than xor, xor tighter than or") {
    const char* t = R"(dns.fqdn == "www.example.com")";
    const char* f = R"(dns.fqdn == "no")";
    auto e = [](std::string s) { return eval(s); };
    CHECK(e(std::string(t) + " and " + t));
    CHECK_FALSE(e(std::string(t) + " && " + f));
    CHECK(e(std::string(f) + " or " + t));
    CHECK(e(std::string(f) + " || " + t));
    CHECK(e(std::string(t) + " xor " + f));
    CHECK_FALSE(e(std::string(t) + " ^^ " + t));
    // t or (f and f) = t; (t or f) and f would be f.
    CHECK(e(std::string(t) + " or " + f + " and " + f));
    // f and f or t = (f and f) or t = t
    CHECK(e(std::string(f) + " and " + f + " or " + t));
    // t xor t or t: (t xor t) or t = t; t xor (t or t) = f
    CHECK(e(std::string(t) + " xor " + t + " or " + t));
    // t or t xor t: t or (t xor t) = t
    CHECK(e(std::string(t) + " or " + t + " xor " + t));
    // t xor t and f: t xor (t and f) = t
    CHECK(e(std::string(t) + " xor " + t + " and " + f));
    CHECK_FALSE(e(std::string("(") + t + " or " + f + ") and " + f));
    CHECK(e(std::string("not ") + f));
    CHECK(e(std::string("!") + f));
    CHECK(e(std::string("not(") + f + ")"));
    CHECK_FALSE(e(std::string("not not ") + f));
    CHECK(e(std::string("not ") + f + " and " + t)); // not binds to the next simple expr
}

TEST_CASE("string escapes and raw strings decode exactly") {
    struct Row {
        const char* expr;
        const char* literal;
    };
    Env env;
    const Row rows[] = {
        {R"(dns.fqdn == "a\"b")", "a\"b"},       {R"(dns.fqdn == "a\\b")", "a\\b"},
        {R"(dns.fqdn == "\x41\x62")", "Ab"},     {R"(dns.fqdn == "\101\142")", "Ab"},
        {R"(dns.fqdn == r"a\b")", "a\\b"},       {R"(dns.fqdn == r#"say "hi""#)", "say \"hi\""},
        {R"(dns.fqdn == r##"x"#y"##)", "x\"#y"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expr);
        auto r = compile_expr(row.expr, env.lookup);
        REQUIRE(r);
        // The literal is what the field must equal for the comparison to hold.
        Facts f;
        std::vector<std::string_view> v{row.literal};
        f.values.views[static_cast<std::size_t>(FieldId::DnsFqdn)].strs = v;
        EvalNotes notes;
        CHECK(r.expr->eval(f.values, notes));
    }
}

TEST_CASE("regex bounds never change what matches, only skip what cannot") {
    Env env;
    struct Row {
        const char* pattern;
        const char* value;
        bool partial; // RE2::PartialMatch, what the evaluator runs by default
    };
    const Row rows[] = {
        {R"(^re12[0-9]+\.gen\.example$)", "re125.gen.example", true},
        {R"(^re12[0-9]+\.gen\.example$)", "www.example.com", false}, // above the range
        {R"(^re12[0-9]+\.gen\.example$)", "a.example", false},       // below it
        {R"(^re12[0-9]+\.gen\.example$)", "re12.gen.example", false},
        {R"(^www\.)", "www.example.com", true}, // not end-anchored: no upper bound
        {R"(^ww(w\.)?)", "wwx", true},          // a prefix matches
        {R"(^a|zz)", "xzz", true},              // alternation: no bounds at all
        {R"(^x\$)", "x$y", true},               // an escaped $ does not anchor
        {R"(^(?i)WWW\.EXAMPLE\.COM$)", "www.example.com", true},
        {R"(^a(?m)$)", "a\nb", true}, // multi-line $: no bounds
    };
    for (const auto& row : rows) {
        // A raw wirefilter string: the pattern's backslashes reach RE2 as written.
        const std::string src = std::string("dns.fqdn matches r#\"") + row.pattern + "\"#";
        CAPTURE(src);
        CAPTURE(row.value);
        auto r = compile_expr(src, env.lookup);
        REQUIRE(r);
        Facts f;
        std::vector<std::string_view> v{row.value};
        f.values.views[static_cast<std::size_t>(FieldId::DnsFqdn)].strs = v;
        EvalNotes notes;
        CHECK(r.expr->eval(f.values, notes) == row.partial);
    }
}

TEST_CASE("integers: decimal, hex, octal and negative") {
    CHECK(eval("any(dns.security_category[*] == 117)"));
    CHECK(eval("any(dns.security_category[*] == 0x75)"));
    CHECK(eval("any(dns.security_category[*] == 0165)"));
    CHECK_FALSE(eval("any(dns.security_category[*] == -117)"));
}

TEST_CASE("compile errors carry a 1-based column and a message") {
    struct Row {
        const char* expr;
        std::size_t column;
        const char* needle;
    };
    const Row rows[] = {
        {R"(dns.fqnd == "x")", 1, "unknown field 'dns.fqnd'"},
        {R"(dns.fqdn == 5)", 13, "expected a string literal"},
        {R"(dns.src_ip == "x")", 15, "expected an IP address"},
        {R"(dns.src_ip == 10.0.0.0/8)", 15, "CIDRs are only valid"},
        {R"(dns.fqdn matches "(")", 18, "invalid regular expression"},
        {R"(any(dns.domains[*] in $nope))", 23, "unknown list '$nope'"},
        {R"(dns.src_ip in $11111111-2222-3333-4444-555555555555)", 15, "has type DOMAIN"},
        {R"(dns.fqdn == "x" and)", 20, "expected a field name"},
        {R"(dns.fqdn == "x" "y")", 17, "unexpected input"},
        {R"((dns.fqdn == "x")", 17, "expected ')'"},
        {R"(dns.fqdn == "\q")", 14, "invalid escape"},
        {R"(dns.fqdn == "abc)", 13, "unterminated string"},
        {R"(dns.domains[*] == "x")", 1, "wrap it in any"},
        {R"(dns.fqdn[*] == "x")", 9, "not an array"},
        {R"(any(dns.security_category[*] contains "x"))", 30,
         "not defined for field 'dns.security_category'"},
        {R"(dns.fqdn & 1)", 10, "not defined"},
        {R"(dns.fqdn)", 9, "expected a comparison operator"},
        {R"(any(dns.fqdn == "x"))", 5, "needs an array field mapped with [*]"},
        {R"(any(dns.security_category[*] in {5..1}))", 34, "empty integer range"},
        {R"(dns.fqdn in {"a" "b")", 21, "unterminated set"},
        {R"(any(dns.security_category[*] == 12ab))", 33, "not a valid integer"},
        {R"(identity.saml_attributes == "x")", 25, "is a map"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expr);
        auto err = error_of(row.expr);
        CHECK(err.column == row.column);
        CHECK(err.message.find(row.needle) != std::string::npos);
    }
}

TEST_CASE("nesting and length limits are enforced with an error, not a crash") {
    std::string deep;
    for (int i = 0; i < 1000; ++i) {
        deep += "(";
    }
    deep += R"(dns.fqdn == "x")";
    for (int i = 0; i < 1000; ++i) {
        deep += ")";
    }
    auto err = error_of(deep);
    CHECK(err.message.find("nested deeper") != std::string::npos);

    std::string nots(200, '!');
    nots += R"((dns.fqdn == "x"))";
    CHECK(error_of(nots).message.find("nested deeper") != std::string::npos);

    std::string longest = R"(dns.fqdn in {)";
    while (longest.size() <= kMaxExpressionLength) {
        longest += R"("aaaaaaaaaa" )";
    }
    longest += "}";
    auto e2 = error_of(longest);
    CHECK(e2.column == kMaxExpressionLength + 1);
    CHECK(e2.message.find("140000") != std::string::npos);
}

// tests/fuzz/fuzz_expr peaked at ~950 MB: each RE2 took up to RE2's default 8 MiB, so a 5 KB
// expression of 150 `r"\pL{200}"` patterns used 325 MB (without ASan). They now share 8 MiB.
TEST_CASE("the regexes of one expression share 8 MiB; the one that does not fit is named") {
    std::string many;
    for (int i = 0; i < 150; ++i) {
        many += (i == 0 ? "" : " or ") + std::string(R"(dns.fqdn matches r"\pL{200}")");
    }
    auto err = error_of(many);
    CHECK(err.column == 18); // the first pattern: every share is too small for it
    CHECK(err.message == "regular expression too large: more than its 54 KiB share of the 8 MiB "
                         "the 150 regular expression(s) of one expression may use");
    CHECK(compile_expr(R"(dns.fqdn matches r"\pL{200}")", nullptr)); // alone it has 8 MiB
    // Ordinary domain patterns fit many times over, and still match with a small share.
    std::string domains;
    for (int i = 0; i < 300; ++i) {
        domains += (i == 0 ? "" : " or ") +
                   std::string(R"(dns.fqdn matches r"^(www\.)?[a-z0-9-]{1,63}\.ex)") +
                   std::to_string(i) + R"(\.com$")";
    }
    CHECK_FALSE(eval(domains));
    CHECK(eval(domains + R"( or dns.fqdn matches r"^www\.example\.com$")"));
}

TEST_CASE("phase and field use are derived from the fields an expression reads") {
    Env env;
    auto pre = compile_expr(R"(any(dns.domains[*] == "a") and dns.query_rtype == "A")", env.lookup);
    REQUIRE(pre);
    CHECK(pre.expr->phase() == Phase::Pre);
    CHECK(pre.expr->uses(FieldId::DnsDomains));
    CHECK_FALSE(pre.expr->uses_category());
    auto mixed =
        compile_expr(R"(dns.fqdn == "a" or any(dns.resolved_ips[*] == 10.0.0.1))", env.lookup);
    REQUIRE(mixed);
    CHECK(mixed.expr->phase() == Phase::Post);
    auto during = compile_expr(R"(dns.authoritative_ns_ips == 10.0.0.1)", env.lookup);
    REQUIRE(during);
    CHECK(during.expr->phase() == Phase::During);
    auto empty = compile_expr("  ", env.lookup);
    REQUIRE(empty);
    CHECK(empty.expr->empty());
}

TEST_CASE("category comparisons record every matched category ID") {
    Env env;
    Facts f;
    auto r = compile_expr(R"(any(dns.security_category[*] in {21 117 131}))", env.lookup);
    REQUIRE(r);
    EvalNotes notes;
    CHECK(r.expr->eval(f.values, notes));
    CHECK(notes.category_hit);
    CHECK(notes.matched_categories == std::vector<std::int64_t>{117, 21});
    auto ip = compile_expr(R"(any(dns.resolved_ips[*] in {203.0.113.0/24}))", env.lookup);
    REQUIRE(ip);
    EvalNotes n2;
    CHECK(ip.expr->eval(f.values, n2));
    CHECK(n2.response_hit);
    CHECK_FALSE(n2.category_hit);
}

TEST_SUITE_END();

TEST_CASE("why_false names the first failing clause and the fact it compared") {
    Env env;
    Facts f;
    struct Row {
        const char* expr;
        const char* why;
    };
    const Row rows[] = {
        {R"(dns.fqdn == "portal.example.com")",
         R"(dns.fqdn == "portal.example.com": dns.fqdn is "www.example.com")"},
        // and: the first false part decides, later parts are not blamed
        {R"(dns.query_rtype == "AAAA" and dns.src_ip in {10.0.0.0/8} and dns.fqdn == "x")",
         R"(dns.src_ip in {…}: dns.src_ip is 192.0.2.10)"},
        {R"(any(dns.security_category[*] in {1 2}))",
         R"(any(dns.security_category[*] in {1 2}): dns.security_category is [117 21])"},
        {R"(not(dns.query_rtype == "AAAA"))",
         R"(not(dns.query_rtype == "AAAA"): the inner condition matched)"},
        {R"(dns.fqdn == "a" or dns.query_rtype == "MX")",
         R"(no alternative matched: dns.fqdn == "a": dns.fqdn is "www.example.com"; )"
         R"(dns.query_rtype == "MX": dns.query_rtype is "AAAA")"},
        {R"(identity.email == "x@example.com")",
         "identity.email == \"x@example.com\": identity.email has no value for this query (it "
         "comes from identity map (--identities) by token or source address)"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expr);
        auto r = compile_expr(row.expr, env.lookup);
        REQUIRE(r);
        EvalNotes notes;
        REQUIRE_FALSE(r.expr->eval(f.values, notes));
        CHECK(std::string(r.expr->why_false(f.values)) == std::string(row.why));
    }
}
