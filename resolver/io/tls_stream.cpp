// SPDX-License-Identifier: MIT
#include "resolver/io/tls_stream.hpp"

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/io/sockaddr.hpp"

namespace resolver::io {
namespace {

constexpr std::size_t kReadBuffer = 64 * 1024;
// Plaintext collected during one read is sealed once it fills a TLS record (2^14 bytes,
// RFC 8446 §5.1), so a long run of answers leaves as full records.
constexpr std::size_t kRecordPlaintext = 16 * 1024;
// The reused ciphertext buffer is given back after a burst larger than this, so a
// connection keeps no more than a typical run of answers.
constexpr std::size_t kKeepCipherBuffer = 256 * 1024;
// Stop reading from a peer that does not read its answers; resume once it caught up.
constexpr std::size_t kWriteHighWater = 4 * 1024 * 1024;
constexpr std::size_t kWriteLowWater = 1024 * 1024;
// After our FIN, how long we keep draining a peer that is still sending before we reset;
// also the bound on flushing the last answers of a closing connection.
constexpr std::uint64_t kLingerMs = 2000;
// After stop(), how long a connection with nothing outstanding stays open, so that a request
// already on the wire is still read and answered rather than cut.
constexpr unsigned kDrainSettleMs = 100;

} // namespace

struct TlsConnection::WriteReq {
    uv_write_t req{};
    std::vector<char> data;
    std::weak_ptr<TlsConnection> conn;
};

TlsConnection::TlsConnection(TlsStreamServer& server, util::Ssl ssl, util::UvHandle<uv_tcp_t> tcp)
    : server_(&server), loop_(server.loop_), ssl_(std::move(ssl)), gate_(server.gate_),
      listener_url_(server.url()), deadlines_(server.limits(), uv_now(server.loop_), true),
      tcp_(std::move(tcp)) {}

TlsConnection::~TlsConnection() = default;

std::uint64_t TlsConnection::now() const noexcept {
    return uv_now(loop_);
}

void TlsConnection::timer_cb(uv_timer_t* t) {
    static_cast<TlsConnection*>(t->data)->on_timer();
}

bool TlsConnection::start() {
    auto timer = util::UvHandle<uv_timer_t>::create(
        [&](uv_timer_t* t) { return uv_timer_init(tcp_.get()->loop, t); });
    if (!timer) {
        return false;
    }
    timer_ = std::move(timer.value());
    timer_.get()->data = this;
    tcp_.get()->data = this;

    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    if (rbio_ == nullptr || wbio_ == nullptr) {
        BIO_free(rbio_);
        BIO_free(wbio_);
        return false;
    }
    // A drained memory BIO must read as "retry later", not EOF.
    BIO_set_mem_eof_return(rbio_, -1);
    SSL_set_bio(ssl_.get(), rbio_, wbio_); // ssl_ owns both from here
    SSL_set_accept_state(ssl_.get());
    if (gate_ != nullptr) {
        tls::set_client_hello_callback(ssl_.get(), this);
    }

    sockaddr_storage sa{};
    int len = sizeof sa;
    if (uv_tcp_getpeername(tcp_.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
        peer_.src = to_endpoint(reinterpret_cast<const sockaddr*>(&sa));
    }
    len = sizeof sa;
    if (uv_tcp_getsockname(tcp_.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
        peer_.dst = to_endpoint(reinterpret_cast<const sockaddr*>(&sa));
    }
    uv_tcp_nodelay(tcp_.get(), 1);
    arm_timer();
    update_reading();
    return reading_;
}

tls::HelloVerdict TlsConnection::on_client_hello(std::string_view sni) {
    gate_action_ = gate_ != nullptr ? gate_->on_client_hello(sni) : HandshakeAction::Proceed;
    switch (gate_action_) {
    case HandshakeAction::Proceed:
        return tls::HelloVerdict::Continue;
    case HandshakeAction::Alert:
        return tls::HelloVerdict::Alert;
    case HandshakeAction::Close:
    case HandshakeAction::Stall:
        break;
    }
    return tls::HelloVerdict::Pause; // advance_handshake() closes or goes silent
}

void TlsConnection::update_reading() {
    // While closing we keep reading (and discarding) so that unread request bytes do not turn
    // our close into a TCP RST that destroys the answer before the client read it.
    const bool want = !closed_ && (closing_ || (want_reading_ && !write_blocked_));
    if (want == reading_ || !tcp_) {
        return;
    }
    auto* stream = reinterpret_cast<uv_stream_t*>(tcp_.get());
    if (!want) {
        uv_read_stop(stream);
        reading_ = false;
        return;
    }
    const int rc = uv_read_start(
        stream,
        [](uv_handle_t* h, std::size_t /*suggested*/, uv_buf_t* buf) {
            auto* self = static_cast<TlsConnection*>(h->data);
            self->read_buf_.resize(kReadBuffer);
            *buf = uv_buf_init(self->read_buf_.data(), static_cast<unsigned>(kReadBuffer));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
            static_cast<TlsConnection*>(s->data)->on_read(nread, buf);
        });
    reading_ = rc == 0;
}

void TlsConnection::set_reading(bool on) {
    want_reading_ = on;
    update_reading();
}

void TlsConnection::progress() {
    if (closed_) {
        return;
    }
    deadlines_.progress(now());
    if (in_read_) {
        return; // on_read() reads incomplete_since() and re-arms the timer once for the read
    }
    if (session_) {
        deadlines_.set_incomplete(session_->incomplete_since());
    }
    arm_timer();
}

bool TlsConnection::busy() const {
    return session_ && session_->in_flight() > 0;
}

void TlsConnection::arm_timer() {
    if (!timer_ || closed_ || closing_) {
        return; // a closing connection runs the flush/linger timer instead
    }
    const std::uint64_t at = deadlines_.next_check(busy());
    if (at == StreamDeadlines::kNever) {
        uv_timer_stop(timer_.get()); // busy and nothing partial: the answer re-arms it
        return;
    }
    const std::uint64_t t = now();
    uv_timer_start(timer_.get(), &timer_cb, at > t ? at - t : 0, 0);
}

void TlsConnection::on_timer() {
    auto self = shared_from_this();
    if (closing_) {
        close(); // the flush or linger period is over
        return;
    }
    switch (deadlines_.expired(now(), busy())) {
    case StreamDeadlines::Expired::None:
        arm_timer();
        return;
    case StreamDeadlines::Expired::Handshake:
        close(); // nothing to say to a peer that never finished its ClientHello
        return;
    case StreamDeadlines::Expired::Request:
        if (session_) {
            session_->on_request_timeout();
        }
        close_after_flush();
        return;
    case StreamDeadlines::Expired::Idle:
        if (session_) {
            session_->on_goodbye();
        }
        close_after_flush();
        return;
    }
}

void TlsConnection::drain() {
    if (closed_ || closing_ || draining_) {
        return;
    }
    draining_ = true;
    if (stalled_) {
        close(); // a stalled handshake will never carry a request
        return;
    }
    deadlines_.drain(now(), kDrainSettleMs);
    if (session_) {
        session_->on_drain(); // a handshake in progress gets it once it completes
    }
    arm_timer();
}

void TlsConnection::evict() {
    auto self = shared_from_this();
    if (!closing_ && handshake_done_) {
        if (session_) {
            session_->on_goodbye();
        }
        (void)seal();             // anything collected goes before close_notify
        SSL_shutdown(ssl_.get()); // best effort: written now if the socket takes it
        ERR_clear_error();
        flush();
    }
    close(); // the slot is needed now, not after a linger
}

void TlsConnection::on_read(ssize_t nread, const uv_buf_t* buf) {
    auto self = shared_from_this();
    if (nread < 0) {
        close(); // EOF or reset; nothing more to say to this peer
        return;
    }
    if (nread == 0 || closed_ || closing_ || stalled_) {
        return; // closing: discard until the peer's EOF or the linger timer
    }
    if (BIO_write(rbio_, buf->base, static_cast<int>(nread)) != nread) {
        close();
        return;
    }
    // No deadline moves here: bytes that complete nothing must not keep a connection open.
    if (!handshake_done_) {
        const bool ok = advance_handshake();
        flush(); // the handshake reply, or the alert that explains the failure
        if (!ok) {
            close();
            return;
        }
        if (!handshake_done_ || closed_) {
            return;
        }
    }
    // Answers produced while the session handles these bytes (cache hits, local answers)
    // are collected by send() and leave together below: one SSL_write, one socket write.
    in_read_ = true;
    const bool ok = read_plaintext();
    in_read_ = false;
    flush();
    if (!ok) {
        close();
        return;
    }
    if (!closed_) {
        deadlines_.set_incomplete(session_->incomplete_since());
        arm_timer();
    }
}

bool TlsConnection::advance_handshake() {
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc != 1) {
        const int err = SSL_get_error(ssl_.get(), rc);
        ERR_clear_error(); // per-connection failures must not leak into other connections
        if (err == SSL_ERROR_WANT_CLIENT_HELLO_CB) {
            // The handshake gate paused the handshake after the ClientHello.
            stalled_ = gate_action_ == HandshakeAction::Stall;
            return stalled_; // Close: no answer at all, the caller closes
        }
        return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
    }
    handshake_done_ = true;
    if (server_ != nullptr) {
        ++server_->counters_.tls_handshakes;
    }
    if (const char* sni = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name)) {
        peer_.sni = sni;
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &alpn, &alpn_len);
    peer_.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    if (server_ == nullptr) {
        return false;
    }
    deadlines_.handshake_done(now());
    session_ = server_->factory_(*this);
    if (session_ == nullptr) {
        return false;
    }
    if (draining_) {
        session_->on_drain();
    }
    arm_timer();
    return true;
}

bool TlsConnection::read_plaintext() {
    char buf[16384];
    while (!closed_ && !closing_) {
        const int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n > 0) {
            if (!session_->on_data(
                    {reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(n)})) {
                return false;
            }
            continue;
        }
        const int err = SSL_get_error(ssl_.get(), n);
        ERR_clear_error();
        if (err == SSL_ERROR_WANT_READ) {
            return true;
        }
        if (err == SSL_ERROR_ZERO_RETURN) { // peer's close_notify: answer with ours
            close_after_flush();
            return true;
        }
        return false;
    }
    return true;
}

