// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <random>

#include "resolver/wire/message.hpp"

using namespace resolver::wire;

namespace {
Message query(std::string_view name, std::uint16_t type, bool edns = true) {
    Message m;
    m.id = 0x1234;
    m.set_flag(kFlagRd, true);
    m.question.push_back(Question{*Name::from_text(name), type, rrclass::IN});
    if (edns) {
        m.edns.emplace();
        m.edns->udp_size = 1232;
    }
    return m;
}
ResourceRecord a_record(std::string_view name, std::uint32_t ttl, std::uint8_t last) {
    return ResourceRecord{*Name::from_text(name), rrtype::A, rrclass::IN, ttl,
                          std::string{'\xC0', '\x00', '\x02', static_cast<char>(last)}};
}
std::span<const std::uint8_t> as_span(const std::vector<std::uint8_t>& v) {
    return {v.data(), v.size()};
}
} // namespace

TEST_SUITE_BEGIN("wire.message");

TEST_CASE("names round-trip between text and wire, compare case-insensitively") {
    auto n = Name::from_text("WWW.Example.COM.");
    REQUIRE(n);
    CHECK(n->to_text() == "WWW.Example.COM.");
    CHECK(n->to_gateway_text() == "www.example.com");
    CHECK(*n == *Name::from_text("www.example.com"));
    CHECK(n->label_count() == 3);
    CHECK(n->is_subdomain_of(*Name::from_text("example.com")));
    CHECK_FALSE(
        Name::from_text("badexample.com")->is_subdomain_of(*Name::from_text("example.com")));
    CHECK(Name().to_gateway_text() == ".");
    CHECK_FALSE(Name::from_text("a..b"));
    CHECK_FALSE(Name::from_text(std::string(64, 'x') + ".com"));
}

TEST_CASE("a query survives serialize and parse with EDNS options") {
    Message q = query("example.com", rrtype::AAAA);
    q.edns->dnssec_ok = true;
    q.edns->options.push_back({edns_opt::Location, "abc123"});
    auto wire = serialize(q);
    auto parsed = parse(as_span(wire));
    REQUIRE(parsed);
    const Message& m = *parsed.message;
    CHECK(m.id == 0x1234);
    CHECK(m.flag(kFlagRd));
    REQUIRE(m.question.size() == 1);
    CHECK(m.question[0].qtype == rrtype::AAAA);
    REQUIRE(m.edns);
    CHECK(m.edns->dnssec_ok);
    REQUIRE(m.edns->find(edns_opt::Location));
    CHECK(m.edns->find(edns_opt::Location)->data == "abc123");
}

TEST_CASE("owner names are compressed and decompress back") {
    Message r = make_response(query("example.com", rrtype::A), rcode::NoError);
    for (int i = 0; i < 5; ++i) {
        r.answer.push_back(a_record("example.com", 300, static_cast<std::uint8_t>(i)));
    }
    auto wire = serialize(r);
    CHECK(wire.size() < 12 + 17 + 5 * 16 + 11 + 1); // each answer owner is a 2-byte pointer
    auto parsed = parse(as_span(wire));
    REQUIRE(parsed);
    CHECK(parsed.message->answer.size() == 5);
    CHECK(address_text(parsed.message->answer[4]) == "192.0.2.4");
}

TEST_CASE("truncation drops whole RRsets and sets TC, keeping OPT") {
    Message r = make_response(query("big.example", rrtype::A), rcode::NoError);
    for (int i = 0; i < 60; ++i) {
        r.answer.push_back(a_record("big.example", 60, static_cast<std::uint8_t>(i)));
    }
    auto wire = serialize(r, 512);
    CHECK(wire.size() <= 512);
    auto parsed = parse(as_span(wire));
    REQUIRE(parsed);
    CHECK(parsed.message->flag(kFlagTc));
    CHECK(parsed.message->answer.empty()); // one RRset, it does not fit: none of it is sent
    CHECK(parsed.message->edns.has_value());
}

