// SPDX-License-Identifier: MIT
// check: how a case's location travels per transport, and what the lab's log says about
// where it landed (issue 13: no false PASS when plain DNS cannot carry the location).
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "probes/check/attribution.hpp"
#include "probes/check/run.hpp"
#include "probes/common/targets.hpp"

namespace check = probes::check;
namespace common = probes::common;
using nlohmann::json;

namespace {

common::Target target(const std::string& spec) {
    auto t = common::parse_target(spec);
    REQUIRE(t);
    return t->front();
}

check::Case branch_case() {
    check::Case c;
    c.id = "branch";
    c.qname = "www.example.com";
    c.location = "br4nch0b2c";
    c.outcome = "allowed";
    return c;
}

// A report with one asked result of `c` over `t`, as run_check leaves it.
check::CheckReport asked(const check::Case& c, const common::Target& t,
                         const common::QueryOptions& base = {}) {
    check::CheckReport r;
    r.cases = {c};
    const auto plan = check::plan_location(c, t, base);
    check::CaseResult res;
    res.target = t.name;
    res.transport = t.transport;
    res.url = check::target_for_case(t, c).url;
    res.asked = plan.cannot.empty();
    res.edns_location = plan.edns_65011 ? c.location : "";
    res.source = c.source;
    res.location_sent_as = plan.sent_as;
    r.results.push_back(res);
    return r;
}

json log_line(const std::string& proto, const std::string& location, const std::string& reason,
              const std::string& src = "127.0.0.1") {
    json j = {{"QueryName", "www.example.com"},
              {"QueryType", 1},
              {"Protocol", proto},
              {"SrcIP", src},
              {"Location", location},
              {"LocationID", location == "Branch" ? "id-branch" : "id-hq"},
              {"LabLocationReason", reason}};
    if (reason.rfind("edns-65011:", 0) == 0) {
        j["LabEdnsLocation"] = reason.substr(11);
    }
    return j;
}

} // namespace

TEST_SUITE_BEGIN("probe.check");

TEST_CASE("a location travels as the transport can carry it, or the case says why not") {
    const auto c = branch_case();
    common::QueryOptions base;
    auto udp = check::plan_location(c, target("udp://127.0.0.1:53"), base);
    CHECK(udp.sent_as == "EDNS 65011");
    CHECK(udp.edns_65011);
    CHECK(udp.cannot.empty());
    auto doh = check::plan_location(c, target("https://127.0.0.1/dns-query"), base);
    CHECK(doh.sent_as == "cf-dns-location header");
    CHECK_FALSE(doh.edns_65011);
    base.no_edns = true;
    auto off = check::plan_location(c, target("udp://127.0.0.1:53"), base);
    CHECK(off.cannot.rfind("cannot set this location over udp: plain DNS carries a location only "
                           "in EDNS 65011",
                           0) == 0);
    CHECK(check::plan_location(c, target("tls://127.0.0.1:853"), base)
              .cannot.rfind("cannot set this location over tls", 0) == 0);
    auto sourced = c;
    sourced.source = "127.0.1.5";
    auto from = check::plan_location(sourced, target("tcp://127.0.0.1:53"), base);
    CHECK(from.cannot.empty());
    CHECK(from.sent_as == "source 127.0.1.5");
    CHECK(check::target_for_case(target("tcp://127.0.0.1:53"), sourced).url.param("source") ==
          "127.0.1.5");
    CHECK(check::plan_location(sourced, target("tls://127.0.0.1:853"), {})
              .cannot.rfind("cannot send from 127.0.1.5 over tls", 0) == 0);
}

TEST_CASE("a location the lab did not apply fails the case, with what won") {
    check::LocationDirectory dir;
    dir.by_id["id-branch"] = {"Branch", "br4nch0b2c"};
    dir.by_id["id-hq"] = {"HQ", "hq7x2k9m1a"};
    const auto c = branch_case();
    auto r = asked(c, target("udp://127.0.0.1:53"));
    // A line of another question, then the case's own, overruled by the source network.
    json other = log_line("udp", "HQ", "src-network:127.0.0.0/24");
    other["QueryName"] = "other.example.com";
    const std::vector<json> log{other, [] {
                                    auto j = log_line("udp", "HQ", "src-network:127.0.0.0/24");
                                    j["LabEdnsLocation"] = "br4nch0b2c";
                                    return j;
                                }()};
    CHECK(check::count_matches(r, log) == 1);
    CHECK(check::apply_lab_log(r, log, dir) == 1);
    REQUIRE(r.results[0].attributed);
    CHECK(r.results[0].attributed->location == "HQ");
    REQUIRE(r.results[0].failures.size() == 1);
    CHECK(r.results[0].failures[0] ==
          "cannot set this location over udp: the lab attributed the query to HQ "
          "(src-network:127.0.0.0/24), which wins over EDNS 65011 on plain DNS; send from the "
          "location's network (source = ADDR)");

    SUBCASE("applied: by EDNS 65011 over DoT, or by the source network") {
        auto t = asked(c, target("tls://127.0.0.1:853"));
        CHECK(check::apply_lab_log(t, {log_line("tls", "Branch", "edns-65011:br4nch0b2c")}, {}) ==
              1);
        CHECK(t.results[0].failures.empty());
        auto sourced = c;
        sourced.source = "127.0.1.5";
        auto s = asked(sourced, target("udp://127.0.0.1:53"));
        auto line = log_line("udp", "Branch", "src-network:127.0.1.0/24", "127.0.1.5");
        line["LabEdnsLocation"] = "br4nch0b2c";
        CHECK(check::apply_lab_log(s, {line}, dir) == 1);
        CHECK(s.results[0].failures.empty());
        CHECK(s.results[0].attributed->subdomain == "br4nch0b2c");
    }
    SUBCASE("a line from another source address is not this case's") {
        auto sourced = c;
        sourced.source = "127.0.1.5";
        auto s = asked(sourced, target("udp://127.0.0.1:53"));
        auto line = log_line("udp", "HQ", "src-network:127.0.0.0/24");
        line["LabEdnsLocation"] = "br4nch0b2c";
        CHECK(check::count_matches(s, {line}) == 0);
    }
    SUBCASE("an unknown subdomain is no location") {
        auto t = asked(c, target("tls://127.0.0.1:853"));
        check::apply_lab_log(t, {log_line("tls", "", "edns-65011:br4nch0b2c")}, {});
        REQUIRE(t.results[0].failures.size() == 1);
        CHECK(t.results[0].failures[0].find("to no location") != std::string::npos);
    }
}

TEST_CASE("locations exports parse in both shapes") {
    auto d = check::parse_locations(
        R"({"result":[{"id":"1","name":"HQ","doh_subdomain":"HQ7x"},{"name":"no id"}]})");
    REQUIRE(d);
    CHECK(d->by_id.size() == 1);
    CHECK(d->by_id.at("1").subdomain == "hq7x");
    CHECK(check::parse_locations(R"([{"id":"2","name":"B","doh_subdomain":"b"}])"));
    CHECK_FALSE(check::parse_locations(R"({"nope":1})"));
}

TEST_SUITE_END();
