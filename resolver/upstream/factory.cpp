// SPDX-License-Identifier: MIT
#include "resolver/upstream/factory.hpp"

#include "resolver/upstream/do53_client.hpp"
#include "resolver/upstream/dot_client.hpp"
#include "resolver/upstream/doh_client.hpp"
#include "resolver/upstream/faulty.hpp"
#include "resolver/fixture/fixture_upstream.hpp"

namespace resolver::upstream {

Result<UpstreamPtr> make_upstream(uv_loop_t* loop, const util::Url& url,
                                  const UpstreamOptions& opts) {
    if (has_fault_params(url)) { // fault=/faults= on any network upstream (issue 7, faulty.hpp)
        return make_faulty_upstream(loop, url, opts);
    }
    if (url.scheme == "udp" || url.scheme == "tcp") {
        auto c = Do53Client::create(loop, url, opts);
        if (!c) {
            return c.error();
        }
        return UpstreamPtr(std::move(c).value());
    }
    if (url.scheme == "tls") {
        return make_dot_upstream(loop, url, opts);
    }
    if (url.scheme == "https") {
        return make_doh_upstream(loop, url, opts);
    }
    if (url.scheme == "fixture") {
        return fixture::make_fixture_upstream(loop, url, opts);
    }
    return fail(Errc::ConfigInvalid,
                url.to_string() + ": unsupported upstream scheme '" + url.scheme + "'");
}

} // namespace resolver::upstream
