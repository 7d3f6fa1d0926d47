// SPDX-License-Identifier: MIT
// wire/presentation: records as stand-alone wire bytes and RDATA in presentation format (the
// common types without ldns must read exactly as ldns prints them; the rest goes to ldns).
#include <doctest/doctest.h>

#include "resolver/wire/presentation.hpp"

using namespace resolver::wire;

namespace {

ResourceRecord rr(const char* owner, std::uint16_t type, std::string rdata) {
    ResourceRecord r;
    r.name = *Name::from_text(owner);
    r.type = type;
    r.ttl = 0x01020304;
    r.rdata = std::move(rdata);
    return r;
}

std::string name_wire(const char* text) {
    return Name::from_text(text)->wire();
}

} // namespace

TEST_CASE("record_wire: owner, type, class, TTL, RDLENGTH, RDATA") {
    auto bytes = record_wire(rr("a.b", rrtype::A, std::string("\xc0\x00\x02\x01", 4)));
    const std::vector<std::uint8_t> want = {1, 'a', 1, 'b', 0, 0,   1, 0, 1, 1,
                                            2, 3,   4, 0,   4, 192, 0, 2, 1};
    CHECK(bytes == want);
    CHECK(record_wire(rr("a.b", 99, std::string(70000, 'x'))).empty());
}

TEST_CASE("rdata_text: common types, and the ldns path for everything else") {
    CHECK(rdata_text(rr("x", rrtype::A, std::string("\xc0\x00\x02\x01", 4))) == "192.0.2.1");
    std::string v6(16, '\0');
    v6[0] = '\x20';
    v6[1] = '\x01';
    v6[2] = '\x0d';
    v6[3] = '\xb8';
    v6[15] = '\x01';
    CHECK(rdata_text(rr("x", rrtype::AAAA, v6)) == "2001:db8::1");
    CHECK(rdata_text(rr("x", rrtype::CNAME, name_wire("Edge-1.Example.net"))) ==
          "Edge-1.Example.net.");
    CHECK(rdata_text(rr("x", rrtype::MX, std::string("\x00\x0a", 2) + name_wire("mx.example"))) ==
          "10 mx.example.");
    CHECK(rdata_text(rr("x", rrtype::NS, name_wire("."))) == ".");
    // Not plain: ldns escapes it.
    CHECK(rdata_text(rr("x", rrtype::CNAME, name_wire("a\\;b.example"))) == "a\\;b.example.");
    // Trailing bytes after the name: malformed for the type, so shown as its bytes (RFC 3597)
    // rather than as ldns's reading of a prefix.
    CHECK(rdata_text(rr("x", rrtype::CNAME, name_wire("a.example") + "zz")) ==
          "\\# 13 0161076578616d706c65007a7a");
    CHECK(rdata_text(rr("x", rrtype::A, "\x01\x02")) == "\\# 2 0102");
    CHECK(rdata_text(rr("x", rrtype::TXT, "\x05hello")) == "\"hello\"");
}