void TlsConnection::send(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body) {
    if (closed_ || closing_ || !handshake_done_ || (head.empty() && body.empty())) {
        return;
    }
    plain_out_.insert(plain_out_.end(), head.begin(), head.end());
    plain_out_.insert(plain_out_.end(), body.begin(), body.end());
    if (in_read_ && plain_out_.size() < kRecordPlaintext) {
        return; // on_read() flushes once the read is handled
    }
    flush(); // an answer from outside a read (upstream) leaves at once, as does a full record
}

void TlsConnection::push() {
    if (!plain_out_.empty()) {
        flush();
    }
}

bool TlsConnection::input_pending() const {
    return !closed_ && (BIO_ctrl_pending(rbio_) > 0 || SSL_pending(ssl_.get()) > 0);
}

bool TlsConnection::seal() {
    if (plain_out_.empty()) {
        return true;
    }
    // Memory BIOs grow as needed, so SSL_write never returns WANT_WRITE here; it cuts the
    // plaintext into records of at most 16 KiB.
    const int n = SSL_write(ssl_.get(), plain_out_.data(), static_cast<int>(plain_out_.size()));
    plain_out_.clear();
    if (n <= 0) {
        ERR_clear_error();
        return false;
    }
    return true;
}

void TlsConnection::flush() {
    if (closed_ || !tcp_) {
        return;
    }
    if (!seal()) {
        close();
        return;
    }
    write_ciphertext(true);
}

