// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "resolver/io/http1.hpp"

using resolver::io::Http1Parser;
using resolver::io::HttpRequest;
using State = Http1Parser::State;
using namespace std::string_literals; // "..."s keeps embedded NULs

namespace {
void feed(Http1Parser& p, std::string_view s) {
    p.feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}
} // namespace

TEST_SUITE_BEGIN("tls.http1");

TEST_CASE("a GET arrives in pieces and is parsed once complete") {
    Http1Parser p(4096, 65535);
    HttpRequest r;
    const std::string req = "GET /dns-query?dns=AAAB HTTP/1.1\r\nHost: Abc.Example:443\r\n"
                            "Accept: application/dns-message\r\nCF-DNS-Location: loc1\r\n\r\n";
    for (std::size_t i = 0; i + 1 < req.size(); ++i) {
        feed(p, req.substr(i, 1));
        REQUIRE(p.next(r) == State::NeedMore);
    }
    feed(p, req.substr(req.size() - 1));
    REQUIRE(p.next(r) == State::Request);
    CHECK(r.method == "GET");
    CHECK(r.target == "/dns-query?dns=AAAB");
    CHECK(r.authority == "Abc.Example:443");
    REQUIRE(r.header("cf-dns-location") != nullptr);
    CHECK(*r.header("cf-dns-location") == "loc1");
    CHECK(r.keep_alive);
    CHECK(p.next(r) == State::NeedMore);
    CHECK(p.buffered() == 0);
}

TEST_CASE("pipelined POSTs with bodies come out one by one; Connection: close is seen") {
    Http1Parser p(4096, 65535);
    feed(p, "POST /dns-query HTTP/1.1\r\nHost: a\r\nContent-Type: application/dns-message\r\n"
            "Content-Length: 3\r\n\r\nabc"
            "POST /dns-query HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
            "Connection: keep-alive, Close\r\n\r\nxy"
            "GET / HTTP/1.0\r\n\r\n");
    HttpRequest r;
    REQUIRE(p.next(r) == State::Request);
    CHECK(r.body == "abc");
    CHECK(r.keep_alive);
    REQUIRE(p.next(r) == State::Request);
    CHECK(r.body == "xy");
    CHECK_FALSE(r.keep_alive);
    REQUIRE(p.next(r) == State::Request);
    CHECK_FALSE(r.keep_alive); // HTTP/1.0 without keep-alive
}

TEST_CASE("caps and malformed requests give the right status") {
    HttpRequest r;
    SUBCASE("header block over the cap") {
        Http1Parser p(64, 65535);
        feed(p, "GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a'));
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 413);
    }
    SUBCASE("body over the cap is refused before it arrives") {
        Http1Parser p(4096, 100);
        feed(p, "POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 413);
    }
    SUBCASE("chunked bodies are not supported") {
        Http1Parser p(4096, 100);
        feed(p, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 501);
    }
    SUBCASE("garbage") {
        Http1Parser p(4096, 100);
        feed(p, "HELLO\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 400);
    }
    SUBCASE("bad header line") {
        Http1Parser p(4096, 100);
        feed(p, "GET / HTTP/1.1\r\nno colon here\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 400);
    }
    SUBCASE("conflicting content-length") {
        Http1Parser p(4096, 100);
        feed(p, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 400);
    }
    SUBCASE("HTTP/2 preface on a HTTP/1.1 connection") {
        Http1Parser p(4096, 100);
        feed(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 505);
    }
}

TEST_CASE("bare LF line ends are accepted, a bare CR is refused (RFC 9112 §2.2)") {
    HttpRequest r;
    SUBCASE("request line and fields end in LF") {
        Http1Parser p(4096, 100);
        feed(p, "\nGET /dns-query?dns=AAAB HTTP/1.1\nHost: x.example\nAccept: */*\n\n");
        REQUIRE(p.next(r) == State::Request);
        CHECK(r.target == "/dns-query?dns=AAAB");
        CHECK(r.authority == "x.example");
        CHECK(p.buffered() == 0);
    }
    SUBCASE("CRLF and LF mixed, with a body") {
        Http1Parser p(4096, 100);
        feed(p, "POST / HTTP/1.1\r\nHost: a\nContent-Length: 2\r\n\nxyGET / HTTP/1.1\nHost: a\n\n");
        REQUIRE(p.next(r) == State::Request);
        CHECK(r.body == "xy");
        REQUIRE(p.next(r) == State::Request);
        CHECK(r.method == "GET");
    }
    SUBCASE("a CR inside a field value") {
        Http1Parser p(4096, 100);
        feed(p, "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 400);
    }
    SUBCASE("a CR inside the request line") {
        Http1Parser p(4096, 100);
        feed(p, "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(p.next(r) == State::Error);
        CHECK(p.error_status() == 400);
    }
}

TEST_CASE("Host: missing, duplicated or invalid is 400 (RFC 9112 §3.2); NUL anywhere is 400") {
    HttpRequest r;
    auto status_of = [&](std::string_view req) {
        Http1Parser p(4096, 100);
        feed(p, req);
        return p.next(r) == State::Request ? 200 : p.error_status();
    };
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s) == 400); // NUL inside Host
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: \0\r\n\r\n"s) == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n") == 200);
    CHECK(status_of("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 200); // empty is allowed
    CHECK(status_of("GET / HTTP/1.0\r\n\r\n") == 200);          // HTTP/1.0 needs none
    CHECK(status_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
}

TEST_CASE("content-length: any number of digits; too large is 413 before the body") {
    HttpRequest r;
    auto status_of = [&](std::string_view length) {
        Http1Parser p(4096, 100);
        feed(p,
             "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::string(length) + "\r\n\r\n");
        const auto st = p.next(r);
        return st == State::Request ? 200 : st == State::NeedMore ? 0 : p.error_status();
    };
    CHECK(status_of("0") == 200);
    CHECK(status_of("0000000000000") == 200); // 13 digits, value 0
    CHECK(status_of("00000000000012") == 0);  // value 12: waits for the body
    CHECK(status_of("101") == 413);
    CHECK(status_of("9999999999") == 413);                 // 10 digits
    CHECK(status_of("99999999999999999999999999") == 413); // would overflow 64 bits
    CHECK(status_of("12a") == 400);
    CHECK(status_of("-1") == 400);
}

TEST_SUITE_END();
