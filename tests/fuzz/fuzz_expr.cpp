// SPDX-License-Identifier: MIT
// The policy expression compiler (resolver/policy/expr_parser.cpp) on untrusted text, and
// every expression it accepts evaluated as a block rule through the whole engine: phase 1-2
// (evaluate_pre) with a fixed query, phase 4 (evaluate_post) with a fixed upstream answer,
// under both regex semantics, with the explain trace rendered. Asserted: a compile error has
// a column inside the expression (or just past it) and a message; evaluation is deterministic.
#include <cstdint>
#include <string>

#include "resolver/net/ip.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/explain.hpp"
#include "resolver/policy/expr.hpp"
#include "resolver/policy/lists_json.hpp"
#include "resolver/policy/policy_set.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
using namespace resolver::policy;
namespace wire = resolver::wire;
using resolver::net::IpAddr;
using resolver::net::IpRange;

// Lists the seeds reference as $<id>: one of each type an expression can compare.
constexpr std::string_view kLists = R"([
  {"id": "corp", "type": "DOMAIN", "items": [{"value": "corp.example.com"}, {"value": "example.net"}]},
  {"id": "bad-ips", "type": "IP", "items": [{"value": "192.0.2.66"}, {"value": "198.51.100.0/24"}, {"value": "2001:db8::/32"}]},
  {"id": "emails", "type": "EMAIL", "items": [{"value": "alice@example.com"}]}
])";
constexpr std::string_view kCategories = "domain,categories\nexample.com,1 66\nads.example.com,2\n"
                                         "198.51.100.7,80\n";
constexpr std::string_view kGeo = "cidr,country,continent\n192.0.2.0/24,US,NA\n"
                                  "198.51.100.0/24,RU,EU\n";

/// The inputs every expression is evaluated against, built again for each input (so nothing
/// an evaluation could touch survives from one input to the next).
std::unique_ptr<PolicySet> make_set() {
    auto set = std::make_unique<PolicySet>();
    auto lists = load_lists_json(kLists, "lists");
    FUZZ_CHECK(lists.has_value(), lists ? "" : lists.error().detail);
    for (auto& l : *lists) {
        const std::string id = l->id;
        set->lists[id] = std::move(l);
    }
    set->categories.set_ids(CategoryDb::builtin_ids());
    FUZZ_CHECK(set->categories.add_csv(kCategories).has_value(), "categories");
    FUZZ_CHECK(set->geo.add_csv(kGeo).has_value(), "geo");
    resolver::attribution::Location loc;
    loc.id = "loc-hq";
    loc.name = "HQ";
    loc.doh_subdomain = "hq7x2k9m1a";
    loc.networks.push_back(*IpRange::parse_cidr("192.0.2.0/24"));
    set->locations.locations.push_back(std::move(loc));
    set->locations.index();
    IdentityMap::Entry who;
    who.token = "token-alice";
    who.identity.email = "alice@example.com";
    who.identity.name = "Alice";
    who.identity.groups.push_back({"g1", "Engineering", "eng@example.com"});
    who.identity.saml_attributes["department"] = {"R&D", "Lab"};
    set->identities.entries.push_back(std::move(who));
    return set;
}

wire::ResourceRecord record(std::string_view owner, std::uint16_t type, std::string rdata) {
    wire::ResourceRecord rr;
    rr.name = *wire::Name::from_text(owner);
    rr.type = type;
    rr.ttl = 300;
    rr.rdata = std::move(rdata);
    return rr;
}

/// An upstream answer with a fact for every post-resolution field.
wire::Message upstream_answer() {
    wire::Message m;
    m.flags = wire::kFlagQr | wire::kFlagRd | wire::kFlagRa;
    m.question.push_back({*wire::Name::from_text("www.example.com"), wire::rrtype::A});
    m.answer.push_back(record("www.example.com", wire::rrtype::CNAME,
                              wire::Name::from_text("cdn.example.net")->wire()));
    m.answer.push_back(
        record("cdn.example.net", wire::rrtype::A, std::string("\xc6\x33\x64\x07", 4)));
    m.answer.push_back(
        record("cdn.example.net", wire::rrtype::MX,
               std::string("\0\x0a", 2) + wire::Name::from_text("mx.example.net")->wire()));
    m.answer.push_back(record("cdn.example.net", wire::rrtype::TXT, "\x0bv=spf1 -all"));
    m.answer.push_back(record("7.100.51.198.in-addr.arpa", wire::rrtype::PTR,
                              wire::Name::from_text("host.example.net")->wire()));
    return m;
}