void TlsConnection::write_ciphertext(bool may_queue) {
    const std::size_t pending = BIO_ctrl_pending(wbio_);
    if (pending > 0) {
        if (cipher_out_.size() < pending) {
            cipher_out_.resize(pending);
        }
        BIO_read(wbio_, cipher_out_.data(), static_cast<int>(pending));
        auto* stream = reinterpret_cast<uv_stream_t*>(tcp_.get());
        // Straight to the socket when the kernel takes it (no request, no copy); libuv says
        // UV_EAGAIN while earlier writes are still queued, so the order of bytes is kept.
        uv_buf_t buf = uv_buf_init(cipher_out_.data(), static_cast<unsigned>(pending));
        const int rc = uv_try_write(stream, &buf, 1);
        if (rc < 0 && rc != UV_EAGAIN) {
            if (may_queue) {
                close(); // the peer is gone (EPIPE, ECONNRESET)
            }
            return;
        }
        const std::size_t taken = rc > 0 ? static_cast<std::size_t>(rc) : 0;
        if (taken < pending && may_queue) {
            if (!queue_write({cipher_out_.data() + taken, pending - taken})) {
                close();
                return;
            }
        }
        if (cipher_out_.size() > kKeepCipherBuffer) {
            cipher_out_ = {};
        }
    }
    if (may_queue && closing_ && write_queued_ == 0) {
        linger();
    }
}

