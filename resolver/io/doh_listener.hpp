// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/fault/live_plan.hpp"
#include "resolver/io/http1.hpp"
#include "resolver/io/listener.hpp"
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
    std::string content_type;
    std::string body;
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
/// 404 other paths, 405 methods other than GET/POST (with `allow`), 413 over the caps or
/// `too_large`, 415 a POST that is not application/dns-message, 400 for a missing, undecodable,
/// shorter than 12 bytes or unparsable query and for bad JSON parameters (`{"error": ...}`).
DohDecision decode_doh_request(const HttpRequest& req, std::string_view served_path,
                               const DohLimits& limits);

/// Turns the pipeline's reply into HTTP: 504 for upstream_timeout (and for a dropped query,
/// since an HTTP request must get an answer), else 200 with application/dns-message (padded
/// when asked) or application/dns-json, and cache-control max-age = Reply::min_ttl.
HttpResponse encode_doh_reply(const Reply& reply, const DohQuery& query);

/// The location hint in :authority/Host: lower-cased, port and IPv6 brackets removed.
std::string doh_host_hint(std::string_view authority);

/// The request path without its query string.
std::string_view request_path(std::string_view target);

/// DNS over HTTPS listener (RFC 8484) on `url` = https://ADDR:PORT/PATH (PATH defaults to
/// /dns-query). ALPN h2 (nghttp2 server session, SETTINGS_MAX_CONCURRENT_STREAMS =
/// DohLimits::max_streams) preferred over http/1.1 (keep-alive, pipelining answered in
/// order); a client without ALPN gets HTTP/1.1. TransportInfo: protocol Https, src/dst,
/// listener URL, SNI, http_host/http_path/http_location (cf-dns-location)/
/// http_authorization (CF-Authorization), datagram=false.
/// `handler` and the loop must outlive the listener; ReplyFn may run after the stream or
/// connection went away (it is then a no-op).
/// `faults` (may be null, Site::DohListener): per request, matched on the query's name and
/// type with transport "https", the first of goaway (h2: GOAWAY whose last stream ID leaves
/// this request unprocessed), rst_stream (h2: RST_STREAM) and http (that status, text body)
/// replaces the answer; over HTTP/1.1, which has neither GOAWAY nor RST_STREAM, the
/// connection is closed after the answers before it. `tls=` rules fail handshakes by SNI.
Result<ListenerPtr> make_doh_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, const DohLimits& doh_limits,
                                      std::shared_ptr<fault::LivePlan> faults = nullptr);

} // namespace resolver::io
