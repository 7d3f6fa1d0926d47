// SPDX-License-Identifier: MIT
#include "resolver/io/tcp_listener.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "resolver/io/sockaddr.hpp"
#include "resolver/io/stream_deadlines.hpp"
#include "resolver/wire/stream_framer.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::io {
namespace {

// After stop(), how long a connection with nothing outstanding stays open, so that a query
// already on the wire is still read and answered rather than cut.
constexpr unsigned kDrainSettleMs = 100;
// The answer buffer a connection keeps between writes (larger bursts give theirs back).
constexpr std::size_t kKeepOutBuffer = 256 * 1024;

class TcpListener;

/// One client connection. Owned by the listener's map; replies hold weak pointers.
/// Deadlines as for DoT (StreamDeadlines, no handshake): a message must be complete within
/// request_timeout_ms of its first byte, and idle_timeout_ms runs from the last complete
/// query or answer, never from a byte.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(TcpListener& owner, uv_loop_t* loop, const StreamLimits& limits)
        : owner_(owner), loop_(loop), limits_(limits), framer_(limits.max_message_size),
          deadlines_(limits, uv_now(loop), false) {}

    bool start(uv_stream_t* server);
    void close();
    /// The listener stopped: answer what was received, close once nothing is outstanding.
    void drain();
    [[nodiscard]] bool closing() const { return closing_; }
    [[nodiscard]] bool busy() const { return in_flight_ > 0; }
    [[nodiscard]] const StreamDeadlines& deadlines() const { return deadlines_; }

private:
    struct WriteReq {
        uv_write_t req;
        std::vector<std::uint8_t> bytes;
        std::shared_ptr<Connection> conn; // keeps the connection alive until the write ends
    };

    static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    void dispatch();
    void reply(Reply r);
    void flush();
    void arm_timer();
    void on_timer();
    void maybe_finish();
    [[nodiscard]] std::uint64_t now() const { return uv_now(loop_); }

    TcpListener& owner_;
    uv_loop_t* loop_;
    StreamLimits limits_;
    wire::StreamFramer framer_;
    StreamDeadlines deadlines_;
    IncompleteSince incomplete_;
    util::UvHandle<uv_tcp_t> tcp_;
    util::UvHandle<uv_timer_t> timer_;
    TransportInfo info_;
    std::vector<std::uint8_t> read_buf_ = std::vector<std::uint8_t>(16384);
    // Answers framed but not yet handed to libuv. Answers produced while dispatch() runs
    // (cache hits, fixture zones and errors answer synchronously) go out together in one
    // uv_write when it returns: a client pipelining N queries costs one write, not N.
    std::vector<std::uint8_t> out_;
    unsigned dispatch_depth_ = 0;
    std::size_t in_flight_ = 0;
    bool reading_ = false;
    bool peer_done_ = false;
    bool closing_ = false;
};

class TcpListener final : public Listener {
public:
    TcpListener(QueryHandler& handler, const StreamLimits& limits)
        : handler_(handler), limits_(limits) {}
    ~TcpListener() override {
        for (const auto& c : snapshot()) {
            c->close();
        }
    }

    Status start(uv_loop_t* loop, const util::Url& url, ReusePort reuse_port) {
        loop_ = loop;
        auto addr = to_sockaddr(url.host, url.port_or(53));
        if (!addr) {
            return fail(Errc::ConfigInvalid,
                        "listener " + url.to_string() + ": " + addr.error().detail);
        }
        // With reuse_port the socket is created now, so that SO_REUSEPORT can be set before
        // uv_tcp_bind (libuv 1.44 has no flag for it); AfterBind sets it before listen.
        const bool reuse = reuse_port != ReusePort::Off;
        auto h = util::UvHandle<uv_tcp_t>::create([&](uv_tcp_t* t) {
            return reuse ? uv_tcp_init_ex(loop, t, addr->ss_family) : uv_tcp_init(loop, t);
        });
        if (!h) {
            return h.error();
        }
        server_ = std::move(h).value();
        server_.get()->data = this;
        auto set_reuse_port = [&]() -> int {
            uv_os_fd_t fd = -1;
            const int one = 1;
            if (int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(server_.get()), &fd); rc != 0) {
                return rc;
            }
            return ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 ? 0 : -errno;
        };
        const unsigned flags = addr->ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
        int rc = reuse_port == ReusePort::BeforeBind ? set_reuse_port() : 0;
        if (rc == 0) {
            rc = uv_tcp_bind(server_.get(), reinterpret_cast<const sockaddr*>(&*addr), flags);
        }
        if (rc == 0 && reuse_port == ReusePort::AfterBind) {
            rc = set_reuse_port();
        }
        if (rc == 0) {
            rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_.get()), 256,
                           &TcpListener::on_connection);
        }
        if (rc != 0) {
            return fail(Errc::ConfigInvalid,
                        "listener " + url.to_string() + ": cannot listen: " + uv_strerror(rc));
        }
        sockaddr_storage bound{};
        int len = sizeof bound;
        uv_tcp_getsockname(server_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
        local_ = to_endpoint(reinterpret_cast<const sockaddr*>(&bound));
        url_ = "tcp://" + endpoint_text(local_);
        return ok();
    }

    [[nodiscard]] std::string url() const override { return url_; }
    /// Stops accepting; every connection answers what it received and then closes.
    void stop() override {
        server_.close();
        for (const auto& c : snapshot()) {
            c->drain();
        }
    }
    [[nodiscard]] std::size_t active() const override { return conns_.size(); }

    QueryHandler& handler() { return handler_; }
    const Endpoint& local() const { return local_; }
    void forget(Connection* c) { conns_.erase(c); }

