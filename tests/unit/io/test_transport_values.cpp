// SPDX-License-Identifier: MIT
// Issue 14: what a listener hands the pipeline per query without allocating: the client's
// endpoint in binary (formatted only by what prints it), the shared listener name and the
// reply callable with its capture inline.
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "resolver/io/sockaddr.hpp"
#include "resolver/io/transport.hpp"
#include "tests/unit/io/socket_address.hpp"

using namespace resolver;

using io_test::as_sockaddr;
using io_test::ntop;
using io_test::socket_address;

TEST_SUITE_BEGIN("io.transport");

TEST_CASE("a socket address becomes a binary endpoint that prints as inet_ntop does") {
    for (const char* ip : {"127.0.0.1", "192.0.2.255", "0.0.0.0", "10.20.3.4"}) {
        const auto sa = socket_address(ip, 40000);
        REQUIRE(sa.ss_family == AF_INET);
        const io::Endpoint e = io::to_endpoint(as_sockaddr(sa));
        REQUIRE(e.ip);
        CHECK(e.ip->v4);
        CHECK(e.port == 40000);
        CHECK(e.ip_string() == ntop(sa));
        CHECK(*e.ip == *net::IpAddr::parse(ip)); // what the stages parsed from the text
    }
    for (const char* ip : {"::1", "2001:db8::1", "fe80::1:2:3:4", "2001:db8:0:0:1:0:0:1"}) {
        const auto sa = socket_address(ip, 53);
        REQUIRE(sa.ss_family == AF_INET6);
        const io::Endpoint e = io::to_endpoint(as_sockaddr(sa));
        REQUIRE(e.ip);
        CHECK_FALSE(e.ip->v4);
        CHECK(e.port == 53);
        net::IpText buf;
        CHECK(e.ip_text(buf) == ntop(sa));
        CHECK(e.ip_string() == e.ip->to_string());
        CHECK(*e.ip == *net::IpAddr::parse(ntop(sa)));
    }
    // An IPv4 client of a dual-stack socket is an IPv4 client.
    const auto mapped = socket_address("::ffff:198.51.100.7", 1234);
    REQUIRE(mapped.ss_family == AF_INET6);
    const io::Endpoint e = io::to_endpoint(as_sockaddr(mapped));
    REQUIRE(e.ip);
    CHECK(e.ip->v4);
    CHECK(e.ip_string() == "198.51.100.7");
    CHECK(io::endpoint_text(e) == "198.51.100.7:1234");
    CHECK(io::endpoint_text(io::to_endpoint(as_sockaddr(socket_address("::1", 53)))) == "[::1]:53");
}

TEST_CASE("an endpoint from text, and one without an address") {
    const net::Endpoint e("2001:DB8::A", 853);
    REQUIRE(e.ip);
    CHECK(e.ip_string() == "2001:db8::a");
    CHECK(e.port == 853);
    const net::Endpoint none("not an address", 1);
    CHECK_FALSE(none.ip);
    net::IpText buf;
    CHECK(none.ip_text(buf).empty());
    CHECK(io::to_endpoint(nullptr).ip_string().empty());
}

TEST_CASE("a listener name is shared by its copies") {
    net::ListenerName a(std::string("udp://127.0.0.1:53535 (a name longer than SSO)"));
    const net::ListenerName b = a;
    CHECK(b.view() == "udp://127.0.0.1:53535 (a name longer than SSO)");
    CHECK(b.view().data() == a.view().data()); // one string, not a copy
    CHECK(net::ListenerName().view().empty());
    CHECK(b.str() == std::string(a.view()));
}

TEST_CASE("a reply callable runs its capture inline or on the heap, once, and frees it") {
    auto token = std::make_shared<int>(7);
    int seen = 0;
    {
        io::ReplyFn small = [token, &seen](io::Reply r) { seen += *token + (r.dropped ? 100 : 0); };
        CHECK(small);
        CHECK(token.use_count() == 2);
        io::ReplyFn moved = std::move(small);
        CHECK_FALSE(small); // NOLINT(bugprone-use-after-move): moved-from is empty
        CHECK(token.use_count() == 2);
        io::Reply r;
        r.dropped = true;
        moved(std::move(r));
        CHECK(seen == 107);
    }
    CHECK(token.use_count() == 1); // the capture was destroyed exactly once

    std::array<char, 200> big{}; // larger than ReplyFn::kInline: lives on the heap
    big[199] = 3;
    {
        io::ReplyFn large = [token, big, &seen](io::Reply r) {
            seen += big[199] + static_cast<int>(r.wire.size());
        };
        io::ReplyFn other;
        CHECK_FALSE(other);
        other = std::move(large);
        CHECK(token.use_count() == 2);
        io::Reply r;
        r.wire = {1, 2};
        other(std::move(r));
        CHECK(seen == 112);
        other = [](io::Reply) {}; // assigning over a callable destroys the old capture
        CHECK(token.use_count() == 1);
    }
    CHECK(token.use_count() == 1);
}

TEST_SUITE_END();
