// SPDX-License-Identifier: MIT
// The UDP listener's SendSocket (resolver/io/send_socket.hpp): answers leave from a second,
// connected socket on the listener's own address and port. What must hold: a sealed sender
// receives no client's datagram, answers still come from the listener's endpoint, a group of
// worker sockets is still spread evenly, and nothing that reached a sender before it was
// sealed is lost. Real loopback sockets, kernel-picked ports.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <uv.h>

#include "resolver/io/send_socket.hpp"
#include "resolver/io/udp_listener.hpp"
#include "resolver/util/url.hpp"
#include "tests/unit/io/socket_address.hpp"

using resolver::io::SendSocket;

namespace {

/// A UDP socket closed on every exit path.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

socklen_t length_of(const sockaddr_storage& ss) {
    return ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

sockaddr_storage local_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    return ss;
}

void set_reuse_port(int fd) {
    const int one = 1;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0);
}

/// A listening socket as a worker's: `first` binds `at` and then sets SO_REUSEPORT (the
/// listener's rule), the others set it before binding to join.
std::unique_ptr<Fd> listening(const sockaddr_storage& at, bool first) {
    auto s = std::make_unique<Fd>(::socket(at.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    REQUIRE(s->fd >= 0);
    if (!first) {
        set_reuse_port(s->fd);
    }
    REQUIRE(::bind(s->fd, reinterpret_cast<const sockaddr*>(&at), length_of(at)) == 0);
    if (first) {
        set_reuse_port(s->fd);
    }
    return s;
}

SendSocket sender_for(int listening_fd) {
    const auto at = local_of(listening_fd);
    auto s = SendSocket::open(reinterpret_cast<const sockaddr*>(&at), length_of(at));
    REQUIRE_MESSAGE(s.has_value(), s.error().detail);
    return std::move(s).value();
}

/// Datagrams waiting on `fd`, read until none is left.
int drain(int fd) {
    int n = 0;
    char buf[512];
    while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
        ++n;
    }
    return n;
}

/// One datagram to `to` from a fresh socket (a fresh source port: the kernel's reuseport
/// hash sees a new client each time).
void send_from_fresh_port(const sockaddr_storage& to) {
    Fd c(::socket(to.ss_family, SOCK_DGRAM, 0));
    REQUIRE(c.fd >= 0);
    const std::uint8_t query[12] = {0x12, 0x34, 0x01, 0x00};
    REQUIRE(::sendto(c.fd, query, sizeof query, 0, reinterpret_cast<const sockaddr*>(&to),
                     length_of(to)) == static_cast<ssize_t>(sizeof query));
}

bool ipv6_loopback_available() {
    Fd s(::socket(AF_INET6, SOCK_DGRAM, 0));
    const auto at = io_test::socket_address("::1", 0);
    return s.fd >= 0 && ::bind(s.fd, io_test::as_sockaddr(at), length_of(at)) == 0;
}

/// Answers every query at once by setting QR (what the listener does with the bytes is
/// under test, not the pipeline).
class EchoHandler final : public resolver::io::QueryHandler {
public:
    void handle(std::span<const std::uint8_t> wire, resolver::io::TransportInfo&&,
                resolver::io::ReplyFn reply) override {
        ++handled;
        resolver::io::Reply r;
        r.wire.assign(wire.begin(), wire.end());
        r.wire[2] |= 0x80;
        reply(std::move(r));
    }
    int handled = 0;
};

struct Loop {
    uv_loop_t loop{};
    Loop() { REQUIRE(uv_loop_init(&loop) == 0); }
    ~Loop() {
        uv_walk(
            &loop,
            [](uv_handle_t* h, void*) {
                if (!uv_is_closing(h)) {
                    uv_close(h, nullptr);
                }
            },
            nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    /// Turns the loop until `done()` or two seconds pass.
    template <typename Done>
    void run_until(Done done) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!done() && std::chrono::steady_clock::now() < until) {
            uv_run(&loop, UV_RUN_NOWAIT);
            ::usleep(1000);
        }
    }
};

sockaddr_storage endpoint_of(const resolver::io::UdpListener& l) {
    const auto url = resolver::util::parse_url(l.url());
    REQUIRE(url.has_value());
    std::string host = url->host;
    if (!host.empty() && host.front() == '[') {
        host = host.substr(1, host.size() - 2);
    }
    return io_test::socket_address(host, url->port_or(53));
}

/// A listener on 127.0.0.1 (kernel-picked port) as a single worker has it: sealed at start.
std::unique_ptr<resolver::io::UdpListener> lone_listener(Loop& loop,
                                                         resolver::io::QueryHandler& handler) {
    auto url = resolver::util::parse_url("udp://127.0.0.1:0");
    REQUIRE(url.has_value());
    auto l = resolver::io::make_udp_listener(&loop.loop, *url, handler);
    REQUIRE(l.has_value());
    return std::move(l).value();
}

} // namespace

