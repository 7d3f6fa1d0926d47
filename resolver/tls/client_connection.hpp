// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <openssl/ssl.h>
#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/tls/client_ctx.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::tls {

/// What a ClientConnection reports to its owner, always on the loop thread and never from
/// inside ClientConnection::start(). After on_connection_error() the connection is dead and
/// reports nothing more; the owner should release it.
class ClientConnectionHandler {
public:
    virtual ~ClientConnectionHandler() = default;
    /// The TLS handshake finished and the peer passed verification and pin checks.
    virtual void on_connected() = 0;
    /// Decrypted bytes from the server, in order, in arbitrary splits.
    virtual void on_plaintext(std::span<const std::uint8_t> bytes) = 0;
    /// Resolution, connect, handshake, verification or pin failure, connect timeout
    /// (Errc::UpstreamTimeout), reset or close by the peer. `detail` starts with the label.
    virtual void on_connection_error(Error error) = 0;
};

class ClientConnection;
/// Releasing the owner pointer calls close(): the object frees itself once libuv is done.
struct ClientConnectionCloser {
    void operator()(ClientConnection* c) const noexcept;
};
using ClientConnectionPtr = std::unique_ptr<ClientConnection, ClientConnectionCloser>;

/// One TLS client connection over a libuv TCP socket, with OpenSSL on memory BIOs (no
/// blocking, no socket inside OpenSSL). Resolves a host name with uv_getaddrinfo (first
/// address), connects, handshakes, checks the peer (client_ctx.hpp) and then moves plaintext
/// both ways. Shared by the DoT and DoH clients and usable by the probe.
///
/// Lifetime: created by start(), owned through ClientConnectionPtr. Closing is asynchronous
/// (libuv frees handles one loop turn later), so the object deletes itself; after close()
/// no handler method is called again, so the handler may be destroyed right after.
class ClientConnection {
public:
    struct Params {
        uv_loop_t* loop = nullptr;
        std::string host; // IP literal or name to resolve
        std::uint16_t port = 853;
        SSL_CTX* ctx = nullptr; // must outlive the connection
        ClientTlsConfig tls;
        unsigned connect_timeout_ms = 2000; // resolution + TCP + TLS
        std::string label;                  // prefix of every error detail, e.g. the URL
    };

    /// Starts resolving/connecting. Synchronous failures (bad address, out of sockets) are
    /// returned; everything later goes to `handler`, which must outlive the connection or
    /// close it first.
    static Result<ClientConnectionPtr> start(Params params, ClientConnectionHandler* handler);

    /// Queues plaintext; bytes written before on_connected() go out right after the handshake.
    /// Ignored once the connection failed.
    void write(std::span<const std::uint8_t> plaintext);

    [[nodiscard]] bool connected() const noexcept { return handshake_done_ && !closing_; }
    /// The ALPN protocol the server chose ("" when none).
    [[nodiscard]] std::string alpn() const;
    /// The address connected to, "ip:port" ("[ip6]:port").
    [[nodiscard]] const std::string& peer() const noexcept { return peer_; }
    /// Milliseconds from start() to the end of the handshake.
    [[nodiscard]] double connect_ms() const noexcept { return connect_ms_; }

    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

private:
    friend struct ClientConnectionCloser;
    ClientConnection(Params params, ClientConnectionHandler* handler);
    /// Called when the owner lets go: stops I/O and callbacks, frees the object later.
    void release() noexcept;
    void stop_io() noexcept;
    ~ClientConnection() = default; // only from maybe_destroy()

    Status connect_to(const sockaddr* addr);
    void fail_with(Errc code, const std::string& why);
    void drive(); // handshake / read after new ciphertext arrived
    void flush(); // ciphertext from the write BIO onto the socket
    void maybe_destroy();

    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
    static void on_connect(uv_connect_t* req, int status);
    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_timeout(uv_timer_t* timer);
    static void on_tcp_closed(uv_handle_t* handle);

    Params params_;
    ClientConnectionHandler* handler_;
    std::chrono::steady_clock::time_point started_;
    util::Ssl ssl_;
    BIO* rbio_ = nullptr; // owned by ssl_
    BIO* wbio_ = nullptr; // owned by ssl_
    std::vector<std::uint8_t> early_plaintext_;
    std::vector<char> read_buf_;
    std::string peer_;
    double connect_ms_ = 0;
    bool handshake_done_ = false;
    bool closing_ = false;  // I/O stopped (failure or release)
    bool released_ = false; // the owner dropped its pointer
    bool gai_pending_ = false;
    bool tcp_inited_ = false;
    bool tcp_closed_ = false;
    uv_getaddrinfo_t gai_{};
    uv_connect_t connect_req_{};
    uv_tcp_t tcp_{};
    util::UvHandle<uv_timer_t> connect_timer_;
};

} // namespace resolver::tls
