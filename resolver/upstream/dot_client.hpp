// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/tls/client_ctx.hpp"
#include "resolver/upstream/tls_upstream.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/url.hpp"

namespace resolver::upstream {

/// Everything a DoT upstream URL says, after defaults:
///   tls://HOST[:853]?sni=&ca=&pin=&verify=&timeout=&connect_timeout=&idle_timeout=&pad=1
/// Port 853 by default (RFC 7858 §3.1); ALPN "dot" (RFC 7858 has none; IANA registered "dot").
struct DotOptions : TlsUpstreamOptions {
    bool pad = false; // RFC 8467 §4.1: pad queries to 128-byte blocks
};

/// Reads a tls:// URL; URL parameters override `defaults`. ConfigInvalid names the bad part.
Result<DotOptions> parse_dot_options(const util::Url& url, const UpstreamOptions& defaults);

/// A DNS-over-TLS upstream (RFC 7858): one persistent connection per upstream, queries
/// pipelined on it and answers matched by message ID (each query gets an ID unique on the
/// connection; the caller's ID is restored in the answer, so callers may reuse IDs freely).
/// The connection is opened on the first query, closed after `idle_timeout_ms` without
/// queries, and reopened transparently; a query that was sent on a reused connection which
/// then closed without answering is retried once on a new connection (the server may have
/// closed it idle while we wrote, RFC 7766 §6.2.3). Other connection failures (refused,
/// handshake, verification, pin) fail every pending query with Errc::UpstreamFailure whose
/// detail is "tls://HOST:PORT: <reason>"; the per-query timeout gives Errc::UpstreamTimeout.
/// Exchange: wire, server ("ip:port"), connect_ms (0 when reused), query_ms, reused_connection.
/// Lives on `loop`; completions run on the loop thread, synchronously inside send() only for
/// errors found there (after shutdown(), a query shorter than a header, no socket).
Result<UpstreamPtr> make_dot_upstream(uv_loop_t* loop, const util::Url& url,
                                      const UpstreamOptions& opts);

/// Adds (or replaces) an EDNS Padding option (RFC 7830) so that the message length is a
/// multiple of `block` (RFC 8467 §4.1 recommends 128 for queries), creating the OPT record
/// when missing. Returns the input unchanged when it does not parse.
std::vector<std::uint8_t> pad_message(std::span<const std::uint8_t> wire, std::size_t block = 128);

} // namespace resolver::upstream