TEST_SUITE_BEGIN("io.send_socket");

TEST_CASE("a sealed sender receives nothing; what it sends comes from the listener's endpoint") {
    std::vector<std::string> hosts{"127.0.0.1"};
    if (ipv6_loopback_available()) {
        hosts.emplace_back("::1");
    }
    for (const auto& host : hosts) {
        CAPTURE(host);
        auto l = listening(io_test::socket_address(host, 0), true);
        auto s = sender_for(l->fd);
        REQUIRE(s.seal());
        CHECK(s.sealed());
        const auto at = local_of(l->fd);
        for (int i = 0; i < 200; ++i) {
            send_from_fresh_port(at);
        }
        CHECK(drain(s.fd()) == 0);
        CHECK(drain(l->fd) == 200);

        // A connected client accepts only datagrams from the endpoint it asked (connect(2)):
        // an answer from the sender reaching it is an answer from the listener's endpoint.
        Fd client(::socket(at.ss_family, SOCK_DGRAM, 0));
        REQUIRE(::connect(client.fd, io_test::as_sockaddr(at), length_of(at)) == 0);
        const auto client_at = local_of(client.fd);
        const char answer[] = "answer";
        REQUIRE(::sendto(s.fd(), answer, sizeof answer, 0, io_test::as_sockaddr(client_at),
                         length_of(client_at)) == static_cast<ssize_t>(sizeof answer));
        char got[16] = {};
        timeval tv{2, 0};
        REQUIRE(::setsockopt(client.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
        CHECK(::recv(client.fd, got, sizeof got, 0) == static_cast<ssize_t>(sizeof answer));
        CHECK(std::string(got) == "answer");
    }
}

TEST_CASE("worker sockets with senders sealed after all joined: spread evenly, none to a sender") {
    // The order of the worker loops: listener 0, its sender, listener 1, its sender; sealed
    // once all are bound (SendSocket explains why both halves of that order matter).
    auto l0 = listening(io_test::socket_address("127.0.0.1", 0), true);
    auto s0 = sender_for(l0->fd);
    const auto at = local_of(l0->fd);
    auto l1 = listening(at, false);
    auto s1 = sender_for(l1->fd);
    REQUIRE(s0.seal());
    REQUIRE(s1.seal());
    constexpr int kDatagrams = 400;
    for (int i = 0; i < kDatagrams; ++i) {
        send_from_fresh_port(at);
    }
    CHECK(drain(s0.fd()) == 0);
    CHECK(drain(s1.fd()) == 0);
    const int to0 = drain(l0->fd);
    const int to1 = drain(l1->fd);
    CHECK(to0 + to1 == kDatagrams);
    // Binomial(400, 1/2): 120..280 is eight standard deviations wide; the uneven orders this
    // guards against send all of them, or three in four, to one socket.
    CHECK(to0 > 120);
    CHECK(to1 > 120);
}

TEST_CASE("a sender cannot share a port whose listening socket lacks SO_REUSEPORT") {
    Fd l(::socket(AF_INET, SOCK_DGRAM, 0));
    const auto any = io_test::socket_address("127.0.0.1", 0);
    REQUIRE(::bind(l.fd, io_test::as_sockaddr(any), length_of(any)) == 0);
    const auto at = local_of(l.fd);
    auto s = SendSocket::open(io_test::as_sockaddr(at), length_of(at));
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().detail.find("bind") != std::string::npos);
}

TEST_CASE("a lone listener answers from its endpoint through its sender") {
    Loop loop;
    EchoHandler handler;
    auto l = lone_listener(loop, handler);
    CHECK(l->sender_problem().empty());
    const auto at = endpoint_of(*l);
    Fd client(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    REQUIRE(::connect(client.fd, io_test::as_sockaddr(at), length_of(at)) == 0);
    const std::uint8_t query[12] = {0xab, 0xcd, 0x01, 0x00};
    int answers = 0;
    for (int i = 0; i < 50; ++i) {
        REQUIRE(::send(client.fd, query, sizeof query, 0) == static_cast<ssize_t>(sizeof query));
        loop.run_until([&] {
            std::uint8_t got[64];
            const ssize_t n = ::recv(client.fd, got, sizeof got, 0);
            if (n == 12 && got[0] == 0xab && (got[2] & 0x80) != 0) {
                ++answers;
                return true;
            }
            return false;
        });
    }
    CHECK(answers == 50);
    CHECK(handler.handled == 50);
}

TEST_CASE("worker listeners lose nothing that reached a sender before it was sealed") {
    Loop loop;
    EchoHandler handler;
    auto url = resolver::util::parse_url("udp://127.0.0.1:0");
    REQUIRE(url.has_value());
    resolver::io::UdpOptions first;
    first.reuse_port = resolver::io::ReusePort::AfterBind;
    auto l0 = resolver::io::make_udp_listener(&loop.loop, *url, handler, first);
    REQUIRE(l0.has_value());
    auto same = resolver::util::parse_url((*l0)->url());
    REQUIRE(same.has_value());
    resolver::io::UdpOptions other;
    other.reuse_port = resolver::io::ReusePort::BeforeBind;
    auto l1 = resolver::io::make_udp_listener(&loop.loop, *same, handler, other);
    REQUIRE(l1.has_value());
    const auto at = endpoint_of(**l0);

    // Before the senders are sealed they are members of the group like the listeners: with
    // four sockets sharing 200 fresh sources, some of these reach a sender.
    std::vector<std::unique_ptr<Fd>> clients;
    const std::uint8_t query[12] = {0x55, 0x66, 0x01, 0x00};
    for (int i = 0; i < 200; ++i) {
        clients.push_back(std::make_unique<Fd>(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)));
        REQUIRE(::connect(clients.back()->fd, io_test::as_sockaddr(at), length_of(at)) == 0);
        REQUIRE(::send(clients.back()->fd, query, sizeof query, 0) ==
                static_cast<ssize_t>(sizeof query));
    }
    (*l0)->seal_sender(); // as the server does once every worker's sockets are bound
    (*l1)->seal_sender();
    int answered = 0;
    loop.run_until([&] {
        for (auto& c : clients) {
            std::uint8_t got[64];
            if (c->fd >= 0 && ::recv(c->fd, got, sizeof got, 0) == 12 && (got[2] & 0x80) != 0) {
                ++answered;
                ::close(c->fd);
                c->fd = -1;
            }
        }
        return answered == 200;
    });
    CHECK(answered == 200);
    CHECK(handler.handled == 200);
    const auto to0 = (*l0)->udp_counters().received;
    const auto to1 = (*l1)->udp_counters().received;
    CHECK(to0 + to1 == 200);
    // Each listener read its own share and its sender's: about 100 each. Senders sealed as
    // they were opened would leave the first listener none (Linux 6.18) or far less.
    CHECK(to0 > 50);
    CHECK(to1 > 50);
    CHECK((*l0)->sender_problem().empty());
    CHECK((*l1)->sender_problem().empty());
}

TEST_CASE("a datagram from the listener's own endpoint reaching the sender is dropped, counted") {
    Loop loop;
    EchoHandler handler;
    auto l = lone_listener(loop, handler);
    const auto at = endpoint_of(*l);
    // Only a socket of the same user with SO_REUSEPORT can send from that endpoint (a raw
    // socket could spoof it too): the kernel delivers to the sender, connected to exactly
    // that 4-tuple. Answering would answer ourselves.
    Fd own(::socket(AF_INET, SOCK_DGRAM, 0));
    set_reuse_port(own.fd);
    REQUIRE(::bind(own.fd, io_test::as_sockaddr(at), length_of(at)) == 0);
    const std::uint8_t query[12] = {0x01, 0x02, 0x01, 0x00};
    REQUIRE(::sendto(own.fd, query, sizeof query, 0, io_test::as_sockaddr(at), length_of(at)) ==
            static_cast<ssize_t>(sizeof query));
    loop.run_until([&] { return l->udp_counters().own_address == 1; });
    CHECK(l->udp_counters().own_address == 1);
    CHECK(handler.handled == 0);
    CHECK(drain(own.fd) == 0); // nothing came back
}

TEST_SUITE_END();
