// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "probes/compare/diff.hpp"
#include "probes/common/present.hpp"
#include "probes/compare/observation.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver::wire;
using namespace probes::compare;

namespace {
std::string ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                       static_cast<char>(d)};
}
ResourceRecord a_rr(std::string_view name, std::uint32_t ttl, std::string rdata) {
    return ResourceRecord{*Name::from_text(name), rrtype::A, rrclass::IN, ttl, std::move(rdata)};
}
Message answer(std::string_view qname, std::uint16_t qtype = rrtype::A) {
    Message m;
    m.id = 7;
    m.flags = kFlagQr | kFlagRd | kFlagRa;
    m.question.push_back(Question{*Name::from_text(qname), qtype, rrclass::IN});
    m.edns.emplace();
    return m;
}
Observation obs(const Message& m, std::string target) {
    auto o = normalize_wire(m);
    o.target = std::move(target);
    return o;
}
} // namespace

TEST_SUITE_BEGIN("probe.compare");

// Found by tests/fuzz/fuzz_wire (the same ldns reading as the DoH JSON data): a 5-byte A
// record compared equal to the 4-byte one it starts with.
TEST_CASE("RDATA malformed for its type compares by its bytes") {
    CHECK(canonical_rdata(a_rr("a.example", 60, ipv4(192, 0, 2, 1))) == "192.0.2.1");
    CHECK(canonical_rdata(a_rr("a.example", 60, ipv4(192, 0, 2, 1) + "x")) == "\\# 5 c000020178");
}

// Found by tests/fuzz/fuzz_wire (LeakSanitizer): ldns_wire2pkt accepted a TSIG record that
// ARCOUNT said was followed by another, and leaked it.
TEST_CASE("the dig-style view shows only answers the probe can parse") {
    const std::vector<std::uint8_t> tsig_then_nothing{0, 9, 0x81, 0x80, 0,   0, 0, 0, 0, 0, 0, 2,
                                                      0, 0, 250,  0,    255, 0, 0, 0, 0, 0, 0};
    const auto cut = probes::common::present(tsig_then_nothing);
    CHECK(cut.header == ";; (answer not parsable)");
    CHECK(cut.additional.empty());
    Message m = answer("a.example");
    m.answer.push_back(a_rr("a.example", 60, ipv4(192, 0, 2, 1)));
    const auto ok = probes::common::present(serialize(m));
    CHECK(ok.header == ";; status: NOERROR, flags: qr rd ra; EDNS: udp 1232");
    REQUIRE(ok.answer.size() == 1);
    CHECK(ok.answer[0].find("192.0.2.1") != std::string::npos);
}

TEST_CASE("answer RRsets compare as sets, whatever the record order") {
    auto m1 = answer("www.example.com");
    m1.answer = {a_rr("www.example.com", 300, ipv4(192, 0, 2, 1)),
                 a_rr("www.example.com", 300, ipv4(192, 0, 2, 2))};
    auto m2 = answer("www.example.com");
    m2.answer = {a_rr("WWW.example.com", 300, ipv4(192, 0, 2, 2)),
                 a_rr("www.example.com", 300, ipv4(192, 0, 2, 1))};
    CHECK_FALSE(first_difference(obs(m1, "a"), obs(m2, "b"), {}));
    m2.answer.pop_back();
    auto d = first_difference(obs(m1, "a"), obs(m2, "b"), {});
    REQUIRE(d);
    CHECK(d->field == "answer");
    CHECK(d->a == "www.example.com. IN A 192.0.2.1 192.0.2.2");
    CHECK(d->b == "www.example.com. IN A 192.0.2.2");
}

TEST_CASE("the first differing field follows the reporting order") {
    auto m1 = answer("example.com");
    auto m2 = answer("example.com");
    m2.set_flag(kFlagAa, true);
    m2.set_rcode(rcode::NxDomain);
    auto d = first_difference(obs(m1, "a"), obs(m2, "b"), {});
    REQUIRE(d);
    CHECK(d->field == "rcode");
    CHECK(d->a == "NOERROR");
    CHECK(d->b == "NXDOMAIN");
    SUBCASE("ignored fields are skipped") {
        CompareOptions opts;
        opts.ignore = {"rcode"};
        d = first_difference(obs(m1, "a"), obs(m2, "b"), opts);
        REQUIRE(d);
        CHECK(d->field == "flags.aa");
        opts.ignore = {"rcode", "flags"};
        CHECK_FALSE(first_difference(obs(m1, "a"), obs(m2, "b"), opts));
    }
}