bool TlsConnection::queue_write(std::span<const char> bytes) {
    auto req = std::make_unique<WriteReq>();
    req->data.assign(bytes.begin(), bytes.end());
    req->conn = weak_from_this();
    req->req.data = req.get();
    const uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
    const int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(tcp_.get()), &buf, 1,
                            [](uv_write_t* w, int status) {
                                // Adopted back from the uv_write() below; runs even after
                                // close (status UV_ECANCELED), when the connection may be gone.
                                std::unique_ptr<WriteReq> done(static_cast<WriteReq*>(w->data));
                                if (auto conn = done->conn.lock()) {
                                    conn->on_write_done(done->data.size(), status);
                                }
                            });
    if (rc != 0) {
        return false;
    }
    (void)req.release(); // owned by libuv until the callback above
    write_queued_ += bytes.size();
    if (write_queued_ > kWriteHighWater && !write_blocked_) {
        write_blocked_ = true;
        update_reading();
    }
    return true;
}

void TlsConnection::on_write_done(std::size_t bytes, int status) {
    auto self = shared_from_this();
    write_queued_ -= bytes;
    if (closed_) {
        return;
    }
    if (status < 0) {
        close();
        return;
    }
    if (closing_ && write_queued_ == 0) {
        linger();
        return;
    }
    if (write_blocked_ && write_queued_ < kWriteLowWater) {
        write_blocked_ = false;
        update_reading();
    }
}

void TlsConnection::close_after_flush() {
    if (closed_ || closing_) {
        return;
    }
    if (handshake_done_ && !seal()) { // what the session sent goes before close_notify
        close();
        return;
    }
    closing_ = true;
    update_reading();
    if (handshake_done_) {
        SSL_shutdown(ssl_.get()); // queues close_notify (RFC 8446 §6.1); we do not wait for theirs
        ERR_clear_error();
    }
    if (timer_) {
        uv_timer_start(timer_.get(), &timer_cb, kLingerMs, 0); // bounds the flush below
    }
    flush();
}

void TlsConnection::linger() {
    if (lingering_ || closed_) {
        return;
    }
    lingering_ = true;
    auto* req = new uv_shutdown_t{};
    // Adopted in the callback, which libuv always runs (UV_ECANCELED if the handle closes).
    if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(tcp_.get()),
                    [](uv_shutdown_t* r, int /*status*/) { delete r; }) != 0) {
        delete req;
        close();
        return;
    }
    uv_timer_start(timer_.get(), &timer_cb, kLingerMs, 0);
}

void TlsConnection::count_http_status(int status) {
    if (server_ != nullptr) {
        ++server_->counters_.http_status[status];
    }
}

void TlsConnection::close() {
    if (closed_) {
        return;
    }
    // Answers the session collected before it closed leave if the socket takes them now, as
    // when each answer was written at once; nothing is queued behind a close.
    if (!plain_out_.empty() && tcp_ && seal()) {
        write_ciphertext(false);
    }
    closed_ = true;
    reading_ = false;
    timer_.close();
    tcp_.close();
    if (server_ != nullptr && !handshake_done_) {
        ++server_->counters_.tls_handshake_failures;
    }
    if (server_ != nullptr) {
        server_->forget(this); // the caller holds a shared_ptr, so we outlive this call
    }
}

TlsStreamServer::TlsStreamServer(uv_loop_t* loop, std::shared_ptr<const tls::ServerContext> ctx,
                                 const std::string_view* alpn, const StreamLimits& limits,
                                 SessionFactory factory, HandshakeGate* gate)
    : loop_(loop), ctx_(std::move(ctx)), alpn_(alpn), limits_(limits), factory_(std::move(factory)),
      gate_(gate) {}

TlsStreamServer::~TlsStreamServer() {
    auto conns = std::move(conns_);
    for (auto& [raw, conn] : conns) {
        conn->server_ = nullptr;
        conn->close();
    }
}

