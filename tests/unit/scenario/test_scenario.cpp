// SPDX-License-Identifier: MIT
// Scenario runner and replay: placeholders, helper facts, archive round trip and tamper
// detection inputs, gateway_dns record parsing, synthesised lab data, location hints.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include "probes/replay/replay.hpp"
#include "probes/scenario/scenario.hpp"
#include "probes/selftest/bundle.hpp"

using namespace probes;

TEST_CASE("scenario: placeholders resolve from helper facts; unknown ones are errors") {
    std::map<std::string, std::string> facts;
    scenario::add_helper_facts(
        "private",
        {"udp://127.0.0.1:5301", "tcp://127.0.0.1:5301", "tls://127.0.0.1:8853", "ca /x/ca.pem"},
        facts);
    CHECK(facts["private"] == "udp://127.0.0.1:5301");
    CHECK(facts["private.tls"] == "tls://127.0.0.1:8853");
    CHECK(facts["private.port"] == "5301");
    CHECK(facts["private.addr"] == "127.0.0.1:5301");
    CHECK(facts["private.ca"] == "/x/ca.pem");
    auto s = scenario::substitute(
        R"({"port": ${upstream.private.port}, "u": "${upstream.private.tls}"})", facts);
    REQUIRE(s);
    CHECK(*s == R"({"port": 5301, "u": "tls://127.0.0.1:8853"})");
    auto bad = scenario::substitute("x ${upstream.nosuch.udp}", facts);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail.find("nosuch") != std::string::npos);
    CHECK_FALSE(scenario::substitute("${upstream.private", facts));
    CHECK(*scenario::substitute("no placeholder ${HOME}", facts) == "no placeholder ${HOME}");
}

