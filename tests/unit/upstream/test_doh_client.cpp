// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "resolver/upstream/doh_client.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;
using namespace resolver::upstream;

namespace {
std::vector<std::uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

DohOptions parse_ok(const char* text) {
    auto url = util::parse_url(text);
    REQUIRE(url);
    auto o = parse_doh_options(*url, {});
    REQUIRE_MESSAGE(o, (o ? "" : o.error().detail));
    return std::move(o).value();
}

std::string parse_err(const char* text) {
    auto url = util::parse_url(text);
    REQUIRE(url);
    auto o = parse_doh_options(*url, {});
    REQUIRE_FALSE(o);
    CHECK(o.error().code == Errc::ConfigInvalid);
    return o.error().detail;
}
} // namespace

TEST_SUITE_BEGIN("upstream.doh");

TEST_CASE("base64url: RFC 4648 §10 vectors, URL alphabet, no padding") {
    CHECK(base64url_encode(bytes("")) == "");
    CHECK(base64url_encode(bytes("f")) == "Zg");
    CHECK(base64url_encode(bytes("fo")) == "Zm8");
    CHECK(base64url_encode(bytes("foo")) == "Zm9v");
    CHECK(base64url_encode(bytes("foob")) == "Zm9vYg");
    CHECK(base64url_encode(bytes("fooba")) == "Zm9vYmE");
    CHECK(base64url_encode(bytes("foobar")) == "Zm9vYmFy");
    const std::vector<std::uint8_t> high{0xfb, 0xff, 0xbf};
    CHECK(base64url_encode(high) == "-_-_"); // '+' and '/' in standard base64
}

TEST_CASE("base64url: the RFC 8484 §4.1.1 example query") {
    // www.example.com A, ID 0, RD.
    const std::vector<std::uint8_t> q{0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x03, 0x77, 0x77, 0x77, 0x07, 0x65,
                                      0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f,
                                      0x6d, 0x00, 0x00, 0x01, 0x00, 0x01};
    CHECK(base64url_encode(q) == "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
    auto back = base64url_decode("AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
    REQUIRE(back);
    CHECK(*back == q);
}

TEST_CASE("base64url decode: round trip, padding accepted, junk rejected") {
    for (std::size_t n = 0; n < 40; ++n) {
        std::vector<std::uint8_t> v(n);
        for (std::size_t i = 0; i < n; ++i) {
            v[i] = static_cast<std::uint8_t>(i * 37 + 11);
        }
        auto back = base64url_decode(base64url_encode(v));
        REQUIRE(back);
        CHECK(*back == v);
    }
    CHECK(base64url_decode("Zg==") == std::optional(bytes("f")));
    CHECK_FALSE(base64url_decode("Zm9v+A"));                       // standard alphabet
    CHECK_FALSE(base64url_decode("Z"));                            // impossible length
    CHECK_FALSE(base64url_decode("Zh"));                           // non-zero leftover bits
    CHECK_FALSE(base64url_decode("Zm9"));                          // the same after 3 characters
    CHECK_FALSE(base64url_decode("Zm9vZh"));                       // and after whole groups
    CHECK_FALSE(base64url_decode(std::string_view("Zm\x80v", 4))); // bytes outside ASCII
    CHECK_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));   // and NUL
    CHECK(base64url_decode("-_-_") == std::optional(std::vector<std::uint8_t>{0xfb, 0xff, 0xbf}));
}

TEST_CASE("defaults: POST over HTTP/2 to /dns-query, ALPN h2, authority without :443") {
    const auto o = parse_ok("https://dns.example");
    CHECK(o.host == "dns.example");
    CHECK(o.port == 443);
    CHECK(o.path == "/dns-query");
    CHECK(o.authority == "dns.example");
    CHECK(o.method == DohOptions::Method::Post);
    CHECK(o.http == DohOptions::Http::H2);
    CHECK(o.tls.alpn == std::vector<std::string>{"h2"});
    CHECK(o.tls.verify);
    CHECK_FALSE(o.errors_as_exchange);
    CHECK(o.headers.empty());
}

TEST_CASE("URL parameters: method, http version, sni as authority, headers, errors=exchange") {
    const auto o = parse_ok("https://127.0.0.1:8443/dns-query/lab?method=GET&http=1.1"
                            "&sni=65y9p2vm1u.cloudflare-gateway.com&header.CF-DNS-Location=abc"
                            "&header.x-test=1&errors=exchange&timeout=300");
    CHECK(o.path == "/dns-query/lab");
    CHECK(o.method == DohOptions::Method::Get);
    CHECK(o.http == DohOptions::Http::H1);
    CHECK(o.tls.alpn == std::vector<std::string>{"http/1.1"});
    CHECK(o.tls.server_name == "65y9p2vm1u.cloudflare-gateway.com");
    CHECK(o.authority == "65y9p2vm1u.cloudflare-gateway.com:8443");
    REQUIRE(o.headers.size() == 2);
    CHECK(o.headers[0] == std::pair<std::string, std::string>{"cf-dns-location", "abc"});
    CHECK(o.headers[1] == std::pair<std::string, std::string>{"x-test", "1"});
    CHECK(o.errors_as_exchange);
    CHECK(o.timeout_ms == 300);
    CHECK(parse_ok("https://[::1]:8443?method=json").authority == "[::1]:8443");
    CHECK(parse_ok("https://[::1]:8443?method=json").method == DohOptions::Method::Json);
}

TEST_CASE("bad parameters are rejected with the parameter named") {
    CHECK(parse_err("https://127.0.0.1?method=put").find("method=") != std::string::npos);
    CHECK(parse_err("https://127.0.0.1?http=3").find("http=") != std::string::npos);
    CHECK(parse_err("https://127.0.0.1?errors=maybe").find("errors=") != std::string::npos);
    CHECK(parse_err("https://127.0.0.1?header.bad%20name=x").find("header") != std::string::npos);
    CHECK(parse_err("https://127.0.0.1?header.x=a%0d%0ab").find("header") != std::string::npos);
    CHECK(parse_err("tls://127.0.0.1").find("https://") != std::string::npos);
}

TEST_CASE("JSON API query string from the query wire") {
    wire::Message q;
    q.question.push_back(wire::Question{*wire::Name::from_text("Example.COM."), wire::rrtype::AAAA,
                                        wire::rrclass::IN});
    auto qs = json_query_string(wire::serialize(q));
    REQUIRE(qs);
    CHECK(*qs == "name=Example.COM&type=AAAA");

    q.set_flag(wire::kFlagCd, true);
    q.edns = wire::Edns{};
    q.edns->dnssec_ok = true;
    q.question.front().qtype = 65280;
    qs = json_query_string(wire::serialize(q));
    REQUIRE(qs);
    CHECK(*qs == "name=Example.COM&type=TYPE65280&do=1&cd=1");

    const std::vector<std::uint8_t> junk{0, 1, 2};
    CHECK_FALSE(json_query_string(junk));
}

TEST_SUITE_END();
