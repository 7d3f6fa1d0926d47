// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/io/stream_deadlines.hpp"
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
    /// Requests still being answered. The idle deadline never closes a connection with work
    /// in flight.
    [[nodiscard]] virtual std::size_t in_flight() const = 0;
    /// Loop time (TlsConnection::now()) of the first byte of the oldest request that is not
    /// complete yet; nullopt when every byte received belongs to a complete request, or when
    /// the session itself paused reading. The connection closes once it is older than
    /// StreamLimits::request_timeout_ms. Read after every on_data() and every answer.
    [[nodiscard]] virtual std::optional<std::uint64_t> incomplete_since() const = 0;
    /// The request deadline passed; the connection closes right after (HTTP/1.1 says 408).
    virtual void on_request_timeout() {}
    /// Graceful shutdown began: stop inviting requests (HTTP/2 GOAWAY notice, HTTP/1.1
    /// `connection: close` on the next answer). Requests already received are answered.
    virtual void on_drain() {}
    /// Last words before a graceful close by the server (idle, drained, evicted at the cap):
    /// HTTP/2 sends GOAWAY (RFC 9113 §6.8).
    virtual void on_goodbye() {}
};

/// What a HandshakeGate decides for one connection once its ClientHello is in.
enum class HandshakeAction : std::uint8_t {
    Proceed, // complete the handshake
    Alert,   // fatal handshake_failure alert
    Close,   // close the TCP connection without a word (an SNI-filtering middlebox)
    Stall,   // never answer: the client's handshake times out (the handshake deadline
             // still closes the connection on our side)
};

/// A per-connection hook on the ClientHello of a TLS listener, by SNI. Production listeners
/// have none; the lab's listener faults (fault::FaultyHandshakes) implement it. Loop thread.
class HandshakeGate {
public:
    virtual ~HandshakeGate() = default;
    virtual HandshakeAction on_client_hello(std::string_view sni) = 0;
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
/// the connection (never the process). Deadlines (StreamDeadlines) on one timer: handshake,
/// request progress and idle, none moved by bytes that complete nothing. Loop-thread only.
class TlsConnection : public std::enable_shared_from_this<TlsConnection>,
                      private tls::ClientHelloCallback {
public:
    TlsConnection(TlsStreamServer& server, util::Ssl ssl, util::UvHandle<uv_tcp_t> tcp);
    ~TlsConnection() override;
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    /// Encrypts and queues `head` then `body` (one message to the session, e.g. a DoT length
    /// prefix and its DNS message). Ignored once closed. Inside the read callback (answers
    /// produced synchronously while the session handles received bytes) the plaintext is
    /// collected and leaves when the read is handled: one SSL_write (TLS records of up to
    /// 16 KiB) and one socket write for all of it. Elsewhere (an answer from upstream) it is
    /// encrypted and written at once. The byte stream is the same either way.
    void send(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body = {});
    /// Sends what send() collected during the current read now, without waiting for the end
    /// of the read. A session calls it after the last answer it can give from the bytes
    /// received (nothing buffered, input_pending() false), so that this answer is not held
    /// back by the work that follows it (the pipeline finishing the query, logging).
    void push();
    /// Received bytes not yet handed to the session: ciphertext in the read BIO (a record
    /// may be incomplete) or decrypted bytes OpenSSL holds.
    [[nodiscard]] bool input_pending() const;
    /// Sends close_notify, then closes once queued writes have drained.
    void close_after_flush();
    /// Closes now; queued writes are dropped. Safe to call twice.
    void close();
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    /// Stops or resumes reading from the socket (back-pressure from the session).
    void set_reading(bool on);
    /// A request completed or an answer went out: the idle deadline restarts, and the
    /// session's incomplete_since() is read again. Sessions call it for both.
    void progress();
    /// Loop time in ms, the clock of StreamSession::incomplete_since().
    [[nodiscard]] std::uint64_t now() const noexcept;

    [[nodiscard]] const TlsPeer& peer() const noexcept { return peer_; }
    /// The listener URL this connection arrived on.
    /// Shared with every query of the connection (a copy costs a reference count).
    [[nodiscard]] const net::ListenerName& listener_url() const noexcept { return listener_url_; }
    [[nodiscard]] StreamSession* session() const noexcept { return session_.get(); }
    /// Counts one HTTP response on the listener's counters (DoH sessions).
    void count_http_status(int status);

private:
    friend class TlsStreamServer;
    struct WriteReq;

    bool start();
    void on_read(ssize_t nread, const uv_buf_t* buf);
    static void timer_cb(uv_timer_t* t);
    void on_timer();
    void arm_timer();
    [[nodiscard]] bool busy() const;
    void drain();
    void evict();
    void on_write_done(std::size_t bytes, int status);
    void update_reading();
    void linger();
    bool advance_handshake();
    bool read_plaintext();
    bool seal();
    void flush();
    void write_ciphertext(bool may_queue);
    bool queue_write(std::span<const char> bytes);
    tls::HelloVerdict on_client_hello(std::string_view sni) override;

    TlsStreamServer* server_; // nulled when the server goes first
    uv_loop_t* loop_;
    util::Ssl ssl_;
    HandshakeGate* gate_ = nullptr; // may be null
    BIO* rbio_ = nullptr;           // owned by ssl_
    BIO* wbio_ = nullptr;           // owned by ssl_
    std::unique_ptr<StreamSession> session_;
    TlsPeer peer_;
    net::ListenerName listener_url_;
    StreamDeadlines deadlines_;
    std::vector<char> read_buf_;
    // Plaintext sent while a read is handled, not yet given to SSL_write (see send()).
    std::vector<std::uint8_t> plain_out_;
    // Ciphertext taken out of the write BIO for the socket; reused, so a write that the
    // kernel takes at once costs no allocation.
    std::vector<char> cipher_out_;
    std::size_t write_queued_ = 0; // bytes in uv_write requests not completed yet
    HandshakeAction gate_action_ = HandshakeAction::Proceed;
    bool handshake_done_ = false;
    bool stalled_ = false;   // HandshakeAction::Stall: input is read and ignored
    bool draining_ = false;  // the listener stopped: close once nothing is outstanding
    bool closing_ = false;   // close once writes drain
    bool lingering_ = false; // FIN sent, draining the peer until EOF or the linger timer
    bool closed_ = false;
    bool reading_ = false;
    bool in_read_ = false;       // inside on_read(): send() collects, on_read() writes
    bool want_reading_ = true;   // the session's wish (set_reading)
    bool write_blocked_ = false; // too much queued towards a slow reader
    // Handles last: their callbacks reach the members above, and closing them in the
    // destructor must happen while those members still exist.
    util::UvHandle<uv_timer_t> timer_;
    util::UvHandle<uv_tcp_t> tcp_;
};

/// A listening TCP socket that accepts TLS connections and hands each one, after its
/// handshake, to a StreamSession from `factory`. Enforces StreamLimits: the deadlines of each
/// connection, and max_connections (at the cap the stalest connection with nothing in flight
/// is closed for the new one; only when all are busy is the new one closed at accept).
/// Binds with SO_REUSEPORT so several worker loops may share one address. It is the Listener
/// the DoT and DoH factories return: they differ only in the session.
class TlsStreamServer final : public Listener {
public:
    /// Binds and listens on host:port (port 0 picks one). `alpn` (e.g. tls::kAlpnDoh) must
    /// be a static constant. `url_template` is the listener URL; its port is replaced by the
    /// real bound port. `gate` (may be null; must outlive the server) sees every ClientHello.
    static Result<std::unique_ptr<TlsStreamServer>>
    create(uv_loop_t* loop, const util::Url& url_template,
           std::shared_ptr<const tls::ServerContext> ctx, const std::string_view* alpn,
           const StreamLimits& limits, SessionFactory factory, HandshakeGate* gate = nullptr);
    ~TlsStreamServer() override;
    TlsStreamServer(const TlsStreamServer&) = delete;
    TlsStreamServer& operator=(const TlsStreamServer&) = delete;

