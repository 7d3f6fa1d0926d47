// SPDX-License-Identifier: MIT
#pragma once
#include <uv.h>

#include "resolver/io/listener.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/util/url.hpp"

namespace resolver::io {

/// Do53 over TCP per RFC 7766: two-byte length framing across partial reads (§8), several
/// queries pipelined on one connection and answered out of order as they complete (§6.2.1.1),
/// an idle timeout (§6.2.3), a cap on concurrent connections and on in-flight queries per
/// connection (reading pauses at the cap), and a cap on the message size. A peer that sends
/// a zero or too-large length is disconnected without affecting anyone else.
/// `url`: tcp://ADDR:PORT. `reuse_port`: SO_REUSEPORT, so that each worker loop listens on its
/// own socket on the same port and the kernel spreads connections over them.
Result<ListenerPtr> make_tcp_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler,
                                      const StreamLimits& limits,
                                      ReusePort reuse_port = ReusePort::Off);

} // namespace resolver::io
