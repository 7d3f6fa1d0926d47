// SPDX-License-Identifier: MIT
// Issue 12 defect 1: the UDP listener never answers a datagram from its own address and
// port (the answer would come straight back: a loop).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "resolver/io/udp_listener.hpp"
#include "tests/unit/io/socket_address.hpp"

using resolver::io::is_own_endpoint;

using io_test::as_sockaddr;
using io_test::socket_address;

namespace {

bool own(const std::string& from_ip, std::uint16_t from_port, const std::string& local_ip,
         std::uint16_t local_port, const std::vector<sockaddr_storage>& host = {}) {
    const auto from = socket_address(from_ip, from_port);
    return is_own_endpoint(as_sockaddr(from), socket_address(local_ip, local_port), host);
}

} // namespace

TEST_SUITE_BEGIN("io.udp_listener");

TEST_CASE("own address and port: the exact bound endpoint, v4-mapped included") {
    struct Row {
        const char* from;
        std::uint16_t from_port;
        const char* local;
        std::uint16_t local_port;
        bool own;
    };
    const Row rows[] = {
        {"127.0.0.1", 5353, "127.0.0.1", 5353, true},
        {"127.0.0.1", 5354, "127.0.0.1", 5353, false}, // another port: a client
        {"127.0.0.2", 5353, "127.0.0.1", 5353, false}, // another address: another host's server
        {"::ffff:127.0.0.1", 5353, "127.0.0.1", 5353, true},
        {"127.0.0.1", 5353, "::ffff:127.0.0.1", 5353, true},
        {"::1", 53, "::1", 53, true},
        {"::1", 53, "::1", 54, false},
        {"::2", 53, "::1", 53, false},
        {"192.0.2.1", 53, "::1", 53, false},
    };
    for (const auto& r : rows) {
        CAPTURE(std::string(r.from));
        CAPTURE(std::string(r.local));
        CHECK(own(r.from, r.from_port, r.local, r.local_port) == r.own);
    }
}

TEST_CASE("a wildcard bind owns loopback and the host's interface addresses on its port") {
    const std::vector<sockaddr_storage> host{socket_address("192.0.2.7", 0),
                                             socket_address("2001:db8::7", 0)};
    CHECK(own("127.0.0.1", 53, "0.0.0.0", 53, host));
    CHECK(own("127.9.9.9", 53, "0.0.0.0", 53, host));
    CHECK(own("192.0.2.7", 53, "0.0.0.0", 53, host));
    CHECK(own("2001:db8::7", 53, "::", 53, host));
    CHECK(own("::1", 53, "::", 53, host));
    CHECK_FALSE(own("192.0.2.8", 53, "0.0.0.0", 53, host)); // another machine's resolver
    CHECK_FALSE(own("192.0.2.7", 54, "0.0.0.0", 53, host));
    CHECK_FALSE(own("198.51.100.1", 53, "::", 53, host));
}

TEST_SUITE_END();
