// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "probes/check/expectations.hpp"
#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/compare/observation.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver::wire;
namespace common = probes::common;
namespace check = probes::check;

TEST_SUITE_BEGIN("probe.inputs");

TEST_CASE("a lab:// target expands into every transport it names") {
    auto t = common::parse_target(
        "lab=lab://127.0.0.1?udp=5300&tcp=5301&tls=8530&https=8443&sni=dns.lab");
    REQUIRE(t);
    REQUIRE(t->size() == 6);
    CHECK((*t)[0].name == "lab-udp");
    CHECK((*t)[0].url.to_string() == "udp://127.0.0.1:5300");
    CHECK((*t)[1].transport == "tcp");
    CHECK((*t)[2].url.param("sni") == "dns.lab");
    CHECK((*t)[3].transport == "https-get");
    CHECK((*t)[3].url.path == "/dns-query");
    CHECK((*t)[5].transport == "https-json");
    CHECK_FALSE(common::parse_target("lab://127.0.0.1"));
    CHECK_FALSE(common::parse_target("lab://127.0.0.1?udp=0"));
}

TEST_CASE("--host uses standard ports, one port, or a port per transport") {
    auto all = common::parse_host("192.0.2.1");
    REQUIRE(all);
    CHECK(all->size() == 6);
    auto one = common::parse_host("[::1]:5353");
    REQUIRE(one);
    REQUIRE(one->size() == 2);
    CHECK(one->at(0).url.to_string() == "udp://[::1]:5353");
    auto some = common::parse_host("127.0.0.1:udp=1,tls=2");
    REQUIRE(some);
    CHECK(some->size() == 2);
    CHECK(some->at(1).url.port == 2);
    CHECK_FALSE(common::parse_host("127.0.0.1:quic=3"));
}

TEST_CASE("a bare address is plain DNS over UDP and TCP, as dig @IP asks") {
    auto v4 = common::parse_target("127.0.0.1:5353");
    REQUIRE(v4);
    REQUIRE(v4->size() == 2);
    CHECK(v4->at(0).name == "udp@127.0.0.1:5353");
    CHECK(v4->at(0).url.to_string() == "udp://127.0.0.1:5353");
    CHECK(v4->at(1).transport == "tcp");
    auto v6 = common::parse_target("[::1]:5300");
    REQUIRE(v6);
    CHECK(v6->at(1).url.to_string() == "tcp://[::1]:5300");
    auto plain = common::parse_target("192.0.2.1");
    REQUIRE(plain);
    CHECK(plain->at(0).url.port == 53);
    auto named = common::parse_target("unbound=127.0.0.1:5301");
    REQUIRE(named);
    CHECK(named->at(0).name == "unbound-udp");
    CHECK_FALSE(common::parse_target("127.0.0.1:0"));
    CHECK_FALSE(common::parse_target("example.com:53")); // names are not addresses
}

