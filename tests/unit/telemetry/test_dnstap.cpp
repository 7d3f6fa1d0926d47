// SPDX-License-Identifier: MIT
// dnstap: what encode() puts in each field, read back with the protobuf-c code generated
// from dnstap.proto, and the writer's refusal of bad outputs.
#include <doctest/doctest.h>

#include <string>

#include "dnstap.pb-c.h"
#include "resolver/telemetry/dnstap.hpp"

namespace telemetry = resolver::telemetry;
namespace net = resolver::net;

namespace {
std::string str(const ProtobufCBinaryData& b) {
    return {reinterpret_cast<const char*>(b.data), b.len};
}
struct Unpacked {
    Dnstap__Dnstap* d;
    explicit Unpacked(const telemetry::Frame& f)
        : d(dnstap__dnstap__unpack(nullptr, f.size, f.data.get())) {}
    ~Unpacked() { dnstap__dnstap__free_unpacked(d, nullptr); }
};
} // namespace

TEST_CASE("encode: a CLIENT_RESPONSE over DoH carries family, protocol, addresses, times") {
    const std::vector<std::uint8_t> response{0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0};
    telemetry::DnstapEvent e;
    e.type = telemetry::DnstapType::ClientResponse;
    e.protocol = net::Transport::Https;
    e.query_address = net::IpAddr::parse("192.0.2.7");
    e.query_port = 40000;
    e.response_address = net::IpAddr::parse("127.0.0.1");
    e.response_port = 443;
    e.query_time =
        std::chrono::system_clock::time_point(std::chrono::nanoseconds(1700000000123456789));
    e.response_time = *e.query_time + std::chrono::milliseconds(2);
    e.response_message = response;
    e.extra = R"({"LabQueryID":3})";
    auto f = telemetry::encode(e, "host", "dnslab-resolver 0.1.0");
    REQUIRE(f);
    Unpacked u(*f);
    REQUIRE(u.d != nullptr);
    CHECK(u.d->type == DNSTAP__DNSTAP__TYPE__MESSAGE);
    CHECK(str(u.d->identity) == "host");
    CHECK(str(u.d->version) == "dnslab-resolver 0.1.0");
    CHECK(str(u.d->extra) == R"({"LabQueryID":3})");
    const Dnstap__Message* m = u.d->message;
    REQUIRE(m != nullptr);
    CHECK(m->type == DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE);
    CHECK(m->socket_family == DNSTAP__SOCKET_FAMILY__INET);
    CHECK(m->socket_protocol == DNSTAP__SOCKET_PROTOCOL__DOH);
    CHECK(str(m->query_address) == std::string("\xc0\x00\x02\x07", 4));
    CHECK(m->query_port == 40000);
    CHECK(str(m->response_address) == std::string("\x7f\x00\x00\x01", 4));
    CHECK(m->response_port == 443);
    CHECK(m->query_time_sec == 1700000000);
    CHECK(m->query_time_nsec == 123456789);
    CHECK(m->response_time_sec == 1700000000);
    CHECK(m->response_time_nsec == 125456789);
    CHECK_FALSE(m->has_query_message);
    CHECK(m->response_message.len == response.size());
}

TEST_CASE("encode: IPv6 is INET6 with 16 octets; no socket protocol for a fixture upstream") {
    const std::vector<std::uint8_t> query{1, 2, 3};
    telemetry::DnstapEvent e;
    e.type = telemetry::DnstapType::ForwarderQuery;
    e.response_address = net::IpAddr::parse("2001:db8::1");
    e.response_port = 853;
    e.query_message = query;
    auto f = telemetry::encode(e, "", "");
    REQUIRE(f);
    Unpacked u(*f);
    REQUIRE(u.d != nullptr);
    CHECK_FALSE(u.d->has_identity);
    const Dnstap__Message* m = u.d->message;
    CHECK(m->type == DNSTAP__MESSAGE__TYPE__FORWARDER_QUERY);
    CHECK(m->socket_family == DNSTAP__SOCKET_FAMILY__INET6);
    CHECK(m->response_address.len == 16);
    CHECK_FALSE(m->has_socket_protocol);
    CHECK_FALSE(m->has_query_address);
    CHECK(m->query_message.len == 3);
}

TEST_CASE("DnstapWriter refuses an output it cannot use, naming it") {
    auto bad = telemetry::DnstapWriter::open("tcp:127.0.0.1:6000");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail.find("unix:PATH or file:PATH") != std::string::npos);
    auto unwritable = telemetry::DnstapWriter::open("file:/nonexistent-dir/x/tap.fstrm");
    REQUIRE_FALSE(unwritable);
    CHECK(unwritable.error().detail.find("/nonexistent-dir/x/tap.fstrm") != std::string::npos);
}