std::string verdicts(const Evaluation& ev) {
    std::string out = std::string(decision_name(ev.decision));
    for (const auto& t : ev.trace) {
        out += " " + std::string(verdict_name(t.verdict));
    }
    return out;
}

std::string evaluate(const PolicySet& set, const Behaviour& b, const wire::Message& upstream) {
    const auto src = IpAddr::parse("192.0.2.10");
    QueryFacts q;
    q.qname = "www.example.com";
    q.qtype = wire::rrtype::A;
    q.src_ip = src;
    q.src_internal_ip = IpAddr::parse("10.1.2.3");
    q.dst_ip = IpAddr::parse("162.159.36.5");
    q.location = &set.locations.locations.front();
    q.doh_subdomain = "hq7x2k9m1a";
    q.identity_token = "token-alice";
    q.request_categories = std::vector<std::int64_t>{1, 66};
    const EvalOptions opt{1735787045, /*trace=*/true, nullptr};
    Evaluation ev = evaluate_pre(set, q, b, opt);
    if (!ev.finished) {
        evaluate_post(set, q, ResponseFacts::from_message(upstream), b, opt, ev);
    }
    ExplainInput in;
    in.query = &q;
    in.ev = &ev;
    in.behaviour = &b;
    in.upstream = &upstream;
    in.now = opt.now;
    (void)render_explain_text(in);
    (void)render_explain_json(in);
    return verdicts(ev);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view source = fuzz::as_text(data, size);
    auto set = make_set();
    const ListLookup lookup = [&set](std::string_view id) { return set->find_list(id); };
    // The [behaviour] readings other than the default: strict escapes, each continent
    // spelling, the category check. Errors and warnings point inside the expression.
    for (auto continents : {ContinentValues::Code, ContinentValues::Name}) {
        ExprOptions other;
        other.strict_escapes = continents == ContinentValues::Code;
        other.continent_values = continents;
        other.category_known = [&set](std::int64_t id) { return set->categories.known(id); };
        const CompileResult o = compile_expr(source, lookup, other);
        FUZZ_CHECK(o || (o.error.column >= 1 && o.error.column <= source.size() + 1),
                   "error column outside the expression: " + o.error.message);
        for (const auto& w : o.warnings) {
            FUZZ_CHECK(w.column >= 1 && w.column <= source.size() && !w.message.empty(),
                       "warning column " + std::to_string(w.column) + ": " + w.message);
        }
    }
    CompileResult c = compile_expr(source, lookup);
    if (!c) {
        FUZZ_CHECK(c.error.column >= 1 && c.error.column <= source.size() + 1,
                   "error column " + std::to_string(c.error.column) + " outside a " +
                       std::to_string(source.size()) + "-byte expression: " + c.error.message);
        FUZZ_CHECK(!c.error.message.empty(), "compile error without a message");
        return 0;
    }
    Rule r;
    r.id = "fuzz";
    r.action = Action::Block;
    r.phase = c.expr->phase() == Phase::Pre ? Phase::Pre : Phase::Post;
    r.traffic = std::move(*c.expr);
    set->dns_rules.push_back(std::move(r));
    build_rule_index(*set);

    const wire::Message upstream = upstream_answer();
    Behaviour anywhere;
    Behaviour anchored;
    anchored.regex_anchored = true;
    const std::string first = evaluate(*set, anywhere, upstream);
    FUZZ_CHECK(evaluate(*set, anywhere, upstream) == first, "evaluation is not deterministic");
    (void)evaluate(*set, anchored, upstream);
    return 0;
}
