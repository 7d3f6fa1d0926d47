// SPDX-License-Identifier: MIT
// Exact bytes of owner-name compression (RFC 1035 §4.1.4): serialize() runs for every answer,
// so its compressor is tuned; these pin down what it must keep doing.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "resolver/wire/message.hpp"

using namespace resolver::wire;

namespace {
ResourceRecord rr(std::string_view owner, std::uint16_t type, std::string rdata) {
    ResourceRecord r;
    r.name = *Name::from_text(owner);
    r.type = type;
    r.rclass = rrclass::IN;
    r.ttl = 60;
    r.rdata = std::move(rdata);
    return r;
}

Message with_question(std::string_view qname) {
    Message m;
    m.id = 7;
    m.question.push_back(Question{*Name::from_text(qname), rrtype::A, rrclass::IN});
    return m;
}

// Owner name bytes of the first answer record: right after header and question.
std::vector<std::uint8_t> bytes_at(const std::vector<std::uint8_t>& w, std::size_t off,
                                   std::size_t n) {
    return {w.begin() + static_cast<std::ptrdiff_t>(off),
            w.begin() + static_cast<std::ptrdiff_t>(off + n)};
}
} // namespace

TEST_CASE("compression points to the first earlier copy, case-insensitively (RFC 4343 §3)") {
    Message m = with_question("www.Example.COM");
    m.answer.push_back(rr("WWW.example.com", rrtype::A, std::string("\xC0\x00\x02\x01", 4)));
    m.answer.push_back(rr("mail.EXAMPLE.com", rrtype::A, std::string("\xC0\x00\x02\x02", 4)));
    const auto w = serialize(m);
    // Question name at offset 12 (3www7Example3COM0 = 17 bytes), then type and class.
    const std::size_t first = 12 + 17 + 4;
    CHECK(bytes_at(w, first, 2) == std::vector<std::uint8_t>{0xC0, 12}); // whole name: the question
    const std::size_t second = first + 2 + 10 + 4;
    // "mail" literally, then a pointer to "Example.COM" inside the question (offset 16).
    CHECK(bytes_at(w, second, 7) == std::vector<std::uint8_t>{4, 'm', 'a', 'i', 'l', 0xC0, 16});
    auto parsed = parse({w.data(), w.size()});
    REQUIRE(parsed);
    CHECK(parsed.message->answer[1].name == *Name::from_text("mail.example.com"));
}

TEST_CASE("compression follows earlier pointers and never matches a shorter or longer suffix") {
    Message m = with_question("a.b.c");
    m.answer.push_back(rr("x.b.c", rrtype::A, std::string(4, '\1')));   // x + pointer to b.c
    m.answer.push_back(rr("y.x.b.c", rrtype::A, std::string(4, '\2'))); // y + pointer to x.b.c
    m.answer.push_back(rr("b.c.b.c", rrtype::A, std::string(4, '\3'))); // b.c + pointer to b.c
    const auto w = serialize(m);
    auto parsed = parse({w.data(), w.size()});
    REQUIRE(parsed);
    REQUIRE(parsed.message->answer.size() == 3);
    CHECK(parsed.message->answer[0].name == *Name::from_text("x.b.c"));
    CHECK(parsed.message->answer[1].name == *Name::from_text("y.x.b.c"));
    CHECK(parsed.message->answer[2].name == *Name::from_text("b.c.b.c"));
    const std::size_t x = 12 + 7 + 4;
    CHECK(bytes_at(w, x, 4) == std::vector<std::uint8_t>{1, 'x', 0xC0, 14});
    const std::size_t y = x + 4 + 14;
    CHECK(bytes_at(w, y, 4) ==
          std::vector<std::uint8_t>{1, 'y', 0xC0, static_cast<std::uint8_t>(x)});
    const std::size_t bcbc = y + 4 + 14;
    CHECK(bytes_at(w, bcbc, 6) == std::vector<std::uint8_t>{1, 'b', 1, 'c', 0xC0, 14});
}

TEST_CASE("a response cut by truncation still parses, TC set") {
    Message m = with_question("q.example");
    // The answer RRset does not fit in 100 bytes: it goes, and so does everything after it.
    m.answer.push_back(rr("long-owner-name.example", rrtype::TXT, std::string(80, 'x')));
    m.authority.push_back(rr("long-owner-name.example", rrtype::A, std::string(4, '\1')));
    const auto w = serialize(m, 100);
    auto parsed = parse({w.data(), w.size()});
    REQUIRE(parsed);
    CHECK(parsed.message->flag(kFlagTc));
    CHECK(parsed.message->answer.empty());
}

TEST_CASE("a repeated owner name points to the whole earlier name, written or pointed to") {
    Message m = with_question("www.example.com");
    for (char c = '1'; c <= '3'; ++c) { // an RRset: the question's name three times
        m.answer.push_back(rr("www.example.com", rrtype::A, std::string(3, '\0') + c));
    }
    m.authority.push_back(rr("ns.example.net", rrtype::A, std::string(4, '\4')));
    m.authority.push_back(rr("NS.example.NET", rrtype::A, std::string(4, '\5')));
    m.authority.push_back(rr("NS.example.NET", rrtype::A, std::string(4, '\6')));
    const auto w = serialize(m);
    const std::size_t first = 12 + 17 + 4;
    for (std::size_t i = 0; i < 3; ++i) { // owner, type, class, TTL, RDLENGTH, 4 octets
        CHECK(bytes_at(w, first + i * 16, 2) == std::vector<std::uint8_t>{0xC0, 12});
    }
    const std::size_t ns = first + 3 * 16; // written out: 2ns7example3net0, 16 bytes
    CHECK(bytes_at(w, ns, 3) == std::vector<std::uint8_t>{2, 'n', 's'});
    const std::size_t second = ns + 16 + 14;
    CHECK(bytes_at(w, second, 2) == std::vector<std::uint8_t>{0xC0, static_cast<std::uint8_t>(ns)});
    CHECK(bytes_at(w, second + 16, 2) ==
          std::vector<std::uint8_t>{0xC0, static_cast<std::uint8_t>(ns)});
    auto parsed = parse({w.data(), w.size()});
    REQUIRE(parsed);
    REQUIRE(parsed.message->authority.size() == 3);
    CHECK(parsed.message->authority[2].name == *Name::from_text("ns.example.net"));
    CHECK(parsed.message->authority[2].rdata == std::string(4, '\6'));
}

TEST_CASE("the root owner stays one octet, never a pointer") {
    Message m = with_question(".");
    m.additional.push_back(rr(".", rrtype::A, std::string(4, '\1')));
    m.additional.push_back(rr(".", rrtype::A, std::string(4, '\2')));
    const auto w = serialize(m);
    REQUIRE(w.size() == 12 + 1 + 4 + 2 * (1 + 10 + 4));
    CHECK(w[12 + 5] == 0);
    CHECK(w[12 + 5 + 15] == 0);
}