TEST_CASE("scenario: tar.gz written by the bundle writer reads back; sha256 is hex of the bytes") {
    std::vector<selftest::BundleFile> files{{"manifest.json", "{}"},
                                            {"case/rules.json", std::string(700, 'r')}};
    auto gz = selftest::gzip(selftest::make_tar(files, 1700000000));
    REQUIRE(gz);
    auto tar = scenario::gunzip(*gz);
    REQUIRE(tar);
    auto entries = scenario::read_tar(*tar);
    REQUIRE(entries);
    REQUIRE(entries->size() == 2);
    CHECK((*entries)[1].path == "case/rules.json");
    CHECK((*entries)[1].data == std::string(700, 'r'));
    CHECK(scenario::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_FALSE(scenario::gunzip("not gzip at all"));
    CHECK_FALSE(scenario::gunzip(gz->substr(0, gz->size() / 2)));
    CHECK_FALSE(scenario::read_tar(tar->substr(0, 700))); // header promises more than is there
}

// Found by tests/fuzz/fuzz_scenario (issue 12 defect 8): a manifest.json that is an array, or
// whose files are not objects, threw nlohmann's type_error and aborted `scenario unpack`.
TEST_CASE("scenario: unpack refuses manifests of the wrong shape with an error") {
    namespace fs = std::filesystem;
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/dnslab-unpack-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    const fs::path dir = templ;
    const std::string head = R"({"schema": "dnslab.scenario.pack.v1", "scenario": "s", )";
    const std::pair<const char*, std::string> manifests[] = {
        {"is not", "[]"},
        {"is not", R"({"schema": 5, "scenario": "s", "files": []})"},
        {"is not", head + R"("files": "x"})"},
        {"expected an object", head + R"("files": [1]})"},
        {"must be strings", head + R"("files": [{"path": 7, "sha256": "00"}]})"},
    };
    for (const auto& [why, manifest] : manifests) {
        const std::string archive = (dir / "case.tar.gz").string();
        REQUIRE(selftest::write_bundle(archive, {{"manifest.json", manifest}}, 1700000000));
        auto r = scenario::unpack_scenario(archive, dir);
        REQUIRE_FALSE(r);
        CHECK_MESSAGE(r.error().detail.find(why) != std::string::npos, r.error().detail);
    }
    CHECK(fs::remove_all(dir) == 2); // the directory and the archive: nothing was unpacked
}

TEST_CASE("replay: gateway_dns records parse; LabEvent lines are skipped") {
    std::string err;
    auto r = replay::parse_record(
        R"({"QueryName":"App.Partner.Example.","QueryType":28,"Protocol":"https","DoHSubdomain":"r0am1ng3d4",)"
        R"("Location":"Roaming","ResolverDecision":"blockedByQueryName","PolicyID":"p1","RCode":0,)"
        R"("ResolvedIPs":["::"],"QueryCategoryIDs":[68,7]})",
        3, err);
    REQUIRE(r);
    CHECK(err.empty());
    CHECK(r->line == 3);
    CHECK(r->qname == "app.partner.example");
    CHECK(r->qtype == 28);
    CHECK(r->protocol == "https");
    CHECK(r->decision == "blockedByQueryName");
    CHECK(r->categories == std::vector<std::uint32_t>{68, 7});
    auto t = replay::parse_record(
        R"({"QueryName":"x.example","QueryTypeName":"MX","Protocol":"DoT"})", 1, err);
    REQUIRE(t);
    CHECK(t->qtype == 15);
    CHECK(t->protocol == "tls");
    CHECK_FALSE(replay::parse_record(R"({"LabEvent":"policy-loaded"})", 1, err));
    CHECK(err.empty());
    CHECK_FALSE(replay::parse_record("{broken", 9, err));
    CHECK(err.find("line 9") != std::string::npos);
}

TEST_CASE("replay: categories and answers are synthesised only where the lab has no data") {
    std::string err;
    std::vector<replay::LogRecord> recs;
    for (
        const char* l :
        {R"({"QueryName":"news.cdn.example","ResolvedIPs":["203.0.113.7","2001:db8::7"],"QueryCategoryIDs":[122]})",
         R"({"QueryName":"www.partner.example","ResolvedIPs":["192.0.2.1"],"QueryCategoryIDs":[155]})",
         R"({"QueryName":"blocked.cdn.example","ResolvedIPs":["0.0.0.0"]})",
         R"({"QueryName":"known.example","QueryCategoryIDs":[1]})"}) {
        recs.push_back(*replay::parse_record(l, 1, err));
    }
    auto syn =
        replay::synthesise(recs, "domain,categories\nknown.example,99\n", {"partner.example"});
    CHECK(syn.categories_csv.find("news.cdn.example,122\n") != std::string::npos);
    CHECK(syn.categories_csv.find("www.partner.example,155\n") != std::string::npos);
    CHECK(syn.categories_csv.find("known.example,1") ==
          std::string::npos); // the scenario's row wins
    CHECK(syn.categorised_names == 2);
    REQUIRE(syn.zone_files.count("replay-cdn.example.zone") == 1);
    const auto& zone = syn.zone_files.at("replay-cdn.example.zone");
    CHECK(zone.find("news.cdn.example. 300 IN A 203.0.113.7") != std::string::npos);
    CHECK(zone.find("news.cdn.example. 300 IN AAAA 2001:db8::7") != std::string::npos);
    CHECK(zone.find("blocked.cdn.example") == std::string::npos);    // a sinkhole is not an answer
    CHECK(syn.zone_files.count("replay-partner.example.zone") == 0); // the scenario has the zone
}

TEST_CASE("replay: location hint from the subdomains, else from the location export") {
    replay::LogRecord r;
    std::map<std::string, std::string> by_loc{{"HQ", "hq7x2k9m1a"}, {"id-1", "hq7x2k9m1a"}};
    CHECK(replay::location_hint(r, by_loc).empty());
    r.location = "HQ";
    CHECK(replay::location_hint(r, by_loc) == "hq7x2k9m1a");
    r.dot_subdomain = "dot1";
    CHECK(replay::location_hint(r, by_loc) == "dot1");
    r.doh_subdomain = "doh1";
    CHECK(replay::location_hint(r, by_loc) == "doh1");
    CHECK(replay::match_key("a.example", 1, "udp", "id-1") !=
          replay::match_key("a.example", 1, "tcp", "id-1"));
}