TEST_CASE("dig words: @server, +short, name and type") {
    auto w = common::parse_dig_words(
        {"@127.0.0.1", "www.example.com", "AAAA", "+short", "@tls://127.0.0.1:853"});
    REQUIRE(w);
    CHECK(w->qname == "www.example.com");
    CHECK(w->qtype == "AAAA");
    CHECK(w->short_answers);
    CHECK(w->servers == std::vector<std::string>{"127.0.0.1", "tls://127.0.0.1:853"});
    CHECK_FALSE(common::parse_dig_words({"@"}));
    auto bad = common::parse_dig_words({"x", "+trace"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail.find("+short") != std::string::npos);
    CHECK_FALSE(common::parse_dig_words({"a", "A", "extra"}));
}

TEST_CASE("--source goes on the plain DNS targets only") {
    auto t = common::parse_target("lab://127.0.0.1?udp=1&tcp=2&tls=3");
    REQUIRE(t);
    common::finalize_targets(*t, "", {}, "127.0.1.5");
    CHECK(t->at(0).url.param("source") == "127.0.1.5");
    CHECK(t->at(1).url.param("source") == "127.0.1.5");
    CHECK(t->at(2).url.param("source").empty());
}

TEST_CASE("target files take names, comments and report the bad line") {
    auto t = common::parse_targets_file(
        "# lab\nlab=udp://127.0.0.1:53\n\nhttps://127.0.0.1:443/q?method=get # doh\n");
    REQUIRE(t);
    REQUIRE(t->size() == 2);
    CHECK(t->at(0).name == "lab");
    CHECK(t->at(1).transport == "https-get");
    auto bad = common::parse_targets_file("udp://127.0.0.1:53\nftp://x\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail.rfind("line 2:", 0) == 0);
}

TEST_CASE("finalize keeps TC answers on UDP, adds CA, headers and unique names") {
    auto t = common::parse_target("udp://127.0.0.1:53");
    auto h = common::parse_target("https://127.0.0.1:443/dns-query");
    auto targets = *t;
    targets.push_back(t->front());
    targets.push_back(h->front());
    common::finalize_targets(targets, "/ca.pem", {{"cf-dns-location", "abc"}});
    CHECK(targets[0].url.param("tc") == "keep");
    CHECK(targets[0].name != targets[1].name);
    CHECK(targets[2].url.param("ca") == "/ca.pem");
    CHECK(targets[2].url.param("header.cf-dns-location") == "abc");
    CHECK(targets[2].url.param("errors") == "exchange");
}

TEST_CASE("queries carry the EDNS knobs") {
    common::QueryOptions o;
    o.dnssec_ok = true;
    o.nsid = true;
    o.ecs = "192.0.2.129/25";
    o.location = "abc123";
    o.padding = true;
    o.raw.push_back(*common::parse_raw_option("65050:0102"));
    auto wire = common::build_query({"www.example.com", rrtype::AAAA}, o, 42);
    REQUIRE(wire);
    CHECK(wire->size() % 128 == 0); // RFC 8467 block padding
    auto m = parse(*wire);
    REQUIRE(m);
    REQUIRE(m.message->edns);
    const auto& e = *m.message->edns;
    CHECK(e.dnssec_ok);
    REQUIRE(e.find(edns_opt::Ecs));
    CHECK(e.find(edns_opt::Ecs)->data == std::string("\x00\x01\x19\x00\xc0\x00\x02\x80", 8));
    CHECK(e.find(edns_opt::Location)->data == "abc123");
    CHECK(e.find(edns_opt::RequestCategories)->data == "\x01\x02");
    CHECK(e.find(edns_opt::Nsid));
    o = {};
    o.no_edns = true;
    auto plain = parse(*common::build_query({"example.com", rrtype::A}, o, 1));
    CHECK_FALSE(plain.message->edns);
    CHECK_FALSE(common::parse_raw_option("x:00"));
    CHECK_FALSE(common::parse_raw_option("10:0"));
    CHECK_FALSE(common::ecs_option_data("192.0.2.0/33"));
}

TEST_CASE("question lists use the dnsperf format") {
    auto q =
        common::parse_question_list("example.com A\n# c\nwww.example.com aaaa\nbare.example\n");
    REQUIRE(q);
    REQUIRE(q->size() == 3);
    CHECK(q->at(1).type == rrtype::AAAA);
    CHECK(q->at(2).type == rrtype::A);
    CHECK_FALSE(common::parse_question_list("example.com BOGUS\n"));
}

TEST_CASE("pcap packets have valid IPv4 and UDP checksums") {
    const std::string dns("\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
    auto pkt = common::udp_packet({"127.0.0.1", 40000}, {"127.0.0.1", 53},
                                  {reinterpret_cast<const std::uint8_t*>(dns.data()), dns.size()});
    REQUIRE(pkt.size() == 20 + 8 + 12);
    auto sum = [&](std::size_t from, std::size_t to, std::uint32_t acc) {
        for (std::size_t i = from; i < to; i += 2) {
            acc += static_cast<std::uint32_t>((pkt[i] << 8) | pkt[i + 1]);
        }
        while (acc >> 16) {
            acc = (acc & 0xFFFF) + (acc >> 16);
        }
        return acc;
    };
    CHECK(sum(0, 20, 0) == 0xFFFF);
    // pseudo header: src, dst, proto, UDP length
    std::uint32_t pseudo = 0x7F00 + 0x0001 + 0x7F00 + 0x0001 + 17 + 20;
    CHECK(sum(20, pkt.size(), pseudo) == 0xFFFF);
    CHECK(common::udp_packet({"127.0.0.1", 1}, {"::1", 2}, {}).empty());
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("probe.check");

namespace {
probes::compare::Observation a_answer(std::vector<std::string> ips,
                                      std::uint16_t rc = rcode::NoError) {
    Message m;
    m.flags = kFlagQr | kFlagRd | kFlagRa;
    m.set_rcode(rc);
    m.question.push_back(Question{*Name::from_text("x.example"), rrtype::A, rrclass::IN});
    for (const auto& ip : ips) {
        std::string rdata;
        for (std::size_t pos = 0; pos <= ip.size();) {
            auto dot = ip.find('.', pos);
            rdata.push_back(static_cast<char>(std::stoi(ip.substr(pos, dot - pos))));
            pos = dot == std::string::npos ? ip.size() + 1 : dot + 1;
        }
        m.answer.push_back({*Name::from_text("x.example"), rrtype::A, rrclass::IN, 60, rdata});
    }
    return probes::compare::normalize_wire(m);
}
} // namespace

TEST_CASE("expectation files parse with defaults and reject mistakes") {
    auto cases = check::parse_cases(R"(
[defaults]
transports = ["udp", "https-post"]
[[case]]
name = "ads.example"
expect = "blocked"
ede = [15]
[[case]]
id = "mx is refused"
name = "ads.example"
type = "MX"
rcode = "REFUSED"
transports = "tls"
[[case]]
name = "www.example.com"
answer = ["192.0.2.10"]
location = "abc"
headers = { "CF-Authorization" = "t" }
)");
    REQUIRE(cases);
    REQUIRE(cases->size() == 3);
    CHECK(cases->at(0).id == "ads.example A");
    CHECK(cases->at(0).transports == std::vector<std::string>{"udp", "https-post"});
    CHECK(cases->at(0).ede == std::vector<std::uint16_t>{15});
    CHECK(cases->at(1).qtype == rrtype::MX);
    CHECK(cases->at(1).rcode == rcode::Refused);
    CHECK(cases->at(1).transports == std::vector<std::string>{"tls"});
    CHECK(cases->at(2).headers.at("cf-authorization") == "t");
    CHECK_FALSE(check::parse_cases("[[case]]\nname = \"x\"\n")); // nothing expected
    CHECK_FALSE(
        check::parse_cases("[[case]]\nname = \"x\"\nexpect = \"nope\"\n")); // unknown outcome
    CHECK_FALSE(check::parse_cases("[[case]]\nname = \"x\"\nexpect = \"allowed\"\ntypo = 1\n"));
    CHECK_FALSE(check::parse_cases("[[case]\n"));
    auto src = check::parse_cases(
        "[[case]]\nname = \"x\"\nexpect = \"blocked-any\"\nsource = \"127.0.1.5\"\n");
    REQUIRE(src);
    CHECK(src->at(0).source == "127.0.1.5");
    CHECK_FALSE(
        check::parse_cases("[[case]]\nname = \"x\"\nexpect = \"allowed\"\nsource = \"lan\"\n"));
}

// Found by tests/fuzz/fuzz_expectations: `ede = 2.2e20` ran toml++'s out-of-range float to
// integer cast (undefined behaviour, reported by UBSan); 70000 and "x" were silently kept as
// 4464 and 0.
TEST_CASE("EDE codes in expectation files are integers 0-65535, else an error naming the case") {
    for (const char* ede : {"2.2e20", "70000", "-1", "15.0", "[15, \"x\"]", "[15, 1e30]"}) {
        auto cases = check::parse_cases(std::string("[[case]]\nname = \"x\"\nexpect = \"blocked\"\n"
                                                    "ede = ") +
                                        ede + "\n");
        REQUIRE_FALSE(cases);
        CHECK(cases.error().detail ==
              "case 1: `ede` must be an EDE code (0-65535) or a list of them");
    }
    auto ok = check::parse_cases("[[case]]\nname = \"x\"\nede = [15, 65535]\n[[case]]\nname = "
                                 "\"y\"\nede = 17\n");
    REQUIRE(ok);
    CHECK(ok->at(0).ede == std::vector<std::uint16_t>{15, 65535});
    CHECK(ok->at(1).ede == std::vector<std::uint16_t>{17});
}

TEST_CASE("named outcomes are judged from the answer shape") {
    check::Case c;
    c.qname = "x.example";
    c.outcome = "blocked";
    CHECK(check::evaluate(c, a_answer({"0.0.0.0"})).empty());
    CHECK(check::evaluate(c, a_answer({}, rcode::Refused)).empty());
    CHECK_FALSE(check::evaluate(c, a_answer({"192.0.2.1"})).empty());
    // `blocked` is the block answer without the block page; the page is its own outcome.
    auto page = check::evaluate(c, a_answer({"162.159.36.12", "162.159.46.12"}));
    REQUIRE(page.size() == 1);
    CHECK(page[0] == "expected a block without the block page, got the block page "
                     "{162.159.36.12 162.159.46.12}");
    c.outcome = "blocked-any";
    CHECK(check::evaluate(c, a_answer({"162.159.36.12", "162.159.46.12"})).empty());
    CHECK(check::evaluate(c, a_answer({"0.0.0.0"})).empty());
    CHECK_FALSE(check::evaluate(c, a_answer({"192.0.2.1"})).empty());
    c.outcome = "blockpage";
    CHECK(check::evaluate(c, a_answer({"162.159.36.12", "162.159.46.12"})).empty());
    CHECK_FALSE(check::evaluate(c, a_answer({"0.0.0.0"})).empty());
    c.outcome = "allowed";
    CHECK(check::evaluate(c, a_answer({"192.0.2.1"})).empty());
    CHECK_FALSE(check::evaluate(c, a_answer({"0.0.0.0"})).empty());
    c.outcome = "override:192.0.2.7,2001:db8::7";
    CHECK(check::evaluate(c, a_answer({"192.0.2.7"})).empty());
    auto why = check::evaluate(c, a_answer({"192.0.2.8"}));
    REQUIRE(why.size() == 1);
    CHECK(why[0] == "expected override {192.0.2.7}, got {192.0.2.8}");
    c.outcome = "";
    c.rcode = rcode::NxDomain;
    c.ede = {15};
    why = check::evaluate(c, a_answer({"192.0.2.8"}));
    CHECK(why.size() == 2);
    probes::compare::Observation failed;
    failed.error = "timeout";
    CHECK(check::evaluate(c, failed) == std::vector<std::string>{"no answer: timeout"});
}

TEST_CASE("safesearch and host overrides look for the CNAME") {
    Message m;
    m.flags = kFlagQr;
    m.question.push_back(Question{*Name::from_text("www.google.com"), rrtype::A, rrclass::IN});
    m.answer.push_back({*Name::from_text("www.google.com"), rrtype::CNAME, rrclass::IN, 60,
                        Name::from_text("forcesafesearch.google.com")->wire()});
    auto o = probes::compare::normalize_wire(m);
    check::Case c;
    c.outcome = "safesearch";
    CHECK(check::evaluate(c, o).empty());
    c.outcome = "override:ForceSafeSearch.google.com";
    CHECK(check::evaluate(c, o).empty());
    c.outcome = "override:other.example";
    CHECK_FALSE(check::evaluate(c, o).empty());
}

TEST_SUITE_END();