TEST_CASE("an additional-only cut does not set TC") {
    Message r = make_response(query("x.example", rrtype::A), rcode::NoError);
    r.answer.push_back(a_record("x.example", 60, 1));
    for (int i = 0; i < 60; ++i) {
        r.additional.push_back(a_record("glue" + std::to_string(i) + ".example", 60, 1));
    }
    auto parsed = parse(as_span(serialize(r, 512)));
    REQUIRE(parsed);
    CHECK_FALSE(parsed.message->flag(kFlagTc));
    CHECK(parsed.message->answer.size() == 1);
}

TEST_CASE("extended rcodes and EDE live in OPT") {
    Message r = make_response(query("x.example", rrtype::A), rcode::NoError);
    r.set_rcode(rcode::BadVers);
    r.add_ede(23, "127.0.0.1:53 unreachable");
    auto parsed = parse(as_span(serialize(r)));
    REQUIRE(parsed);
    CHECK(parsed.message->rcode() == rcode::BadVers);
    auto edes = parsed.message->edes();
    REQUIRE(edes.size() == 1);
    CHECK(edes[0].code == 23);
    CHECK(edes[0].text == "127.0.0.1:53 unreachable");
}

TEST_CASE("malformed packets fail cleanly with the right kind") {
    SUBCASE("short header is dropped") {
        std::vector<std::uint8_t> w{1, 2, 3};
        auto p = parse(as_span(w));
        CHECK_FALSE(p);
        CHECK(p.failure.kind == ParseFailure::Kind::ShortHeader);
    }
    SUBCASE("question count beyond the data is FORMERR with the ID") {
        std::vector<std::uint8_t> w{0xAB, 0xCD, 1,   0,   0,   2, 0, 0, 0, 0, 0,
                                    0,    3,    'f', 'o', 'o', 0, 0, 1, 0, 1};
        auto p = parse(as_span(w));
        CHECK_FALSE(p);
        CHECK(p.failure.kind == ParseFailure::Kind::Malformed);
        CHECK(p.failure.id == 0xABCD);
    }
    SUBCASE("a compression pointer loop is rejected") {
        std::vector<std::uint8_t> w{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
        CHECK_FALSE(parse(as_span(w)));
    }
    SUBCASE("a forward pointer is rejected") {
        std::vector<std::uint8_t> w{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 16, 0, 1, 0, 1, 0};
        CHECK_FALSE(parse(as_span(w)));
    }
    SUBCASE("two OPT records are rejected") {
        Message q = query("a.example", rrtype::A);
        auto wire = serialize(q);
        wire.insert(wire.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0});
        wire[11] = 2;
        CHECK_FALSE(parse(as_span(wire)));
    }
    SUBCASE("trailing garbage is rejected") {
        auto wire = serialize(query("a.example", rrtype::A));
        wire.push_back(0);
        CHECK_FALSE(parse(as_span(wire)));
    }
}

TEST_CASE("random bytes never crash the parser") {
    std::mt19937 rng(42);
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::uint8_t> w(rng() % 300);
        for (auto& b : w) {
            b = static_cast<std::uint8_t>(rng());
        }
        if (w.size() > 5 && (i % 2) == 0) {
            w[4] = 0;
            w[5] = 1; // one question, so the name reader is exercised
        }
        auto p = parse(as_span(w));
        if (p) {
            // Whatever parsed must serialize and parse again to the same counts.
            auto again = parse(as_span(serialize(*p.message)));
            REQUIRE(again);
            CHECK(again.message->answer.size() == p.message->answer.size());
        }
    }
}

TEST_CASE("type and rcode names") {
    CHECK(type_name(65) == "HTTPS");
    CHECK(type_name(65280) == "TYPE65280");
    CHECK(type_from_name("aaaa") == rrtype::AAAA);
    CHECK(type_from_name("TYPE99") == 99);
    CHECK_FALSE(type_from_name("BOGUS"));
    CHECK(rcode_name(3) == "NXDOMAIN");
    CHECK(rcode_from_name("refused") == 5);
}