TEST_CASE("question case differences are a note, not a difference") {
    auto o1 = obs(answer("example.com"), "a");
    auto o2 = obs(answer("ExAmPle.com"), "b");
    CHECK_FALSE(first_difference(o1, o2, {}));
    auto n = notes(o1, o2, {});
    REQUIRE(n.size() == 1);
    CHECK(n[0].find("question case differs: example.com. (a) vs ExAmPle.com. (b)") == 0);
}

TEST_CASE("TTLs within the tolerance agree; cache-aged TTLs are explained unless strict") {
    auto m1 = answer("example.com");
    m1.answer = {a_rr("example.com", 3600, ipv4(192, 0, 2, 1))};
    auto m2 = m1;
    m2.answer[0].ttl = 3597;
    CompareOptions opts;
    CHECK_FALSE(first_difference(obs(m1, "a"), obs(m2, "b"), opts));
    CHECK(notes(obs(m1, "a"), obs(m2, "b"), opts).empty());
    m2.answer[0].ttl = 3000;
    CHECK_FALSE(first_difference(obs(m1, "a"), obs(m2, "b"), opts));
    auto n = notes(obs(m1, "a"), obs(m2, "b"), opts);
    REQUIRE(n.size() == 1);
    CHECK(n[0].find("cache-aged") != std::string::npos);
    opts.ttl_strict = true;
    auto d = first_difference(obs(m1, "a"), obs(m2, "b"), opts);
    REQUIRE(d);
    CHECK(d->field == "answer.ttl");
    opts.ttl_tolerance = 600;
    CHECK_FALSE(first_difference(obs(m1, "a"), obs(m2, "b"), opts));
}

TEST_CASE("a DoH JSON answer normalises into the same model as the wire answer") {
    auto m = answer("example.com", rrtype::AAAA);
    m.answer = {ResourceRecord{*Name::from_text("example.com"), rrtype::AAAA, rrclass::IN, 60,
                               std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16)}};
    auto wire_obs = obs(m, "udp");
    auto json_obs = normalize_json(R"({"Status":0,"TC":false,"RD":true,"RA":true,"AD":false,
        "CD":false,"Question":[{"name":"example.com","type":28}],
        "Answer":[{"name":"example.com.","type":28,"TTL":58,"data":"2001:DB8:0::1"}]})");
    json_obs.target = "json";
    REQUIRE_FALSE(json_obs.error);
    CHECK_FALSE(json_obs.flags.aa);
    CHECK(json_obs.answer.at(0).rdata.at(0) == "2001:db8::1");
    CHECK_FALSE(first_difference(wire_obs, json_obs, {}));
    SUBCASE("TXT data compares with and without quotes") {
        auto t1 = normalize_json(
            R"({"Status":0,"Answer":[{"name":"x.","type":16,"TTL":1,"data":"hello world"}]})");
        auto t2 = normalize_json(
            R"({"Status":0,"Answer":[{"name":"x.","type":16,"TTL":1,"data":"\"hello world\""}]})");
        CHECK(t1.answer.at(0).rdata == t2.answer.at(0).rdata);
    }
    SUBCASE("a body that is not DoH JSON is an error") {
        CHECK(normalize_json("<html>").error);
        CHECK(normalize_json(R"({"foo":1})").error);
    }
}

TEST_CASE("EDE codes are compared and block shapes are labelled") {
    auto ok = answer("ads.example");
    ok.answer = {a_rr("ads.example", 300, ipv4(192, 0, 2, 1))};
    auto sink = answer("ads.example");
    sink.answer = {a_rr("ads.example", 60, ipv4(0, 0, 0, 0))};
    sink.add_ede(15, "blocked by policy");
    auto page = answer("ads.example");
    page.answer = {a_rr("ads.example", 60, ipv4(162, 159, 36, 12)),
                   a_rr("ads.example", 60, ipv4(162, 159, 46, 12))};
    auto refused = answer("ads.example");
    refused.set_rcode(rcode::Refused);
    auto nx = answer("ads.example");
    nx.set_rcode(rcode::NxDomain);

    const auto o_ok = obs(ok, "upstream");
    CHECK(sinkhole_labels(o_ok, rrtype::A).empty());
    CHECK(sinkhole_labels(obs(sink, "lab"), rrtype::A) ==
          std::vector<std::string>{"sinkhole", "ede-blocked"});
    CHECK(sinkhole_labels(obs(page, "lab"), rrtype::A) == std::vector<std::string>{"blockpage"});
    CHECK(sinkhole_labels(obs(refused, "lab"), rrtype::A) == std::vector<std::string>{"refused"});
    CHECK(sinkhole_labels(obs(nx, "lab"), rrtype::A).empty());
    CHECK(sinkhole_labels(obs(nx, "lab"), rrtype::A, {o_ok}) ==
          std::vector<std::string>{"nxdomain"});

    auto d = first_difference(obs(sink, "lab"), o_ok, {});
    REQUIRE(d);
    CHECK(d->field == "answer");
    CompareOptions opts;
    opts.ignore = {"answer"};
    d = first_difference(obs(sink, "lab"), o_ok, opts);
    REQUIRE(d);
    CHECK(d->field == "ede");
    CHECK(d->a == "15 \"blocked by policy\"");
}

