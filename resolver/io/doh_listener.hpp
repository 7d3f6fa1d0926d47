// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/io/http1.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/io/tls_stream.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/tls/server_context.hpp"
#include "resolver/util/url.hpp"

namespace resolver::io {

/// HTTP-level caps of the DoH listener (the connection-level ones are in StreamLimits).
struct DohLimits {
    std::size_t max_header_bytes = 16384; // request head (HTTP/1.1) or header list (HTTP/2,
                                          // counted as RFC 9113 §6.5.2 does: name+value+32)
    std::size_t max_body_bytes = 65535;   // POST body: one DNS message (RFC 8484 §6)
    std::size_t max_streams = 256;        // SETTINGS_MAX_CONCURRENT_STREAMS (Gateway: 256)
};

/// An HTTP response, before HTTP/1.1 or HTTP/2 framing.
struct HttpResponse {
    int status = 200;
    /// A constant with static storage (a string literal): responses are built per query and
    /// the media types are fixed, so no copy is made.
    std::string_view content_type;
    std::string body; // never sent for HEAD, whose content-length still gives its size
    std::optional<std::uint32_t> max_age; // cache-control: max-age=N (RFC 8484 §5.1)
    std::vector<std::pair<std::string, std::string>> headers; // extra, e.g. allow
};

/// A DNS query extracted from a DoH request.
struct DohQuery {
    std::vector<std::uint8_t> wire;
    bool json = false; // answer in application/dns-json
    bool pad = false;  // the query carried EDNS padding: pad the answer (RFC 8467 §4)
};

/// What to do with one request: answer `response` at once (errors), or resolve `query`.
struct DohDecision {
    std::optional<HttpResponse> response;
    DohQuery query;
};

/// Applies RFC 8484 and the behaviour reference §7.3 to one request. `served_path` (e.g.
/// "/dns-query") is served with any suffix "/<anything>" (the lab's location path form).
/// HEAD is GET without the body (RFC 9110 §9.3.2; the session leaves the body out).
/// 404 other paths, 405 methods other than GET/HEAD/POST (with `allow`), 413 over the caps or
/// `too_large`, 415 a POST that is not application/dns-message, 400 for a missing,
/// undecodable, shorter than 12 bytes or unparsable query and for bad JSON parameters
/// (`{"error": ...}`).
DohDecision decode_doh_request(const HttpRequest& req, std::string_view served_path,
                               const DohLimits& limits);

/// Turns the pipeline's reply into HTTP: 504 for upstream_timeout (and for a dropped query,
/// since an HTTP request must get an answer), else 200 with application/dns-message (padded
/// when asked) or application/dns-json, and cache-control max-age = Reply::min_ttl (the
/// answer's freshness lifetime: RFC 8484 §5.1, from the SOA for negative answers).
HttpResponse encode_doh_reply(const Reply& reply, const DohQuery& query);

/// The location hint in :authority/Host: lower-cased, port and IPv6 brackets removed.
std::string doh_host_hint(std::string_view authority);

/// The request path without its query string.
std::string_view request_path(std::string_view target);

/// What the DoH listener sends for one request that decoded to a DNS query.
struct DohAnswer {
    enum class Kind : std::uint8_t {
        Respond,     // `response`
        GoAway,      // HTTP/2: GOAWAY(h2_error, debug) whose last stream ID leaves this request
                     // unprocessed (RFC 9113 §6.8); HTTP/1.1, which has none: the answers
                     // before it go out, then the connection closes with it unanswered
        ResetStream, // HTTP/2: RST_STREAM(h2_error) (RFC 9113 §6.4); HTTP/1.1: as GoAway
    };
    Kind kind = Kind::Respond;
    HttpResponse response;
    std::uint32_t h2_error = 0; // RFC 9113 §7 error code
    std::string debug;          // GOAWAY additional debug data
};

/// Called exactly once per request, on the loop thread, possibly before
/// DohRequestHandler::handle returns; safe to call after the connection went away.
using DohAnswerFn = std::function<void(DohAnswer)>;

/// The DoH listener's handling of one decoded request, below the HTTP framing: a query and its
/// transport details in, a DohAnswer out. ResolvingDoh is the production handling; a lab
/// decorator (fault::FaultyDohRequests) wraps one to inject HTTP faults, as FaultyUpstream
/// wraps an Upstream. Must outlive the listeners using it.
class DohRequestHandler {
public:
    virtual ~DohRequestHandler() = default;
    virtual void handle(DohQuery query, TransportInfo info, DohAnswerFn answer) = 0;
};

/// Resolves through the pipeline (`resolver`, which must outlive it) and encodes the Reply
/// with encode_doh_reply().
class ResolvingDoh final : public DohRequestHandler {
public:
    explicit ResolvingDoh(QueryHandler& resolver) : resolver_(resolver) {}
    void handle(DohQuery query, TransportInfo info, DohAnswerFn answer) override;

private:
    QueryHandler& resolver_;
};

/// DNS over HTTPS listener (RFC 8484) on `url` = https://ADDR:PORT/PATH (PATH defaults to
/// /dns-query). ALPN h2 (nghttp2 server session, SETTINGS_MAX_CONCURRENT_STREAMS =
/// DohLimits::max_streams) preferred over http/1.1 (keep-alive, pipelining answered in
/// order); a client without ALPN gets HTTP/1.1. TransportInfo: protocol Https, src/dst,
/// listener URL, SNI, http_host/http_path/http_location (cf-dns-location)/
/// http_authorization (CF-Authorization), datagram=false.
/// Decoded queries go to `handler`; HTTP errors (decode_doh_request) are answered without it.
/// `handler`, `gate` (may be null: sees every ClientHello) and the loop must outlive the
/// listener. A content-length or body over the cap is answered 413 at once, before the body
/// (HTTP/2: the rest of the body is discarded as it arrives; HTTP/1.1: the connection closes).
Result<ListenerPtr> make_doh_listener(uv_loop_t* loop, const util::Url& url,
                                      DohRequestHandler& handler,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, const DohLimits& doh_limits,
                                      HandshakeGate* gate = nullptr);

/// The same with the production handling (a ResolvingDoh over `resolver`, owned by the
/// listener) and no gate.
Result<ListenerPtr> make_doh_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& resolver,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, const DohLimits& doh_limits);

} // namespace resolver::io
