// SPDX-License-Identifier: MIT
#pragma once
#include <uv.h>

#include "resolver/io/listener.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/util/url.hpp"

namespace resolver::io {

/// Do53 over UDP (RFC 1035 §4.2.1). Every datagram is handed to `handler`; the reply goes
/// back to the sender from the same socket. Truncation to the client's size is the
/// pipeline's job (it knows the client's EDNS), the listener only sends bytes.
/// `url`: udp://ADDR:PORT (port 0 allowed; url() reads back the real port).
Result<ListenerPtr> make_udp_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler);

} // namespace resolver::io
