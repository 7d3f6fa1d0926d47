// SPDX-License-Identifier: MIT
#pragma once
#include <uv.h>

#include "resolver/upstream/upstream.hpp"
#include "resolver/util/url.hpp"

namespace resolver::upstream {
Result<UpstreamPtr> make_doh_upstream(uv_loop_t* loop, const util::Url& url, const UpstreamOptions& opts);
}
