// SPDX-License-Identifier: MIT
#include "resolver/io/dot_listener.hpp"

#include <algorithm>
#include <array>

#include "resolver/wire/stream_framer.hpp"
#include "resolver/io/tls_stream.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::io {

bool query_requests_padding(std::span<const std::uint8_t> query) {
    // A cheap test first, so that the common query is not parsed twice (the pipeline parses
    // it again): the Padding option needs an OPT record (ARCOUNT > 0) and its code, the bytes
    // 00 0C, somewhere behind the header. Only a query passing both is parsed here.
    constexpr std::size_t kHeader = 12;
    if (query.size() <= kHeader || (query[10] == 0 && query[11] == 0)) {
        return false;
    }
    constexpr std::array<std::uint8_t, 2> kPaddingCode{0x00, 0x0C};
    const auto body = query.subspan(kHeader);
    if (std::search(body.begin(), body.end(), kPaddingCode.begin(), kPaddingCode.end()) ==
        body.end()) {
        return false;
    }
    const auto parsed = wire::parse(query);
    return parsed && parsed.message->edns &&
           parsed.message->edns->find(wire::edns_opt::Padding) != nullptr;
}

std::vector<std::uint8_t> pad_response(std::span<const std::uint8_t> response, std::size_t block) {
    auto parsed = wire::parse(response);
    std::vector<std::uint8_t> original(response.begin(), response.end());
    if (!parsed || block == 0) {
        return original;
    }
    wire::Message msg = std::move(*parsed.message);
    if (!msg.edns) {
        msg.edns.emplace();
    }
    auto& opts = msg.edns->options;
    opts.erase(
        std::remove_if(opts.begin(), opts.end(),
                       [](const wire::EdnsOption& o) { return o.code == wire::edns_opt::Padding; }),
        opts.end());
    // The OPT record sits last and its owner is the root, so adding an option grows the
    // message by exactly 4 + length bytes (RFC 7830 §3); compression is unaffected.
    const std::size_t bare = wire::serialize(msg).size() + 4;
    const std::size_t target = (bare + block - 1) / block * block;
    if (target > 65535) {
        return original;
    }
    opts.push_back(wire::EdnsOption{wire::edns_opt::Padding, std::string(target - bare, '\0')});
    return wire::serialize(msg);
}

namespace {

/// One DoT connection: framing and in-flight accounting.
class DotSession final : public StreamSession {
public:
    DotSession(TlsConnection& conn, QueryHandler& handler, const StreamLimits& limits)
        : conn_(conn), handler_(handler), framer_(limits.max_message_size),
          max_in_flight_(std::max<std::size_t>(1, limits.max_in_flight)) {
        base_.protocol = net::Transport::Tls;
        base_.src = conn.peer().src;
        base_.dst = conn.peer().dst;
        base_.listener = conn.listener_url();
        base_.sni = conn.peer().sni;
        base_.datagram = false;
    }

    bool on_data(std::span<const std::uint8_t> bytes) override {
        if (!framer_.feed(bytes)) {
            return false; // RFC 7858 §3.3 / RFC 7766 §8: a broken length means a broken peer
        }
        return dispatch();
    }

    [[nodiscard]] std::size_t in_flight() const override { return in_flight_; }
    [[nodiscard]] std::optional<std::uint64_t> incomplete_since() const override {
        return incomplete_.get();
    }

private:
    bool dispatch() {
        if (dispatching_) {
            return true; // a synchronous reply inside handle(): the outer loop continues
        }
        dispatching_ = true;
        auto& msg = msg_;
        bool completed = false;
        while (in_flight_ < max_in_flight_ && !conn_.closed() && framer_.next(msg)) {
            if (msg.empty()) {
                dispatching_ = false;
                return false;
            }
            completed = true;
            const bool pad = query_requests_padding(msg);
            ++in_flight_;
            handler_.handle(msg, TransportInfo(base_), // msg is read during the call only
                            [weak = conn_.weak_from_this(), this, pad](Reply reply) {
                                auto conn = weak.lock();
                                if (conn && !conn->closed()) {
                                    on_reply(std::move(reply), pad);
                                }
                            });
        }
        // Over the in-flight cap the rest waits in the framer; stop reading once a full
        // window of maximum-size messages is queued, so a flood cannot grow memory.
        dispatching_ = false;
        if (conn_.closed()) {
            return true;
        }
        // Bytes left while we still take messages are the start of one not complete yet;
        // over the cap the wait is ours, not the client's, and no request deadline runs.
        const bool paused = in_flight_ >= max_in_flight_;
        incomplete_.after_read(conn_.now(), completed, !paused && framer_.buffered() > 0);
        if (completed) {
            conn_.progress();
        }
        conn_.set_reading(framer_.buffered() < max_in_flight_ * 65537);
        return true;
    }

    void on_reply(Reply reply, bool pad) {
        --in_flight_;
        if (!reply.dropped && !reply.wire.empty()) {
            const auto wire = pad ? pad_response(reply.wire) : std::move(reply.wire);
            // RFC 7858 §3.3 / RFC 7766 §8: the two-byte length, then the message; send()
            // joins them (and the other answers of this read) without a framed copy.
            const std::array<std::uint8_t, 2> length{static_cast<std::uint8_t>(wire.size() >> 8),
                                                     static_cast<std::uint8_t>(wire.size())};
            conn_.send(length, wire);
            // The last answer this read can produce (a lone query, or the end of a burst):
            // out now, before the pipeline finishes the query, so that a client waiting for
            // it does not wait for that too. Answers with more queries behind them wait and
            // leave together at the end of the read.
            if (framer_.buffered() == 0 && !conn_.input_pending()) {
                conn_.push();
            }
        }
        if (!dispatch()) {
            conn_.close();
            return;
        }
        conn_.progress();
    }

    TlsConnection& conn_;
    QueryHandler& handler_;
    wire::StreamFramer framer_;
    std::vector<std::uint8_t> msg_; // the message being handed over, reused for each
    TransportInfo base_;
    std::size_t max_in_flight_;
    IncompleteSince incomplete_;
    std::size_t in_flight_ = 0;
    bool dispatching_ = false;
};

} // namespace

Result<ListenerPtr> make_dot_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, HandshakeGate* gate) {
    if (url.scheme != "tls") {
        return fail(Errc::ConfigInvalid, "DoT listener needs a tls:// URL: " + url.to_string());
    }
    auto server = TlsStreamServer::create(
        loop, url, std::move(ctx), &tls::kAlpnDot, limits,
        [&handler, limits](TlsConnection& conn) -> std::unique_ptr<StreamSession> {
            return std::make_unique<DotSession>(conn, handler, limits);
        },
        gate);
    if (!server) {
        return server.error();
    }
    return ListenerPtr(std::move(server).value());
}

} // namespace resolver::io
