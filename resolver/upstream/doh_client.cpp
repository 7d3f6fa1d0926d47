// SPDX-License-Identifier: MIT
#include "resolver/upstream/doh_client.hpp"
namespace resolver::upstream {
Result<UpstreamPtr> make_doh_upstream(uv_loop_t*, const util::Url& url, const UpstreamOptions&) {
    return fail(Errc::ConfigInvalid, url.to_string() + ": DoH not implemented yet");
}
}