private:
    // A copy to iterate over: closing a connection removes it from conns_.
    [[nodiscard]] std::vector<std::shared_ptr<Connection>> snapshot() const {
        std::vector<std::shared_ptr<Connection>> out;
        out.reserve(conns_.size());
        for (const auto& [raw, conn] : conns_) {
            out.push_back(conn);
        }
        return out;
    }

    static void on_connection(uv_stream_t* server, int status) {
        auto* self = static_cast<TcpListener*>(server->data);
        if (status < 0) {
            return;
        }
        auto conn = std::make_shared<Connection>(*self, self->loop_, self->limits_);
        if (!conn->start(server)) {
            return;
        }
        if (self->conns_.size() >= self->limits_.max_connections && !self->make_room()) {
            conn->close(); // all busy: accept and close at once, so the backlog drains
            return;
        }
        self->conns_.emplace(conn.get(), conn);
    }

    /// At the cap: closes the connection that has made no progress for longest (a message
    /// trickled in, or the oldest idle), so slow clients cannot lock everyone out.
    bool make_room() {
        Connection* victim = stalest_connection(
            conns_, [](const Connection& c) { return !c.closing() && !c.busy(); },
            [](const Connection& c) { return c.deadlines().stale_since(); });
        if (victim == nullptr) {
            return false;
        }
        victim->close();
        return true;
    }

    QueryHandler& handler_;
    StreamLimits limits_;
    uv_loop_t* loop_ = nullptr;
    util::UvHandle<uv_tcp_t> server_;
    Endpoint local_;
    std::string url_;
    std::unordered_map<Connection*, std::shared_ptr<Connection>> conns_;
};

bool Connection::start(uv_stream_t* server) {
    auto* loop = loop_;
    auto h = util::UvHandle<uv_tcp_t>::create([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); });
    if (!h) {
        return false;
    }
    tcp_ = std::move(h).value();
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(tcp_.get())) != 0) {
        return false;
    }
    auto t =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* tm) { return uv_timer_init(loop, tm); });
    if (!t) {
        return false;
    }
    timer_ = std::move(t).value();
    tcp_.get()->data = this;
    timer_.get()->data = this;
    uv_tcp_nodelay(tcp_.get(), 1);
    sockaddr_storage peer{};
    int len = sizeof peer;
    uv_tcp_getpeername(tcp_.get(), reinterpret_cast<sockaddr*>(&peer), &len);
    info_.protocol = net::Transport::Tcp;
    info_.src = to_endpoint(reinterpret_cast<const sockaddr*>(&peer));
    info_.dst = owner_.local();
    info_.listener = owner_.url();
    info_.datagram = false;
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(tcp_.get()), &Connection::on_alloc,
                             &Connection::on_read) == 0;
    arm_timer();
    return reading_;
}

void Connection::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(h->data);
    buf->base = reinterpret_cast<char*>(self->read_buf_.data());
    buf->len = self->read_buf_.size();
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(s->data);
    if (nread == UV_EOF) {
        self->peer_done_ = true; // answer what is in flight, then close (RFC 7766 §6.2.4)
        uv_read_stop(s);
        self->reading_ = false;
        self->maybe_finish();
        return;
    }
    if (nread < 0) {
        self->close();
        return;
    }
    if (nread == 0) {
        return;
    }
    if (!self->framer_.feed(
            {reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(nread)})) {
        self->close(); // zero or oversized length prefix: not a DNS client we can talk to
        return;
    }
    self->dispatch();
}

void Connection::dispatch() {
    auto keep = shared_from_this(); // a synchronous reply may close us
    ++dispatch_depth_;
    std::vector<std::uint8_t> msg;
    bool completed = false;
    while (!closing_ && in_flight_ < limits_.max_in_flight && framer_.next(msg)) {
        ++in_flight_;
        completed = true;
        std::weak_ptr<Connection> weak = keep;
        // handle() reads msg during the call only: its buffer is reused by the next message.
        owner_.handler().handle(msg, TransportInfo(info_), [weak](Reply r) {
            if (auto c = weak.lock()) {
                c->reply(std::move(r));
            }
        });
    }
    --dispatch_depth_;
    if (closing_) {
        return;
    }
    if (dispatch_depth_ == 0) {
        flush();
        if (closing_) {
            return;
        }
    }
    // Bytes left while we still take messages are the start of one not complete yet; over
    // the in-flight cap the wait is ours, not the client's, and no request deadline runs.
    const bool paused = in_flight_ >= limits_.max_in_flight;
    incomplete_.after_read(now(), completed, !paused && framer_.buffered() > 0);
    deadlines_.set_incomplete(incomplete_.get());
    if (completed) {
        deadlines_.progress(now());
    }
    // Back-pressure: stop reading while the in-flight cap is reached.
    if (paused && reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp_.get()));
        reading_ = false;
    }
    arm_timer();
}

