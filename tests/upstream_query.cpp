// SPDX-License-Identifier: MIT
// Test driver for the DoT and DoH upstream clients, used by tests/integration/test_upstream_tls.py:
//   upstream_query URL QNAME QTYPE [--repeat N] [--parallel N] [--step] [--id N]
// Sends the question N times through make_dot_upstream / make_doh_upstream (sequentially, or
// N at once with --parallel), printing one "OK ..." or "ERROR ..." line per query, followed by
// "ANSWER ..." and "BODY ..." lines and a "DONE" line. --step waits for a line on stdin
// before every query after the first, so a test can kill or restart the server in between.
// Exit code 0 when every query succeeded, 1 otherwise, 2 on usage errors.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <uv.h>

#include "resolver/upstream/doh_client.hpp"
#include "resolver/upstream/dot_client.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;

namespace {
const char* errc_name(Errc c) {
    switch (c) {
    case Errc::MalformedQuery:
        return "MalformedQuery";
    case Errc::UnsupportedQuery:
        return "UnsupportedQuery";
    case Errc::UpstreamTimeout:
        return "UpstreamTimeout";
    case Errc::UpstreamFailure:
        return "UpstreamFailure";
    case Errc::ConfigInvalid:
        return "ConfigInvalid";
    case Errc::Overloaded:
        return "Overloaded";
    case Errc::Internal:
        return "Internal";
    }
    return "?";
}

std::string hex(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 0xF];
    }
    return out;
}

struct Driver {
    upstream::Upstream* up = nullptr;
    std::vector<std::uint8_t> query;
    std::uint16_t id = 0;
    int remaining = 1;
    int in_flight = 0;
    bool step = false;
    bool first = true;
    int failures = 0;
    int lines_ready = 0; // --step: lines read from stdin and not yet used
    bool stdin_open = false;

    // --step reads stdin through libuv, so the loop (idle timers, EOF from a killed server)
    // keeps running while the test prepares the next step.
    static void on_stdin(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* d = static_cast<Driver*>(stream->data);
        if (nread < 0) {
            d->stdin_open = false;
            uv_close(reinterpret_cast<uv_handle_t*>(stream), nullptr);
        } else {
            for (ssize_t i = 0; i < nread; ++i) {
                d->lines_ready += buf->base[i] == '\n' ? 1 : 0;
            }
        }
        delete[] buf->base;
        if (d->in_flight == 0) {
            d->send_one();
        }
    }

    void report(Result<upstream::Exchange> r) {
        if (!r) {
            ++failures;
            std::printf("ERROR code=%s detail=%s\n", errc_name(r.error().code),
                        r.error().detail.c_str());
            std::printf("DONE\n");
            std::fflush(stdout);
            return;
        }
        const auto& ex = *r;
        std::string rcode = "-";
        std::size_t answers = 0;
        std::vector<std::string> lines;
        if (!ex.wire.empty()) {
            auto parsed = wire::parse(ex.wire);
            if (!parsed) {
                ++failures;
                std::printf("ERROR code=Parse detail=%s\n", parsed.failure.reason.c_str());
                std::printf("DONE\n");
                std::fflush(stdout);
                return;
            }
            const auto& m = *parsed.message;
            if (m.id != id) {
                ++failures;
                std::printf("ERROR code=IdMismatch detail=sent %u got %u\n", id, m.id);
            }
            rcode = wire::rcode_name(m.rcode());
            answers = m.answer.size();
            for (const auto& rr : m.answer) {
                std::string data = wire::address_text(rr);
                lines.push_back("ANSWER " + rr.name.to_text() + " " + std::to_string(rr.ttl) + " " +
                                wire::type_name(rr.type) + " " +
                                (data.empty() ? hex(rr.rdata) : data));
            }
        }
        std::printf("OK rcode=%s answers=%zu status=%d ctype=%s connect_ms=%.3f query_ms=%.3f "
                    "reused=%d server=%s\n",
                    rcode.c_str(), answers, ex.http_status,
                    ex.content_type.empty() ? "-" : ex.content_type.c_str(), ex.connect_ms,
                    ex.query_ms, ex.reused_connection ? 1 : 0, ex.server.c_str());
        for (const auto& l : lines) {
            std::printf("%s\n", l.c_str());
        }
        if (!ex.body.empty()) {
            std::string body = ex.body;
            for (char& c : body) {
                if (c == '\n' || c == '\r') {
                    c = ' ';
                }
            }
            std::printf("BODY %s\n", body.c_str());
        }
        std::printf("DONE\n");
        std::fflush(stdout);
    }