    [[nodiscard]] std::string url() const override { return url_; }
    [[nodiscard]] const Endpoint& local() const noexcept { return local_; }
    /// Stops accepting and drains: every connection answers what it received, says goodbye
    /// (HTTP/2 GOAWAY, HTTP/1.1 `connection: close`) and closes once nothing is outstanding.
    void stop() override;
    /// Connections still open (draining ones included).
    [[nodiscard]] std::size_t active() const override { return conns_.size(); }
    [[nodiscard]] const StreamLimits& limits() const noexcept { return limits_; }
    [[nodiscard]] const ListenerCounters* counters() const override { return &counters_; }

private:
    friend class TlsConnection;
    TlsStreamServer(uv_loop_t* loop, std::shared_ptr<const tls::ServerContext> ctx,
                    const std::string_view* alpn, const StreamLimits& limits,
                    SessionFactory factory, HandshakeGate* gate);
    void on_connection();
    /// At the cap: closes the stalest idle or slow connection; false when all are busy.
    bool make_room();
    void forget(TlsConnection* conn);

    uv_loop_t* loop_;
    std::shared_ptr<const tls::ServerContext> ctx_;
    const std::string_view* alpn_;
    StreamLimits limits_;
    SessionFactory factory_;
    HandshakeGate* gate_;
    std::string url_;
    Endpoint local_;
    std::unordered_map<TlsConnection*, std::shared_ptr<TlsConnection>> conns_;
    ListenerCounters counters_;
    util::UvHandle<uv_tcp_t> listen_; // last: its callback uses everything above
};

} // namespace resolver::io
