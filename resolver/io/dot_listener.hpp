// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/io/tls_stream.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/tls/server_context.hpp"
#include "resolver/util/url.hpp"

namespace resolver::io {

/// RFC 8467 §4.1 recommended block size for responses.
inline constexpr std::size_t kResponsePaddingBlock = 468;

/// True when `query` parses and its OPT record carries the Padding option (RFC 7830), which
/// is what obliges us to pad the response (RFC 8467 §4: pad only when the client padded).
bool query_requests_padding(std::span<const std::uint8_t> query);

/// Returns `response` re-serialised with a Padding option (code 12) sized so the whole
/// message is a multiple of `block` bytes (RFC 8467 §4.1, Block-Length Padding), replacing
/// any padding already there. Creates the OPT record when missing. Returned unchanged when
/// it does not parse or a padded message would exceed 65535 bytes.
std::vector<std::uint8_t> pad_response(std::span<const std::uint8_t> response,
                                       std::size_t block = kResponsePaddingBlock);

/// DNS over TLS listener (RFC 7858) on `url` = tls://ADDR:PORT (port 0: any; the real port
/// reads back from url()). ALPN "dot". Each connection carries length-prefixed messages
/// (RFC 7766 §8); queries are pipelined and answered out of order as they complete, at most
/// StreamLimits::max_in_flight at once per connection (further queries wait in the buffer).
/// A zero length prefix closes the connection. Responses are padded when the query was.
/// TransportInfo: protocol Tls, src/dst, listener URL, SNI, datagram=false.
/// `handler` and the loop must outlive the listener; ReplyFn may run after the connection
/// closed (it is then a no-op).
/// `gate` (may be null, must outlive the listener) sees every ClientHello (lab faults).
Result<ListenerPtr> make_dot_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, HandshakeGate* gate = nullptr);

} // namespace resolver::io