// Found by tests/fuzz/fuzz_wire: rcode_name(3328) printed "RCODE3328", which rcode_from_name
// (fault plans, expectation files) did not read back.
TEST_CASE("every rcode name reads back, RCODEnnn included") {
    for (std::uint16_t rc = 0; rc < 4096; ++rc) {
        CAPTURE(rc);
        CHECK(rcode_from_name(rcode_name(rc)) == rc);
    }
    CHECK(rcode_from_name("rcode3328") == 3328);
    CHECK(rcode_from_name("3328") == 3328);
    CHECK_FALSE(rcode_from_name("RCODE"));
    CHECK_FALSE(rcode_from_name("RCODE4096"));
    CHECK_FALSE(rcode_from_name("RCODE-1"));
}

TEST_SUITE_END();

TEST_CASE("parse into reused storage gives exactly what a fresh parse gives") {
    // Storage left by an earlier, bigger message: nothing of it may survive.
    Message stale;
    stale.id = 0x9999;
    stale.flags = kFlagQr | kFlagAa;
    stale.question.push_back(
        {*Name::from_text("a-long-stale-question.example.org"), rrtype::MX, rrclass::IN});
    stale.question.push_back({*Name::from_text("second.example"), rrtype::A, rrclass::IN});
    stale.answer.push_back(
        {*Name::from_text("x.example"), rrtype::A, rrclass::IN, 5, std::string(4, '\1')});
    stale.edns.emplace();
    stale.edns->options.push_back({10, "cookie!!"});

    Message q;
    q.id = 0x1234;
    q.set_flag(kFlagRd, true);
    q.question.push_back({*Name::from_text("www.example.com"), rrtype::AAAA, rrclass::IN});
    for (bool with_edns : {false, true}) {
        CAPTURE(with_edns);
        if (with_edns) {
            q.edns.emplace();
            q.edns->dnssec_ok = true;
        }
        const auto bytes = serialize(q);
        auto fresh = parse({bytes.data(), bytes.size()});
        auto reused = parse({bytes.data(), bytes.size()}, {}, stale);
        REQUIRE(fresh);
        REQUIRE(reused);
        CHECK(serialize(*reused.message) == serialize(*fresh.message));
        REQUIRE(reused.message->question.size() == 1);
        CHECK(reused.message->question[0].qname == *Name::from_text("www.example.com"));
        CHECK(reused.message->answer.empty());
        CHECK(reused.message->edns.has_value() == with_edns);
    }
    // A question cut short: the same failure as a fresh parse, whatever the storage held.
    auto bytes = serialize(q);
    bytes.resize(12 + 5);
    auto fresh = parse({bytes.data(), bytes.size()});
    auto reused = parse({bytes.data(), bytes.size()}, {}, stale);
    CHECK_FALSE(fresh);
    CHECK_FALSE(reused);
    CHECK(reused.failure.reason == fresh.failure.reason);
    CHECK(reused.failure.id == 0x1234);
}

TEST_CASE("names print plain labels as they are and escape the rest (RFC 1035 §5.1)") {
    const auto n = *Name::from_text("Www.Ex\\.Ample.\\001a\\032B.COM");
    CHECK(n.to_text() == "Www.Ex\\.Ample.\\001a\\032B.COM.");
    CHECK(n.to_gateway_text() == "www.ex\\.ample.\\001a\\032b.com");
    std::string reused = "left over from an earlier query";
    n.to_gateway_text(reused);
    CHECK(reused == "www.ex\\.ample.\\001a\\032b.com");
    Name().to_gateway_text(reused);
    CHECK(reused == ".");
    CHECK(Name::from_text("MiXeD.Example")->to_gateway_text() == "mixed.example");
}