TEST_CASE("targets are grouped into agreement classes with a verdict") {
    auto ok = answer("ads.example");
    ok.answer = {a_rr("ads.example", 300, ipv4(192, 0, 2, 1))};
    auto sink = answer("ads.example");
    sink.answer = {a_rr("ads.example", 60, ipv4(0, 0, 0, 0))};
    std::vector<Observation> all{obs(sink, "lab-udp"), obs(ok, "unbound"), obs(sink, "lab-tcp"),
                                 obs(ok, "dnsdist")};
    auto failed = Observation{};
    failed.target = "dead";
    failed.error = "timeout";
    all.push_back(failed);
    auto c = compare_all(all, rrtype::A, {});
    CHECK(c.verdict == "differ");
    REQUIRE(c.classes.size() == 3);
    CHECK(c.classes[0].members == std::vector<std::size_t>{0, 2});
    CHECK(c.classes[0].labels == std::vector<std::string>{"sinkhole"});
    CHECK(c.classes[1].members == std::vector<std::size_t>{1, 3});
    CHECK(c.classes[1].labels.empty());
    REQUIRE(c.differences.size() == 2);
    CHECK(c.differences[0].field == "answer");
    CHECK(c.differences[1].field == "error");
    CHECK(c.verdict_detail ==
          "blocked (sinkhole) by lab-udp, lab-tcp; answered by unbound, dnsdist; no answer from "
          "dead");

    auto same = compare_all({obs(ok, "a"), obs(ok, "b")}, rrtype::A, {});
    CHECK(same.verdict == "agree");
    CHECK(same.classes.size() == 1);
    CHECK(compare_all({failed, failed}, rrtype::A, {}).verdict == "all-failed");
}

TEST_CASE("agreement classes are sorted largest first, whatever the input order") {
    // The reference the others are described against is the majority (docs/probe.md),
    // even when a minority target is given first.
    auto ok = answer("ads.example");
    ok.answer = {a_rr("ads.example", 300, ipv4(192, 0, 2, 1))};
    auto sink = answer("ads.example");
    sink.answer = {a_rr("ads.example", 60, ipv4(0, 0, 0, 0))};
    auto c = compare_all(
        {obs(ok, "upstream"), obs(sink, "lab-udp"), obs(sink, "lab-tcp"), obs(sink, "lab-tls")},
        rrtype::A, {});
    REQUIRE(c.classes.size() == 2);
    CHECK(c.classes[0].members == std::vector<std::size_t>{1, 2, 3});
    CHECK(c.classes[0].labels == std::vector<std::string>{"sinkhole"});
    CHECK(c.classes[1].members == std::vector<std::size_t>{0});
    REQUIRE(c.differences.size() == 1);
    CHECK(c.differences[0].a == "ads.example. IN A 0.0.0.0"); // class 1 is the sinkhole
    CHECK(c.differences[0].b == "ads.example. IN A 192.0.2.1");
}

