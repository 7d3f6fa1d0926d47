// SPDX-License-Identifier: MIT
#include "resolver/upstream/dot_client.hpp"

#include <chrono>
#include <memory>
#include <random>
#include <unordered_map>

#include "resolver/wire/stream_framer.hpp"
#include "resolver/tls/client_connection.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::upstream {
namespace {
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class DotClient final : public Upstream, private tls::ClientConnectionHandler {
public:
    DotClient(uv_loop_t* loop, std::string url, DotOptions opts, util::SslCtx ctx)
        : loop_(loop), url_(std::move(url)), opts_(std::move(opts)), ctx_(std::move(ctx)),
          label_("tls://" + util::Url{"tls", opts_.host, opts_.port, "", {}}.authority()),
          next_id_(static_cast<std::uint16_t>(std::random_device{}())) {}

    ~DotClient() override { shutdown(); }

    Status init() { return start_idle_timer(loop_, this, idle_timer_); }

    void send(std::vector<std::uint8_t> query, Completion done) override;
    [[nodiscard]] const std::string& url() const override { return url_; }
    void shutdown() override;

private:
    struct Pending {
        DotClient* owner = nullptr;
        std::uint16_t wire_id = 0;
        std::uint16_t caller_id = 0;
        Completion done;
        std::vector<std::uint8_t> framed; // kept for the one retry on a fresh connection
        util::UvHandle<uv_timer_t> timer;
        Clock::time_point sent_at;
        bool reused = false; // written on a connection that was already up
        bool retried = false;
    };

    void on_connected() override;
    void on_plaintext(std::span<const std::uint8_t> bytes) override;
    void on_connection_error(Error error) override;

    Status ensure_connection();
    void write(Pending& p);
    void complete(std::uint16_t wire_id, Result<Exchange> result);
    void fail_all(const Error& error);
    void arm_idle();
    static void on_query_timeout(uv_timer_t* timer);
    static void on_idle(uv_timer_t* timer);

    uv_loop_t* loop_;
    std::string url_;
    DotOptions opts_;
    util::SslCtx ctx_;
    std::string label_; // "tls://host:port", the prefix of every error detail
    std::uint16_t next_id_;
    bool shut_down_ = false;
    // Declared before conn_: the connection's callbacks reach these while it is released.
    std::unordered_map<std::uint16_t, std::unique_ptr<Pending>> pending_; // by wire ID
    wire::StreamFramer framer_;
    bool conn_up_ = false;
    util::UvHandle<uv_timer_t> idle_timer_;
    tls::ClientConnectionPtr conn_;
};

void DotClient::send(std::vector<std::uint8_t> query, Completion done) {
    if (auto st = sendable(shut_down_, query, label_); !st) {
        done(st.error());
        return;
    }
    if (pending_.size() >= 65535) {
        done(fail(Errc::UpstreamFailure, label_ + ": 65535 queries in flight on one connection"));
        return;
    }
    if (opts_.pad) {
        query = pad_message(query);
    }
    auto p = std::make_unique<Pending>();
    p->owner = this;
    p->caller_id = static_cast<std::uint16_t>((query[0] << 8) | query[1]);
    // RFC 7858 §3.3: answers may come out of order and are matched by ID, so every ID in
    // flight on the connection must be unique whatever the callers chose.
    while (pending_.contains(next_id_)) {
        ++next_id_;
    }
    p->wire_id = next_id_++;
    query[0] = static_cast<std::uint8_t>(p->wire_id >> 8);
    query[1] = static_cast<std::uint8_t>(p->wire_id & 0xFF);
    p->framed = wire::StreamFramer::frame(query);
    p->done = std::move(done);

    auto timer =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop_, t); });
    if (!timer) {
        p->done(fail(Errc::Internal, label_ + ": " + timer.error().detail));
        return;
    }
    p->timer = std::move(timer).value();
    p->timer.get()->data = p.get();
    uv_timer_start(p->timer.get(), &DotClient::on_query_timeout, opts_.timeout_ms, 0);
    uv_timer_stop(idle_timer_.get());

    if (auto st = ensure_connection(); !st) {
        p->done(st.error());
        return;
    }
    Pending& ref = *p;
    pending_.emplace(p->wire_id, std::move(p));
    write(ref);
}

Status DotClient::ensure_connection() {
    if (conn_) {
        return ok();
    }
    framer_ = wire::StreamFramer{};
    conn_up_ = false;
    auto conn =
        tls::ClientConnection::start(connection_params(loop_, ctx_.get(), opts_, label_), this);
    if (!conn) {
        return conn.error();
    }
    conn_ = std::move(conn).value();
    return ok();
}

void DotClient::write(Pending& p) {
    // Before the handshake the connection buffers the bytes; sent_at is reset on_connected.
    p.reused = conn_up_;
    p.sent_at = Clock::now();
    conn_->write(p.framed);
}

void DotClient::on_connected() {
    conn_up_ = true;
    const auto now = Clock::now();
    for (auto& [id, p] : pending_) {
        if (!p->reused) {
            p->sent_at = now; // query_ms measures the exchange, connect_ms the set-up
        }
    }
}