Result<std::unique_ptr<TlsStreamServer>>
TlsStreamServer::create(uv_loop_t* loop, const util::Url& url_template,
                        std::shared_ptr<const tls::ServerContext> ctx, const std::string_view* alpn,
                        const StreamLimits& limits, SessionFactory factory, HandshakeGate* gate) {
    if (!ctx) {
        return fail(Errc::ConfigInvalid, "TLS listener without a server context");
    }
    sockaddr_storage sa{};
    const std::string& host = url_template.host;
    const std::uint16_t port = url_template.port_or(0);
    if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&sa)) != 0 &&
        uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&sa)) != 0) {
        return fail(Errc::ConfigInvalid, "listener address must be an IP literal: " + host);
    }
    const socklen_t sa_len = sa.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);

    // libuv 1.44 has no SO_REUSEPORT flag for TCP: create, set, bind, then uv_tcp_open.
    const int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return fail(Errc::ConfigInvalid, std::string("socket: ") + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (sa.ss_family == AF_INET6) {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sa_len) != 0) {
        const int e = errno;
        ::close(fd);
        return fail(Errc::ConfigInvalid,
                    "bind " + url_template.authority() + ": " + std::strerror(e));
    }

    std::unique_ptr<TlsStreamServer> server(
        new TlsStreamServer(loop, std::move(ctx), alpn, limits, std::move(factory), gate));
    auto handle =
        util::UvHandle<uv_tcp_t>::create([&](uv_tcp_t* h) { return uv_tcp_init(loop, h); });
    if (!handle) {
        ::close(fd);
        return handle.error();
    }
    server->listen_ = std::move(handle.value());
    if (int rc = uv_tcp_open(server->listen_.get(), fd); rc != 0) {
        ::close(fd);
        return fail(Errc::ConfigInvalid, std::string("uv_tcp_open: ") + uv_strerror(rc));
    }
    server->listen_.get()->data = server.get();
    const int rc = uv_listen(reinterpret_cast<uv_stream_t*>(server->listen_.get()), 511,
                             [](uv_stream_t* s, int status) {
                                 if (status == 0) {
                                     static_cast<TlsStreamServer*>(s->data)->on_connection();
                                 }
                             });
    if (rc != 0) {
        return fail(Errc::ConfigInvalid, std::string("listen: ") + uv_strerror(rc));
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(server->listen_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    server->local_ = to_endpoint(reinterpret_cast<const sockaddr*>(&bound));
    util::Url url = url_template;
    url.port = server->local_.port;
    server->url_ = url.to_string();
    return server;
}

void TlsStreamServer::on_connection() {
    auto client =
        util::UvHandle<uv_tcp_t>::create([&](uv_tcp_t* h) { return uv_tcp_init(loop_, h); });
    if (!client) {
        return;
    }
    if (uv_accept(reinterpret_cast<uv_stream_t*>(listen_.get()),
                  reinterpret_cast<uv_stream_t*>(client->get())) != 0) {
        return;
    }
    if (conns_.size() >= limits_.max_connections && !make_room()) {
        return; // every connection is busy: `client` closes the socket as it goes out of scope
    }
    util::Ssl ssl{SSL_new(ctx_->ctx())};
    if (!ssl) {
        ERR_clear_error();
        return;
    }
    tls::set_alpn_preference(ssl.get(), alpn_);
    auto conn = std::make_shared<TlsConnection>(*this, std::move(ssl), std::move(client.value()));
    TlsConnection* raw = conn.get();
    conns_.emplace(raw, std::move(conn));
    if (!raw->start()) {
        auto keep = raw->shared_from_this();
        raw->close();
    }
}

bool TlsStreamServer::make_room() {
    // A closing connection has said its last words: it goes first, then the one that has
    // made no progress for longest (an unfinished handshake or request, or the oldest idle).
    TlsConnection* victim = stalest_connection(
        conns_, [](const TlsConnection& c) { return !c.closed_ && (c.closing_ || !c.busy()); },
        [](const TlsConnection& c) {
            return c.closing_ ? std::uint64_t{0} : c.deadlines_.stale_since();
        });
    if (victim == nullptr) {
        return false;
    }
    victim->evict();
    return true;
}

void TlsStreamServer::stop() {
    listen_.close();
    std::vector<std::shared_ptr<TlsConnection>> open;
    open.reserve(conns_.size());
    for (const auto& [raw, conn] : conns_) {
        open.push_back(conn); // drain() may close and forget a connection
    }
    for (const auto& conn : open) {
        conn->drain();
    }
}

void TlsStreamServer::forget(TlsConnection* conn) {
    conns_.erase(conn);
}

} // namespace resolver::io