TEST_CASE("answers that differ only in AA, RA, authority or additional are equivalent") {
    auto auth = answer("www.example");
    auth.flags = kFlagQr | kFlagAa | kFlagRd;
    auth.answer = {a_rr("www.example", 300, ipv4(192, 0, 2, 80))};
    auth.authority = {ResourceRecord{*Name::from_text("example"), rrtype::NS, rrclass::IN, 300,
                                     Name::from_text("ns1.example")->wire()}};
    auth.additional = {a_rr("ns1.example", 300, ipv4(127, 0, 0, 1))};
    auto rec = answer("www.example"); // qr rd ra
    rec.answer = {a_rr("www.example", 300, ipv4(192, 0, 2, 80))};
    const std::vector<Observation> both{obs(auth, "authoritative"), obs(rec, "recursive")};
    auto c = compare_all(both, rrtype::A, {});
    CHECK(c.level == "equivalent");
    CHECK(c.verdict == "agree");
    REQUIRE(c.classes.size() == 1);
    const std::vector<std::string> want{
        "additional differs: ns1.example. IN A 127.0.0.1 (authoritative) vs (empty) (recursive)",
        "authority differs: example. IN NS ns1.example. (authoritative) vs (empty) (recursive)",
        "flags.aa differs: set (authoritative) vs clear (recursive)",
        "flags.ra differs: clear (authoritative) vs set (recursive)"};
    CHECK(c.notes == want);
    CHECK(compare_all({obs(rec, "a"), obs(rec, "b")}, rrtype::A, {}).level == "identical");
    SUBCASE("--strict compares field by field") {
        CompareOptions strict;
        strict.strict = true;
        auto s = compare_all(both, rrtype::A, strict);
        CHECK(s.level == "differ");
        REQUIRE(s.differences.size() == 1);
        CHECK(s.differences[0].field == "flags.aa");
        strict.ignore = {"flags", "authority", "additional"};
        CHECK(compare_all(both, rrtype::A, strict).level == "identical");
    }
    SUBCASE("rcode, answer, EDE, TC and AD still differ") {
        auto other = rec;
        other.set_flag(kFlagAd, true);
        CHECK(compare_all({obs(auth, "a"), obs(other, "b")}, rrtype::A, {}).level == "differ");
        other = rec;
        other.add_ede(18, "prohibited");
        auto d = compare_all({obs(auth, "a"), obs(other, "b")}, rrtype::A, {});
        REQUIRE(d.differences.size() == 1);
        CHECK(d.differences[0].field == "ede");
        other = rec;
        other.answer[0].rdata = ipv4(192, 0, 2, 81);
        CHECK(
            compare_all({obs(auth, "a"), obs(other, "b")}, rrtype::A, {}).differences.at(0).field ==
            "answer");
    }
    SUBCASE("a TTL gap beyond the tolerance makes them equivalent, not identical") {
        auto aged = rec;
        aged.answer[0].ttl = 120;
        auto e = compare_all({obs(rec, "a"), obs(aged, "b")}, rrtype::A, {});
        CHECK(e.level == "equivalent");
        REQUIRE(e.notes.size() == 1);
        CHECK(e.notes[0].find("cache-aged") != std::string::npos);
    }
}

TEST_CASE("a truncated answer is labelled truncated and differs in TC, not in the answer") {
    auto full = answer("big.example", rrtype::TXT);
    full.answer = {ResourceRecord{*Name::from_text("big.example"), rrtype::TXT, rrclass::IN, 60,
                                  std::string("\x03"
                                              "abc",
                                              4)}};
    auto cut = answer("big.example", rrtype::TXT);
    cut.set_flag(kFlagTc, true);
    const auto o = obs(cut, "udp");
    CHECK(sinkhole_labels(o, rrtype::TXT) == std::vector<std::string>{"truncated"});
    CHECK_FALSE(is_block(sinkhole_labels(o, rrtype::TXT)));
    auto c = compare_all({obs(full, "tcp"), o}, rrtype::TXT, {});
    REQUIRE(c.differences.size() == 1);
    CHECK(c.differences[0].field == "flags.tc");
    CHECK(c.verdict_detail == "answered by tcp; truncated (TC) from udp");
}

TEST_CASE("REFUSED with EDE 20 is not authoritative, not a block; SERVFAIL is no answer") {
    auto na = answer("outside.example");
    na.set_rcode(rcode::Refused);
    na.add_ede(20, "");
    auto refused = answer("outside.example");
    refused.set_rcode(rcode::Refused);
    auto fail = answer("outside.example");
    fail.set_rcode(rcode::ServFail);
    CHECK(sinkhole_labels(obs(na, "auth"), rrtype::A) ==
          std::vector<std::string>{"not-authoritative"});
    CHECK_FALSE(is_block(sinkhole_labels(obs(na, "auth"), rrtype::A)));
    CHECK(is_block(sinkhole_labels(obs(refused, "gw"), rrtype::A)));
    auto c = compare_all({obs(na, "auth"), obs(refused, "gw"), obs(fail, "rec")}, rrtype::A, {});
    CHECK(c.verdict_detail == "blocked (refused) by gw; REFUSED from auth; SERVFAIL from rec");
}

TEST_CASE("DoH HTTP status and content type are compared between DoH targets only") {
    Observation a, b, c;
    a.doh = b.doh = true;
    a.http_status = 200;
    b.http_status = 415;
    b.error = "HTTP 415";
    c.answered = true; // a plain UDP target that answered
    auto d = first_difference(a, b, {});
    REQUIRE(d);
    CHECK(d->field == "http.status");
    CHECK(d->a == "200");
    CHECK(d->b == "415");
    a.http_status = 415;
    a.error = "HTTP 415";
    CHECK_FALSE(first_difference(a, b, {}));
    d = first_difference(a, c, {});
    REQUIRE(d);
    CHECK(d->field == "error"); // c is not DoH: only the failure itself compares
}

TEST_SUITE_END();
