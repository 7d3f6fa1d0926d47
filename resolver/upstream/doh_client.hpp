// SPDX-License-Identifier: MIT
#pragma once
#include "resolver/util/base64url.hpp"
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <uv.h>

#include "resolver/tls/client_ctx.hpp"
#include "resolver/upstream/tls_upstream.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/url.hpp"

namespace resolver::upstream {

/// Everything a DoH upstream URL says, after defaults:
///   https://HOST[:443][/PATH]?method=get|post|json&http=2|1.1&sni=&ca=&pin=&verify=
///        &timeout=&connect_timeout=&idle_timeout=&errors=exchange&header.<name>=<value>
/// Port 443 by default; ALPN "h2" or "http/1.1" (http=).
struct DohOptions : TlsUpstreamOptions {
    enum class Method : std::uint8_t {
        Get,  // RFC 8484 §4.1: ?dns=<base64url without padding>
        Post, // RFC 8484 §4.1: body application/dns-message (the default, as kdig's)
        Json, // GET ?name=&type= with accept: application/dns-json (1.1.1.1's JSON API)
    };
    enum class Http : std::uint8_t { H2, H1 };

    std::string path = "/dns-query";
    std::string authority; // :authority / Host: the sni= name when given, else HOST[:PORT]
    Method method = Method::Post;
    Http http = Http::H2;
    std::vector<std::pair<std::string, std::string>> headers; // header.<name>=, names lower-cased
    bool errors_as_exchange = false; // errors=exchange: a non-200 answer completes as an Exchange
};

/// Reads an https:// URL; URL parameters override `defaults`. ConfigInvalid names the bad part.
Result<DohOptions> parse_doh_options(const util::Url& url, const UpstreamOptions& defaults);

/// A DNS-over-HTTPS upstream (RFC 8484) on one connection at a time: HTTP/2 through nghttp2
/// with one stream per query (multiplexed), or HTTP/1.1 with keep-alive and one request at a
/// time (later queries queue). Queries go out with ID 0 (RFC 8484 §4.1) and the answer gets
/// the caller's ID back. The connection opens on the first query, closes after
/// `idle_timeout_ms` idle, and is reopened transparently; after GOAWAY no new stream is
/// opened on it. A stream refused by GOAWAY/REFUSED_STREAM, or a request written on a reused
/// connection that closed without answering, is retried once on a new connection.
///
/// Completion: an Exchange with wire (empty for method=json, whose JSON is in `body`),
/// http_status, content_type, server ("ip:port"), connect_ms (0 when reused), query_ms and
/// reused_connection. A non-200 status is Errc::UpstreamFailure "https://HOST:PORT/PATH: HTTP
/// 415", unless errors=exchange (the probe's mode), where it completes as an Exchange with
/// that status, the error body and no wire. TLS and connection failures are UpstreamFailure,
/// the per-query timeout UpstreamTimeout. Lives on `loop`; completions run on the loop thread,
/// synchronously inside send() only for errors found there.
Result<UpstreamPtr> make_doh_upstream(uv_loop_t* loop, const util::Url& url,
                                      const UpstreamOptions& opts);

using util::base64url_decode; // resolver/util/base64url.hpp
using util::base64url_encode;

/// The JSON API query string for a DNS query in wire format: "name=example.com&type=AAAA",
/// plus "&do=1" / "&cd=1" when the query has DO / CD. ConfigInvalid-free: MalformedQuery when
/// the wire does not parse or has no question.
Result<std::string> json_query_string(std::span<const std::uint8_t> query);

} // namespace resolver::upstream