void DotClient::on_plaintext(std::span<const std::uint8_t> bytes) {
    if (!framer_.feed(bytes)) {
        conn_.reset();
        fail_all(Error{Errc::UpstreamFailure,
                       label_ + ": server sent a bad DNS-over-TLS length prefix"});
        return;
    }
    std::vector<std::uint8_t> msg;
    while (conn_ && framer_.next(msg)) {
        if (msg.size() < 12) {
            continue; // cannot be matched to a query; its query will time out
        }
        const auto id = static_cast<std::uint16_t>((msg[0] << 8) | msg[1]);
        auto it = pending_.find(id);
        if (it == pending_.end()) {
            continue; // late answer to a query that already timed out
        }
        Pending& p = *it->second;
        msg[0] = static_cast<std::uint8_t>(p.caller_id >> 8);
        msg[1] = static_cast<std::uint8_t>(p.caller_id & 0xFF);
        Exchange ex;
        ex.wire = std::move(msg);
        ex.server = conn_->peer();
        ex.connect_ms = p.reused ? 0 : conn_->connect_ms();
        ex.query_ms = ms_since(p.sent_at);
        ex.reused_connection = p.reused;
        msg.clear();
        complete(id, std::move(ex));
    }
}

void DotClient::on_connection_error(Error error) {
    const bool was_up = conn_up_;
    conn_.reset(); // dead already; this only lets it free itself
    conn_up_ = false;
    uv_timer_stop(idle_timer_.get());
    // One retry for queries written on a connection that had been up before them: the server
    // may have closed it as idle while the query was in flight (RFC 7766 §6.2.3).
    std::vector<Pending*> retry;
    if (was_up && error.code == Errc::UpstreamFailure) {
        for (auto& [id, p] : pending_) {
            if (p->reused && !p->retried) {
                retry.push_back(p.get());
            }
        }
    }
    if (!retry.empty() && retry.size() == pending_.size()) {
        if (ensure_connection()) {
            for (Pending* p : retry) {
                p->retried = true;
                write(*p);
            }
            return;
        }
    }
    fail_all(error);
}

void DotClient::complete(std::uint16_t wire_id, Result<Exchange> result) {
    auto it = pending_.find(wire_id);
    if (it == pending_.end()) {
        return;
    }
    std::unique_ptr<Pending> p = std::move(it->second);
    pending_.erase(it);
    p->timer.close();
    arm_idle();
    p->done(std::move(result)); // may re-enter send()
}

void DotClient::fail_all(const Error& error) {
    auto failed = std::move(pending_);
    pending_.clear();
    arm_idle();
    for (auto& [id, p] : failed) {
        p->timer.close();
        p->done(error);
    }
}

void DotClient::arm_idle() {
    if (pending_.empty() && conn_ && idle_timer_) {
        uv_timer_start(idle_timer_.get(), &DotClient::on_idle, opts_.idle_timeout_ms, 0);
    }
}

void DotClient::on_query_timeout(uv_timer_t* timer) {
    auto* p = static_cast<Pending*>(timer->data);
    DotClient* self = p->owner;
    // The connection stays: other queries on it may still be answered (RFC 7766 §6.2.4).
    // Say when the TLS handshake never finished: a stalled server or middlebox, not a slow answer.
    const char* why = self->conn_ && !self->conn_up_ ? " (TLS handshake not finished)" : "";
    self->complete(p->wire_id, fail(Errc::UpstreamTimeout,
                                    self->label_ + ": no answer within " +
                                        std::to_string(self->opts_.timeout_ms) + " ms" + why));
}

void DotClient::on_idle(uv_timer_t* timer) {
    auto* self = static_cast<DotClient*>(timer->data);
    if (self->pending_.empty()) {
        self->conn_.reset(); // RFC 7858 §3.4: clients close idle connections
        self->conn_up_ = false;
    }
}

void DotClient::shutdown() {
    if (shut_down_) {
        return;
    }
    shut_down_ = true;
    conn_.reset();
    conn_up_ = false;
    idle_timer_.close();
    fail_all(Error{Errc::UpstreamFailure, label_ + ": upstream shut down"});
}
} // namespace

std::vector<std::uint8_t> pad_message(std::span<const std::uint8_t> wire, std::size_t block) {
    auto parsed = wire::parse(wire);
    if (!parsed || block == 0) {
        return {wire.begin(), wire.end()};
    }
    wire::Message msg = std::move(*parsed.message);
    if (!msg.edns) {
        msg.edns = wire::Edns{};
    }
    auto& options = msg.edns->options;
    std::erase_if(options,
                  [](const wire::EdnsOption& o) { return o.code == wire::edns_opt::Padding; });
    const std::size_t bare = wire::serialize(msg).size() + 4; // + option code and length
    const std::size_t pad = (block - bare % block) % block;
    options.push_back(
        wire::EdnsOption{wire::edns_opt::Padding, std::string(pad, '\0')}); // RFC 7830 §3: zeros
    return wire::serialize(msg);
}

Result<DotOptions> parse_dot_options(const util::Url& url, const UpstreamOptions& defaults) {
    if (url.scheme != "tls") {
        return fail(Errc::ConfigInvalid, url.to_string() + ": not a tls:// URL");
    }
    DotOptions o;
    if (auto st = read_tls_upstream(url, defaults, 853, "dot", o); !st) {
        return st.error();
    }
    const std::string pad = url.param("pad", "0");
    if (pad != "0" && pad != "1") {
        return fail(Errc::ConfigInvalid, url.to_string() + ": pad= must be 0 or 1");
    }
    o.pad = pad == "1";
    return o;
}

Result<UpstreamPtr> make_dot_upstream(uv_loop_t* loop, const util::Url& url,
                                      const UpstreamOptions& opts) {
    return make_tls_client<DotClient>(loop, url, parse_dot_options(url, opts));
}

} // namespace resolver::upstream
