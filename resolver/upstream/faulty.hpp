// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/fault/live_plan.hpp"
#include "resolver/upstream/delayed_completions.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/url.hpp"

namespace resolver::upstream {

/// Fault injection in front of ANY upstream (`udp://`, `tcp://`, `tls://`, `https://` URLs
/// with `fault=SPEC` or `faults=FILE`; the same FaultPlan as the fixture, docs/fixtures.md).
/// Rules match the query name, type and the wrapped upstream's transport (its URL scheme):
///  - drop: the query is not sent; completes with UpstreamTimeout after timeout_ms.
///  - delay: the real answer is delivered delay_ms later (>= timeout_ms acts as drop).
///  - rcode, tc (message faults) and malformed, wrong_id (byte faults): applied to the real
///    answer, which is then handed on unchanged, as damaged bytes from the network would be.
///  - reset=N on tcp/tls/https: the exchange fails with UpstreamFailure "connection reset
///    after N bytes" (a connection cut mid-answer); ignored on udp.
/// Failures of the wrapped upstream pass through untouched. Lives on one loop.
class FaultyUpstream final : public Upstream {
public:
    static Result<std::unique_ptr<FaultyUpstream>> create(uv_loop_t* loop, UpstreamPtr inner,
                                                          std::shared_ptr<fault::LivePlan> plan,
                                                          std::string transport, std::string url,
                                                          unsigned timeout_ms);
    ~FaultyUpstream() override;
    FaultyUpstream(const FaultyUpstream&) = delete;
    FaultyUpstream& operator=(const FaultyUpstream&) = delete;

    void send(std::vector<std::uint8_t> query, Completion done) override;
    [[nodiscard]] const std::string& url() const override { return url_; }
    [[nodiscard]] bool keeps_truncated() const override { return inner_->keeps_truncated(); }
    void shutdown() override;

    /// The plan in force; LivePlan::replace() or reload() switch it for queries sent from
    /// then on.
    [[nodiscard]] fault::LivePlan& fault_plan() const noexcept { return *plan_; }

private:
    FaultyUpstream(uv_loop_t* loop, UpstreamPtr inner, std::shared_ptr<fault::LivePlan> plan,
                   std::string transport, std::string url, unsigned timeout_ms);

    uv_loop_t* loop_;
    UpstreamPtr inner_;
    std::shared_ptr<fault::LivePlan> plan_;
    std::string transport_;
    std::string url_;
    unsigned timeout_ms_;
    bool shut_down_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::unique_ptr<DelayedCompletions> later_; // answers held back by an injected delay
};

/// True when `url` carries `fault=` or `faults=` and is not a `fixture:` URL (the fixture
/// applies its own plan).
bool has_fault_params(const util::Url& url);

} // namespace resolver::upstream