void Connection::reply(Reply r) {
    if (in_flight_ > 0) {
        --in_flight_;
    }
    if (closing_) {
        return;
    }
    if (!r.dropped && !r.wire.empty()) {
        // RFC 1035 §4.2.2: two-byte length prefix, then the message.
        out_.push_back(static_cast<std::uint8_t>(r.wire.size() >> 8));
        out_.push_back(static_cast<std::uint8_t>(r.wire.size() & 0xFF));
        out_.insert(out_.end(), r.wire.begin(), r.wire.end());
        if (dispatch_depth_ == 0) {
            flush(); // an asynchronous answer (upstream): nothing to wait for
            if (closing_) {
                return;
            }
        }
    }
    deadlines_.progress(now());
    if (!reading_ && !peer_done_ && in_flight_ < limits_.max_in_flight) {
        reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(tcp_.get()), &Connection::on_alloc,
                                 &Connection::on_read) == 0;
        dispatch(); // messages already buffered while paused
    }
    maybe_finish();
    if (!closing_) {
        arm_timer();
    }
}

void Connection::flush() {
    if (out_.empty() || closing_) {
        return;
    }
    // Straight to the socket when the kernel takes it all (the usual case): no request, and
    // out_ keeps its capacity for the next answers. libuv says UV_EAGAIN while earlier writes
    // are still queued, so the order of bytes is kept.
    auto* stream = reinterpret_cast<uv_stream_t*>(tcp_.get());
    uv_buf_t now =
        uv_buf_init(reinterpret_cast<char*>(out_.data()), static_cast<unsigned>(out_.size()));
    const int taken = uv_try_write(stream, &now, 1);
    if (taken < 0 && taken != UV_EAGAIN) {
        close(); // the peer is gone (EPIPE, ECONNRESET)
        return;
    }
    if (taken > 0 && static_cast<std::size_t>(taken) == out_.size()) {
        out_.clear();
        if (out_.capacity() > kKeepOutBuffer) {
            out_ = {}; // after a burst, keep no more than a typical run of answers
        }
        return;
    }
    auto req = std::make_unique<WriteReq>();
    const std::size_t skip = taken > 0 ? static_cast<std::size_t>(taken) : 0;
    req->bytes.assign(out_.begin() + static_cast<std::ptrdiff_t>(skip), out_.end());
    out_.clear();
    req->conn = shared_from_this();
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(req->bytes.data()),
                             static_cast<unsigned>(req->bytes.size()));
    if (uv_write(&req->req, stream, &b, 1, [](uv_write_t* w, int status) {
            std::unique_ptr<WriteReq> done(reinterpret_cast<WriteReq*>(w));
            if (status < 0) {
                done->conn->close();
            } else {
                done->conn->maybe_finish();
            }
        }) == 0) {
        (void)req.release(); // adopted by the write callback
    } else {
        close();
    }
}

void Connection::maybe_finish() {
    if (peer_done_ && in_flight_ == 0 && out_.empty() && tcp_ &&
        uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(tcp_.get())) == 0) {
        close();
    }
}

void Connection::arm_timer() {
    if (!timer_ || closing_) {
        return;
    }
    const std::uint64_t at = deadlines_.next_check(busy());
    if (at == StreamDeadlines::kNever) {
        uv_timer_stop(timer_.get()); // busy and nothing partial: the answer re-arms it
        return;
    }
    const std::uint64_t t = now();
    uv_timer_start(
        timer_.get(), [](uv_timer_t* h) { static_cast<Connection*>(h->data)->on_timer(); },
        at > t ? at - t : 0, 0);
}

void Connection::on_timer() {
    auto keep = shared_from_this();
    if (deadlines_.expired(now(), busy()) == StreamDeadlines::Expired::None) {
        arm_timer();
        return;
    }
    close(); // a message not finished in time, or idle: DNS over TCP has nothing to say first
}

void Connection::drain() {
    if (closing_) {
        return;
    }
    deadlines_.drain(now(), kDrainSettleMs);
    arm_timer();
}

void Connection::close() {
    if (closing_) {
        return;
    }
    closing_ = true;
    auto keep = shared_from_this();
    tcp_.close();
    timer_.close();
    owner_.forget(this);
}

} // namespace

Result<ListenerPtr> make_tcp_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler,
                                      const StreamLimits& limits, ReusePort reuse_port) {
    auto l = std::make_unique<TcpListener>(handler, limits);
    if (auto st = l->start(loop, url, reuse_port); !st) {
        return st.error();
    }
    return ListenerPtr(std::move(l));
}

} // namespace resolver::io
