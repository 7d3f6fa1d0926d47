// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <uv.h>

#include "probes/gateway_export/http1_response.hpp"
#include "resolver/core/result.hpp"
#include "resolver/tls/client_connection.hpp"
#include "resolver/util/c_handles.hpp"

namespace probes::gateway_export {

struct HttpsClientOptions {
    std::string host; // DNS name or IP literal; verified against the certificate
    std::uint16_t port = 443;
    std::string ca_file; // "" = the system trust store (SSL_CERT_FILE / SSL_CERT_DIR honoured)
    unsigned timeout_ms = 30000;                         // per request, connection set-up included
    std::size_t max_body_bytes = std::size_t{256} << 20; // per response
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// A small blocking HTTPS/1.1 client for a command-line tool: GET requests, one at a time,
/// over one kept-alive connection to one origin. Built on the resolver's TLS client
/// (resolver/tls: tls::ClientConnection with peer verification, SNI, ALPN http/1.1) driven
/// by a private libuv loop that runs only inside get(), so the caller sees a plain function
/// call. HTTP/1.1 rather than the DoH client's HTTP/2: sequential API calls gain nothing
/// from multiplexing, and the response parser (http1_response.hpp) is small enough to read.
///
/// Errors are values: connection, TLS and verification failures, the timeout and malformed
/// responses come back as Error with a detail that names the origin; request headers (the
/// API token) never appear in any message. A reused connection that the server had closed
/// while idle is retried once on a new connection (GET is idempotent, RFC 9110 §9.2.2).
/// Not thread-safe; owns its loop and everything on it.
class HttpsClient final : private resolver::tls::ClientConnectionHandler {
public:
    static resolver::Result<std::unique_ptr<HttpsClient>> create(HttpsClientOptions opts);
    ~HttpsClient() override;
    HttpsClient(const HttpsClient&) = delete;
    HttpsClient& operator=(const HttpsClient&) = delete;

    /// GET `target` (origin-form: "/client/v4/accounts/x?page=2") with extra `headers`.
    /// Any complete response is returned, whatever its status.
    resolver::Result<HttpResponse> get(const std::string& target, const HttpHeaders& headers);

    [[nodiscard]] unsigned connections_opened() const noexcept { return connections_; }
    [[nodiscard]] std::string origin() const;

private:
    explicit HttpsClient(HttpsClientOptions opts);
    resolver::Status init();
    resolver::Status connect();
    void close_connection();
    resolver::Result<HttpResponse> exchange(const std::string& request, bool& retryable);

    void on_connected() override;
    void on_plaintext(std::span<const std::uint8_t> bytes) override;
    void on_connection_error(resolver::Error error) override;
    static void on_timeout(uv_timer_t* timer);

    HttpsClientOptions opts_;
    uv_loop_t loop_{};
    bool loop_inited_ = false;
    resolver::util::SslCtx ctx_;
    resolver::tls::ClientTlsConfig tls_;
    resolver::tls::ClientConnectionPtr conn_;
    resolver::util::UvHandle<uv_timer_t> timer_;
    unsigned connections_ = 0;
    bool conn_failed_ = false; // conn_ reported an error (or the peer's close): it is dead

    // The exchange in progress.
    std::optional<Http1ResponseParser> parser_;
    std::optional<resolver::Error> failure_;
    bool received_ = false;  // any byte of the response arrived
    bool timed_out_ = false; // the request's deadline passed
};

} // namespace probes::gateway_export
