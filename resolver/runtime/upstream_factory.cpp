// SPDX-License-Identifier: MIT
#include "resolver/runtime/upstream_factory.hpp"

#include "resolver/upstream/do53_client.hpp"
#include "resolver/upstream/dot_client.hpp"
#include "resolver/upstream/doh_client.hpp"
#include "resolver/upstream/faulty.hpp"
#include "resolver/fixture/fixture_upstream.hpp"
#include "resolver/net/transport.hpp"

namespace resolver::runtime {
namespace {
/// The upstream for `url` without its fault parameters, wrapped in a FaultyUpstream. Errors
/// name the URL and the bad rule.
Result<upstream::UpstreamPtr> make_faulty_upstream(uv_loop_t* loop, const util::Url& url,
                                                   const upstream::UpstreamOptions& opts) {
    util::Url inner_url = url;
    auto plan = fault::LivePlan::take_from(inner_url.params, fault::Site::Upstream, url.to_string(),
                                           opts.live_faults);
    if (!plan) {
        return plan.error();
    }
    auto inner = make_upstream(loop, inner_url, opts);
    if (!inner) {
        return inner.error();
    }
    // One attempt of the wrapped client takes timeout_ms; a drop waits as long.
    auto up =
        upstream::FaultyUpstream::create(loop, std::move(inner).value(), std::move(plan).value(),
                                         url.scheme, inner_url.to_string(), opts.timeout_ms);
    if (!up) {
        return up.error();
    }
    return upstream::UpstreamPtr(std::move(up).value());
}
} // namespace

Result<upstream::UpstreamPtr> make_upstream(uv_loop_t* loop, const util::Url& url,
                                            const upstream::UpstreamOptions& opts) {
    if (upstream::has_fault_params(
            url)) { // fault=/faults= on any network upstream (issue 7, faulty.hpp)
        return make_faulty_upstream(loop, url, opts);
    }
    if (url.scheme == util::kSchemeFixture) {
        return fixture::make_fixture_upstream(loop, url, opts);
    }
    if (auto t = net::transport_from_scheme(url.scheme)) {
        switch (*t) {
        case net::Transport::Udp:
        case net::Transport::Tcp: {
            auto c = upstream::Do53Client::create(loop, url, opts);
            if (!c) {
                return c.error();
            }
            return upstream::UpstreamPtr(std::move(c).value());
        }
        case net::Transport::Tls:
            return upstream::make_dot_upstream(loop, url, opts);
        case net::Transport::Https:
            return upstream::make_doh_upstream(loop, url, opts);
        }
    }
    return fail(Errc::ConfigInvalid,
                url.to_string() + ": unsupported upstream scheme '" + url.scheme + "'");
}

} // namespace resolver::runtime
