// SPDX-License-Identifier: MIT
// Every way decode ends a query before policy: drops, FORMERR, NOTIMP, BADVERS, REFUSED.
#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;

namespace {
std::vector<std::uint8_t> header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd) {
    return {static_cast<std::uint8_t>(id >> 8),
            static_cast<std::uint8_t>(id),
            static_cast<std::uint8_t>(flags >> 8),
            static_cast<std::uint8_t>(flags),
            0,
            static_cast<std::uint8_t>(qd),
            0,
            0,
            0,
            0,
            0,
            0};
}
} // namespace

TEST_CASE("stages: a datagram shorter than a header is dropped, never answered") {
    Lab lab;
    auto o = lab.run_bytes({0x12, 0x34, 0x01});
    CHECK(o.ctx->disposition == stages::Disposition::Dropped);
    CHECK(o.ctx->wire_out.empty());
    CHECK(o.ctx->drop_reason == "message shorter than a header");
    CHECK(o.asked.empty());
}

TEST_CASE("stages: a response (QR=1) is dropped silently, so two resolvers cannot loop") {
    Lab lab;
    auto bytes = wire::serialize(query("www.example.com"));
    bytes[2] |= 0x80;
    auto o = lab.run_bytes(bytes);
    CHECK(o.ctx->disposition == stages::Disposition::Dropped);
    CHECK(o.ctx->wire_out.empty());
    CHECK(stages::screen(bytes).has_value());
    // A malformed response is no better: still dropped, not FORMERR'd.
    auto broken = header(0xBEEF, 0x8100, 1);
    broken.push_back(3);
    CHECK(lab.run_bytes(broken).ctx->disposition == stages::Disposition::Dropped);
}

TEST_CASE("stages: a readable header with a broken question gets FORMERR with the ID only") {
    Lab lab;
    auto bytes = header(0xBEEF, 0x0100, 1);
    bytes.insert(bytes.end(), {3, 'w', 'w', 'w'});
    auto o = lab.run_bytes(bytes);
    REQUIRE(o.sent);
    CHECK(o.sent->id == 0xBEEF);
    CHECK(o.sent->rcode() == wire::rcode::FormErr);
    CHECK(o.sent->question.empty());
    CHECK(o.sent->flag(wire::kFlagRd));
    CHECK_FALSE(o.sent->flag(wire::kFlagRa));
    CHECK(o.asked.empty());
}

TEST_CASE("stages: QDCOUNT other than 1 is FORMERR") {
    Lab lab;
    auto none = lab.run_bytes(header(7, 0x0100, 0));
    REQUIRE(none.sent);
    CHECK(none.sent->rcode() == wire::rcode::FormErr);
    auto two = query("www.example.com");
    two.question.push_back(two.question[0]);
    auto o = lab.run(two);
    REQUIRE(o.sent);
    CHECK(o.sent->rcode() == wire::rcode::FormErr);
    CHECK(o.sent->question.empty());
}

TEST_CASE("stages: an unknown opcode is NOTIMP, with or without a question, and never RA") {
    Lab lab;
    auto q = query("www.example.com");
    q.flags |= 2 << 11; // STATUS
    auto with = lab.run(q);
    REQUIRE(with.sent);
    CHECK(with.sent->rcode() == wire::rcode::NotImp);
    CHECK(with.sent->opcode() == 2);
    CHECK(with.sent->question.size() == 1);
    CHECK_FALSE(with.sent->flag(wire::kFlagRa));
    auto without = lab.run_bytes(header(9, 5 << 11, 0)); // UPDATE, no question
    REQUIRE(without.sent);
    CHECK(without.sent->rcode() == wire::rcode::NotImp);
    CHECK(without.sent->opcode() == 5);
    // Unreadable after the header, but an opcode we do not implement: NOTIMP, not FORMERR.
    auto broken = header(10, 4 << 11, 1);
    broken.push_back(63);
    auto b = lab.run_bytes(broken);
    REQUIRE(b.sent);
    CHECK(b.sent->rcode() == wire::rcode::NotImp);
    CHECK(with.asked.empty());
}

TEST_CASE("stages: EDNS version 1 gets BADVERS answered with version 0") {
    Lab lab;
    auto q = query("www.example.com");
    q.edns->version = 1;
    auto o = lab.run(q);
    REQUIRE(o.sent);
    CHECK(o.sent->rcode() == wire::rcode::BadVers);
    REQUIRE(o.sent->edns);
    CHECK(o.sent->edns->version == 0);
    CHECK(o.asked.empty());
}

TEST_CASE("stages: zone transfers are NOTIMP") {
    Lab lab;
    auto o = lab.run(query("example.com", 252));
    REQUIRE(o.sent);
    CHECK(o.sent->rcode() == wire::rcode::NotImp);
    CHECK(o.asked.empty());
}

TEST_CASE("stages: classes no upstream serves are REFUSED at once; CH is forwarded") {
    Lab lab;
    for (std::uint16_t cls :
         {std::uint16_t{4} /* HS */, std::uint16_t{254} /* NONE */, std::uint16_t{255} /* ANY */}) {
        auto q = query("www.example.com");
        q.question[0].qclass = cls;
        auto o = lab.run(q);
        REQUIRE(o.sent);
        CHECK(o.sent->rcode() == wire::rcode::Refused);
        CHECK(o.asked.empty());
    }
    auto ch = query("id.server", wire::rrtype::TXT);
    ch.question[0].qclass = wire::rrclass::CH;
    auto o = lab.run(ch);
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].question.qclass == wire::rrclass::CH);
}

TEST_CASE("stages: bytes after a whole query are ignored, as peers do") {
    Lab lab;
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto bytes = wire::serialize(query("www.example.com"));
    bytes.insert(bytes.end(), {0, 1, 'g', 'a', 'r', 'b'});
    auto o = lab.run_bytes(bytes);
    REQUIRE(o.sent);
    CHECK(o.sent->rcode() == wire::rcode::NoError);
    CHECK(answers(*o.sent) == std::vector<std::string>{"www.example.com. 300 A 192.0.2.10"});
}
