// SPDX-License-Identifier: MIT
#pragma once
#include <uv.h>

#include "resolver/upstream/upstream.hpp"
#include "resolver/util/url.hpp"

namespace resolver::runtime {

/// Creates the client for one upstream URL:
///   udp://IP:PORT, tcp://IP:PORT           Do53 through c-ares (do53_client)
///   tls://HOST:PORT?sni=&ca=&pin=          DNS over TLS (dot_client)
///   https://HOST:PORT/PATH?method=&http=   DNS over HTTPS (doh_client)
///   fixture:DIR                            in-process authoritative zones (fixture/)
/// The object lives on `loop` and must be destroyed on that loop's thread.
Result<upstream::UpstreamPtr> make_upstream(uv_loop_t* loop, const util::Url& url,
                                            const upstream::UpstreamOptions& opts);

} // namespace resolver::runtime
