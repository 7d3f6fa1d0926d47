// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/fault/live_plan.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/tls/server_context.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/url.hpp"

namespace resolver::io {

class TlsConnection;

/// The protocol spoken inside one TLS connection once the handshake is done (DoT framing,
/// HTTP/2, HTTP/1.1). Owned by its TlsConnection and destroyed with it, so a session may keep
/// a plain reference to the connection. Async completions must hold
/// `TlsConnection::weak_from_this()` and check `closed()` before touching the session.
class StreamSession {
public:
    virtual ~StreamSession() = default;
    /// Decrypted application bytes, in order, any split. Return false to close at once
    /// (protocol violation). May call TlsConnection::send() re-entrantly.
    virtual bool on_data(std::span<const std::uint8_t> bytes) = 0;
    /// Requests still being answered. The idle timer never closes a connection with work in
    /// flight: it re-arms instead.
    [[nodiscard]] virtual std::size_t in_flight() const = 0;
};

/// What the handshake told us about the peer.
struct TlsPeer {
    Endpoint src;
    Endpoint dst;
    std::string sni;  // "" when the client sent none
    std::string alpn; // negotiated protocol, "" when none
};

/// Builds the session for a connection whose handshake just completed.
using SessionFactory = std::function<std::unique_ptr<StreamSession>(TlsConnection&)>;

class TlsStreamServer;

/// One accepted TCP connection running TLS through memory BIOs: libuv reads ciphertext into
/// the read BIO, OpenSSL's output is taken from the write BIO and written with uv_write.
/// Non-blocking handshake, close_notify on graceful close, any TLS or socket error closes
/// the connection (never the process). Loop-thread only.
class TlsConnection : public std::enable_shared_from_this<TlsConnection> {
public:
    TlsConnection(TlsStreamServer& server, util::Ssl ssl, util::UvHandle<uv_tcp_t> tcp);
    ~TlsConnection();
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    /// Encrypts and queues `plaintext`. Ignored once closed.
    void send(std::span<const std::uint8_t> plaintext);
    /// Sends close_notify, then closes once queued writes have drained.
    void close_after_flush();
    /// Closes now; queued writes are dropped. Safe to call twice.
    void close();
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    /// Stops or resumes reading from the socket (back-pressure from the session).
    void set_reading(bool on);
    /// Restarts the idle timer; sessions call it when an answer goes out.
    void touch();

    [[nodiscard]] const TlsPeer& peer() const noexcept { return peer_; }
    /// The listener URL this connection arrived on.
    [[nodiscard]] const std::string& listener_url() const noexcept { return listener_url_; }
    [[nodiscard]] StreamSession* session() const noexcept { return session_.get(); }

private:
    friend class TlsStreamServer;
    struct WriteReq;

    bool start();
    void on_read(ssize_t nread, const uv_buf_t* buf);
    void on_idle();
    void on_write_done(std::size_t bytes, int status);
    void update_reading();
    void linger();
    bool advance_handshake();
    bool read_plaintext();
    void flush();

    TlsStreamServer* server_; // nulled when the server goes first
    util::Ssl ssl_;
    tls::HelloHook hello_hook_; // handshake fault injection; attached to ssl_ when in use
    BIO* rbio_ = nullptr;       // owned by ssl_
    BIO* wbio_ = nullptr;       // owned by ssl_
    std::unique_ptr<StreamSession> session_;
    TlsPeer peer_;
    std::string listener_url_;
    unsigned idle_timeout_ms_;
    std::vector<char> read_buf_;
    std::size_t write_queued_ = 0;
    bool handshake_done_ = false;
    bool stalled_ = false;   // injected HandshakeFault::Stall: input is read and ignored
    bool closing_ = false;   // close once writes drain
    bool lingering_ = false; // FIN sent, draining the peer until EOF or the linger timer
    bool closed_ = false;
    bool reading_ = false;
    bool want_reading_ = true;   // the session's wish (set_reading)
    bool write_blocked_ = false; // too much queued towards a slow reader
    // Handles last: their callbacks reach the members above, and closing them in the
    // destructor must happen while those members still exist.
    util::UvHandle<uv_timer_t> timer_;
    util::UvHandle<uv_tcp_t> tcp_;
};

/// A listening TCP socket that accepts TLS connections and hands each one, after its
/// handshake, to a StreamSession from `factory`. Enforces StreamLimits::max_connections
/// (excess connections are closed at accept) and idle_timeout_ms (also the handshake
/// deadline). Binds with SO_REUSEPORT so several worker loops may share one address.
/// It is the Listener the DoT and DoH factories return: they differ only in the session.
class TlsStreamServer final : public Listener {
public:
    /// Binds and listens on host:port (port 0 picks one). `alpn` (e.g. tls::kAlpnDoh) must
    /// be a static constant. `url_template` is the listener URL; its port is replaced by the
    /// real bound port. `faults` (may be null) fails chosen handshakes: its rules with a
    /// `tls=` fault are matched against the SNI on the transport named by the URL scheme.
    static Result<std::unique_ptr<TlsStreamServer>>
    create(uv_loop_t* loop, const util::Url& url_template,
           std::shared_ptr<const tls::ServerContext> ctx, const std::string_view* alpn,
           const StreamLimits& limits, SessionFactory factory,
           std::shared_ptr<fault::LivePlan> faults = nullptr);
    ~TlsStreamServer() override;
    TlsStreamServer(const TlsStreamServer&) = delete;
    TlsStreamServer& operator=(const TlsStreamServer&) = delete;

    [[nodiscard]] std::string url() const override { return url_; }
    [[nodiscard]] const Endpoint& local() const noexcept { return local_; }
    /// Stops accepting; open connections keep running until they close.
    void stop() override;
    [[nodiscard]] std::size_t active() const override { return conns_.size(); }
    [[nodiscard]] const StreamLimits& limits() const noexcept { return limits_; }

private:
    friend class TlsConnection;
    TlsStreamServer(uv_loop_t* loop, std::shared_ptr<const tls::ServerContext> ctx,
                    const std::string_view* alpn, const StreamLimits& limits,
                    SessionFactory factory, std::shared_ptr<fault::LivePlan> faults,
                    std::string transport);
    void on_connection();
    void forget(TlsConnection* conn);

    uv_loop_t* loop_;
    std::shared_ptr<const tls::ServerContext> ctx_;
    const std::string_view* alpn_;
    StreamLimits limits_;
    SessionFactory factory_;
    std::shared_ptr<fault::LivePlan> faults_;
    std::string transport_; // "tls" or "https": what fault rules match
    std::string url_;
    Endpoint local_;
    std::unordered_map<TlsConnection*, std::shared_ptr<TlsConnection>> conns_;
    util::UvHandle<uv_tcp_t> listen_; // last: its callback uses everything above
};

} // namespace resolver::io
