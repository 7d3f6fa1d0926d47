// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "resolver/upstream/dot_client.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;
using namespace resolver::upstream;

namespace {
DotOptions parse_ok(const char* text, UpstreamOptions defaults = {}) {
    auto url = util::parse_url(text);
    REQUIRE(url);
    auto o = parse_dot_options(*url, defaults);
    REQUIRE_MESSAGE(o, (o ? "" : o.error().detail));
    return std::move(o).value();
}

std::string parse_err(const char* text) {
    auto url = util::parse_url(text);
    REQUIRE(url);
    auto o = parse_dot_options(*url, {});
    REQUIRE_FALSE(o);
    CHECK(o.error().code == Errc::ConfigInvalid);
    return o.error().detail;
}

std::vector<std::uint8_t> query(const char* name, bool edns) {
    wire::Message q;
    q.id = 0x1234;
    q.set_flag(wire::kFlagRd, true);
    q.question.push_back(
        wire::Question{*wire::Name::from_text(name), wire::rrtype::A, wire::rrclass::IN});
    if (edns) {
        q.edns = wire::Edns{};
        q.edns->options.push_back(wire::EdnsOption{wire::edns_opt::Nsid, ""});
    }
    return wire::serialize(q);
}
} // namespace

TEST_SUITE_BEGIN("upstream.dot");

TEST_CASE("defaults: port 853, verification on, name from the host, ALPN dot") {
    UpstreamOptions d;
    d.timeout_ms = 1234;
    d.idle_timeout_ms = 999;
    const auto o = parse_ok("tls://dns.example", d);
    CHECK(o.host == "dns.example");
    CHECK(o.port == 853);
    CHECK(o.tls.verify);
    CHECK(o.tls.server_name == "dns.example");
    CHECK(o.tls.sni == "dns.example");
    CHECK(o.tls.ca_file.empty());
    CHECK(o.tls.alpn == std::vector<std::string>{"dot"});
    CHECK(o.timeout_ms == 1234);
    CHECK(o.idle_timeout_ms == 999);
    CHECK_FALSE(o.pad);
}

TEST_CASE("IP literal hosts are verified as IPs and send no SNI (RFC 6066 §3)") {
    const auto o = parse_ok("tls://[::1]:8853");
    CHECK(o.host == "::1");
    CHECK(o.port == 8853);
    CHECK(o.tls.server_name == "::1");
    CHECK(o.tls.sni.empty());
}

TEST_CASE("URL parameters override SNI, CA, pins, verification and timeouts") {
    const auto o = parse_ok("tls://127.0.0.1:8853?sni=abc.cloudflare-gateway.com&ca=/tmp/ca.pem"
                            "&pin=kDjdVS+Qy5TkodDH+N2KmhEWXaty1DeXYKi0+86on4M=,"
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
                            "&verify=0&timeout=50&connect_timeout=60&idle_timeout=70&pad=1");
    CHECK(o.tls.server_name == "abc.cloudflare-gateway.com");
    CHECK(o.tls.sni == "abc.cloudflare-gateway.com");
    CHECK(o.tls.ca_file == "/tmp/ca.pem");
    REQUIRE(o.tls.pins.size() == 2);
    CHECK(o.tls.pins[0] == "kDjdVS+Qy5TkodDH+N2KmhEWXaty1DeXYKi0+86on4M=");
    CHECK_FALSE(o.tls.verify);
    CHECK(o.timeout_ms == 50);
    CHECK(o.connect_timeout_ms == 60);
    CHECK(o.idle_timeout_ms == 70);
    CHECK(o.pad);
}

TEST_CASE("bad parameters are rejected with the parameter named") {
    CHECK(parse_err("tls://127.0.0.1?timeout=abc").find("timeout=") != std::string::npos);
    CHECK(parse_err("tls://127.0.0.1?timeout=0").find("timeout=") != std::string::npos);
    CHECK(parse_err("tls://127.0.0.1?pin=short").find("pin") != std::string::npos);
    CHECK(parse_err("tls://127.0.0.1?verify=maybe").find("verify=") != std::string::npos);
    CHECK(parse_err("tls://127.0.0.1?pad=2").find("pad=") != std::string::npos);
    CHECK(parse_err("https://127.0.0.1").find("tls://") != std::string::npos);
}

TEST_CASE("a CA file that does not exist fails at creation, naming the file") {
    auto url = util::parse_url("tls://127.0.0.1:8853?ca=/nonexistent/ca.pem");
    REQUIRE(url);
    auto up = make_dot_upstream(uv_default_loop(), *url, {});
    REQUIRE_FALSE(up);
    CHECK(up.error().detail.find("/nonexistent/ca.pem") != std::string::npos);
}

TEST_CASE("padding fills queries to 128-byte blocks (RFC 8467 §4.1)") {
    for (bool edns : {false, true}) {
        for (const char* name :
             {"a.example", "a-much-longer-name.with.several.labels.example.com",
              "x123456789012345678901234567890123456789012345678901234567890.example"}) {
            CAPTURE(name);
            const auto padded = pad_message(query(name, edns));
            CHECK(padded.size() % 128 == 0);
            auto parsed = wire::parse(padded);
            REQUIRE(parsed);
            REQUIRE(parsed.message->edns);
            const auto* pad = parsed.message->edns->find(wire::edns_opt::Padding);
            REQUIRE(pad != nullptr);
            CHECK(pad->data.find_first_not_of('\0') == std::string::npos);
            CHECK(parsed.message->id == 0x1234);
            CHECK(parsed.message->question.front().qname == *wire::Name::from_text(name));
            if (edns) {
                CHECK(parsed.message->edns->find(wire::edns_opt::Nsid) != nullptr);
            }
            CHECK(pad_message(padded) == padded); // re-padding replaces, never grows
        }
    }
    const std::vector<std::uint8_t> junk{1, 2, 3};
    CHECK(pad_message(junk) == junk);
}

TEST_SUITE_END();
