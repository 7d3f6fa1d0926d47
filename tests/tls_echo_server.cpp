// SPDX-License-Identifier: MIT
// Test-only server for tests/integration/test_dot_doh_listeners.py: starts the DoT and DoH
// listeners on 127.0.0.1:0 with a QueryHandler that answers from fixed data, prints one line
// per listener URL, then "ca <path>" and "ready". Runs until stdin closes or SIGTERM.
//
// Answers: TXT queries get the transport hints ("proto=", "sni=", "host=", "path=", "loc=",
// "auth=", "dst="), so a test can check what the listener recorded; `timeout.test` answers
// Reply::upstream_timeout, `drop.test` is dropped, `slow.test` answers after 300 ms (to show
// out-of-order pipelining), anything else gets A 192.0.2.1 with TTL 300.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <uv.h>

#include "resolver/io/doh_listener.hpp"
#include "resolver/io/dot_listener.hpp"
#include "resolver/tls/server_context.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;

namespace {

std::string txt_rdata(const std::string& s) {
    return std::string(1, static_cast<char>(std::min<std::size_t>(s.size(), 255))) +
           s.substr(0, 255);
}

class EchoHandler final : public io::QueryHandler {
public:
    explicit EchoHandler(uv_loop_t* loop) : loop_(loop) {}

    void handle(std::span<const std::uint8_t> wire, io::TransportInfo&& info,
                io::ReplyFn reply) override {
        auto parsed = wire::parse(wire);
        if (!parsed || parsed.message->question.empty()) {
            reply(io::Reply{{}, true, false, 0});
            return;
        }
        const wire::Message& q = *parsed.message;
        const std::string qname = q.question[0].qname.to_gateway_text();
        if (qname == "timeout.test") {
            reply(io::Reply{{}, false, true, 0});
            return;
        }
        if (qname == "drop.test") {
            reply(io::Reply{{}, true, false, 0});
            return;
        }
        wire::Message r = wire::make_response(q, wire::rcode::NoError);
        r.set_flag(wire::kFlagRa, true);
        if (q.question[0].qtype == wire::rrtype::TXT) {
            std::string rdata;
            rdata += txt_rdata("proto=" + std::string(net::transport_name(info.protocol)));
            rdata += txt_rdata("sni=" + info.sni);
            rdata += txt_rdata("host=" + info.http_host);
            rdata += txt_rdata("path=" + info.http_path);
            rdata += txt_rdata("loc=" + info.http_location);
            rdata += txt_rdata("auth=" + info.http_authorization);
            rdata += txt_rdata("dst=" + info.dst.ip_string() + ":" + std::to_string(info.dst.port));
            rdata += txt_rdata("datagram=" + std::to_string(info.datagram ? 1 : 0));
            r.answer.push_back(
                {q.question[0].qname, wire::rrtype::TXT, wire::rrclass::IN, 60, rdata});
        } else {
            r.answer.push_back({q.question[0].qname, wire::rrtype::A, wire::rrclass::IN, 300,
                                std::string{'\xC0', '\x00', '\x02', '\x01'}});
        }
        io::Reply out{wire::serialize(r), false, false,
                      r.question[0].qtype == wire::rrtype::TXT ? 60U : 300U};
        if (qname != "slow.test") {
            reply(std::move(out));
            return;
        }
        // Answer later from a timer that owns the pending reply.
        struct Pending {
            uv_timer_t timer{};
            io::Reply out;
            io::ReplyFn reply;
        };
        auto* p = new Pending{{}, std::move(out), std::move(reply)};
        uv_timer_init(loop_, &p->timer);
        p->timer.data = p;
        uv_timer_start(
            &p->timer,
            [](uv_timer_t* t) {
                auto* pending = static_cast<Pending*>(t->data);
                pending->reply(std::move(pending->out));
                uv_close(reinterpret_cast<uv_handle_t*>(t),
                         [](uv_handle_t* h) { delete static_cast<Pending*>(h->data); });
            },
            300, 0);
    }

private:
    uv_loop_t* loop_;
};

int die(const std::string& what) {
    std::cerr << "tls_echo_server: " << what << "\n";
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        return die("usage: tls_echo_server STATE_DIR [max_connections]");
    }
    // As in the resolver's main(): libuv writes with write(2), so a peer that closed first (curl
    // after a 413) would otherwise end the process with SIGPIPE (seen in CI: exit -13).
    std::signal(SIGPIPE, SIG_IGN);
    tls::TlsServerConfig cfg;
    cfg.state_dir = argv[1];
    auto ctx = tls::ServerContext::create(cfg);
    if (!ctx) {
        return die(ctx.error().detail);
    }
    uv_loop_t* loop = uv_default_loop();
    EchoHandler handler(loop);
    io::StreamLimits limits;
    limits.idle_timeout_ms = 5000;
    if (argc > 2) {
        limits.max_connections = std::stoul(argv[2]);
    }
    io::DohLimits doh_limits;
    auto dot =
        io::make_dot_listener(loop, *util::parse_url("tls://127.0.0.1:0"), handler, *ctx, limits);
    if (!dot) {
        return die(dot.error().detail);
    }
    auto doh = io::make_doh_listener(loop, *util::parse_url("https://127.0.0.1:0/dns-query"),
                                     handler, *ctx, limits, doh_limits);
    if (!doh) {
        return die(doh.error().detail);
    }
    std::cout << (*dot)->url() << "\n" << (*doh)->url() << "\n";
    std::cout << "ca " << (*ctx)->ca_file() << "\nready" << std::endl;

    // Exit when the test closes our stdin (no orphan if the test dies) or on SIGTERM.
    uv_signal_t sig;
    uv_signal_init(loop, &sig);
    uv_signal_start(
        &sig, [](uv_signal_t* s, int) { uv_stop(s->loop); }, SIGTERM);
    uv_pipe_t in;
    uv_pipe_init(loop, &in, 0);
    uv_pipe_open(&in, 0);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&in),
        [](uv_handle_t*, std::size_t, uv_buf_t* buf) {
            static char b[256]; // NOLINT: test tool
            *buf = uv_buf_init(b, sizeof b);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
            if (n < 0) {
                uv_stop(s->loop);
            }
        });
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