    void send_one() {
        if (remaining == 0) {
            return;
        }
        if (step && !first && lines_ready == 0) {
            return; // on_stdin sends when the test writes a line
        }
        if (step && !first) {
            --lines_ready;
        }
        first = false;
        --remaining;
        ++in_flight;
        up->send(query, [this](Result<upstream::Exchange> r) {
            --in_flight;
            report(std::move(r));
            send_one();
        });
    }
};
} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr,
                     "usage: %s URL QNAME QTYPE [--repeat N] [--parallel N] [--step] [--id N]\n",
                     argv[0]);
        return 2;
    }
    int repeat = 1;
    int parallel = 1;
    bool step = false;
    long id = -1;
    for (int i = 4; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc) {
            repeat = std::atoi(argv[++i]);
        } else if (a == "--parallel" && i + 1 < argc) {
            parallel = std::atoi(argv[++i]);
        } else if (a == "--id" && i + 1 < argc) {
            id = std::atol(argv[++i]);
        } else if (a == "--step") {
            step = true;
        } else {
            std::fprintf(stderr, "unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    auto url = util::parse_url(argv[1]);
    if (!url) {
        std::fprintf(stderr, "%s\n", url.error().detail.c_str());
        return 2;
    }
    auto qname = wire::Name::from_text(argv[2]);
    auto qtype = wire::type_from_name(argv[3]);
    if (!qname || !qtype) {
        std::fprintf(stderr, "bad name or type\n");
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN); // a killed server is an error value, not a signal (as in main())
    uv_loop_t loop;
    uv_loop_init(&loop);
    upstream::UpstreamOptions opts;
    auto up = url->scheme == "tls" ? upstream::make_dot_upstream(&loop, *url, opts)
                                   : upstream::make_doh_upstream(&loop, *url, opts);
    if (!up) {
        std::printf("ERROR code=%s detail=%s\nDONE\n", errc_name(up.error().code),
                    up.error().detail.c_str());
        return 1;
    }
    Driver d;
    d.up = up->get();
    d.id = id >= 0 ? static_cast<std::uint16_t>(id)
                   : static_cast<std::uint16_t>(std::random_device{}());
    wire::Message q;
    q.id = d.id;
    q.set_flag(wire::kFlagRd, true);
    q.question.push_back(wire::Question{*qname, *qtype, wire::rrclass::IN});
    q.edns = wire::Edns{};
    d.query = wire::serialize(q);
    d.remaining = repeat;
    d.step = step;
    uv_pipe_t in{};
    if (step) {
        uv_pipe_init(&loop, &in, 0);
        in.data = &d;
        if (uv_pipe_open(&in, 0) != 0) {
            std::fprintf(stderr, "--step needs stdin to be a pipe\n");
            return 2;
        }
        d.stdin_open = true;
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&in),
            [](uv_handle_t*, std::size_t size, uv_buf_t* buf) {
                *buf = uv_buf_init(new char[size], static_cast<unsigned>(size));
            },
            &Driver::on_stdin);
    }
    if (parallel > 1) {
        for (int i = 0; i < parallel && d.remaining > 0; ++i) {
            --d.remaining;
            ++d.in_flight;
            d.up->send(d.query, [&d](Result<upstream::Exchange> r) {
                --d.in_flight;
                d.report(std::move(r));
            });
        }
    } else {
        d.send_one();
    }
    // Run until every query finished (sequential sends chain from the completions).
    while (d.in_flight > 0 || (d.stdin_open && d.remaining > 0)) {
        if (uv_run(&loop, UV_RUN_ONCE) == 0 && d.in_flight > 0) {
            std::printf("ERROR code=Hang detail=loop ran dry with %d queries in flight\nDONE\n",
                        d.in_flight);
            return 1;
        }
    }
    if (d.stdin_open) {
        uv_close(reinterpret_cast<uv_handle_t*>(&in), nullptr);
    }
    up->get()->shutdown();
    up->reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    const int rc = uv_loop_close(&loop);
    if (rc != 0) {
        std::fprintf(stderr, "uv_loop_close: %s (handle leak)\n", uv_strerror(rc));
        return 1;
    }
    return d.failures == 0 ? 0 : 1;
}
