// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resolver/upstream/upstream.hpp"

namespace resolver::upstream {

/// Health of one member, as the group sees it.
struct Health {
    unsigned consecutive_failures = 0;
    std::chrono::steady_clock::time_point down_until{}; // skipped until then (unless all are down)
    std::chrono::milliseconds backoff{0};
    double srtt_ms = 0;                // smoothed answer time, for logs and metrics
    std::uint64_t answers = 0;         // valid answers so far (srtt_ms means something)
    std::size_t in_flight = 0;         // queries sent and not completed yet
    std::uint64_t rejected_at_cap = 0; // queries not sent: in_flight was at the cap
    std::uint64_t invalid_answers = 0; // answers that were not an answer to the query
};

/// Limits of a group (config [resolver]).
struct GroupLimits {
    unsigned fail_threshold = 1; // consecutive failures before a member is backed off
    /// Queries one member may have outstanding (`max_in_flight_per_upstream`). Beyond it a
    /// query goes to the next member, and when every member is full it fails at once with
    /// Errc::Overloaded: a dead upstream with a burst of 100k queries waiting on it held
    /// 50 MB until the timeouts (issue 12); the cap bounds that memory and time.
    std::size_t max_in_flight = 4096;
    /// Further tries on the same member after an answer that is not a valid answer to the
    /// query (wrong ID, truncated, malformed): a late or spoofed datagram may have won the
    /// race, the next one may be right.
    unsigned invalid_answer_retries = 1;
    /// Order the members that are up by speed instead of configuration order: members that
    /// never answered first (in configuration order, so each is measured once), then the
    /// others by smoothed answer time. Gateway's custom resolvers: "caches the fastest
    /// resolver and uses it for later queries" (developers.cloudflare.com/cloudflare-one/
    /// traffic-policies/resolver-policies/).
    bool prefer_fastest = false;
};

/// Several upstreams with failover. A query goes to the first member that is up, in
/// configuration order; on an error it moves to the next untried member. A member that
/// fails `fail_threshold` times in a row is skipped for a backoff (1 s doubling to 30 s),
/// then given one query again, so a dead server costs at most one timeout per backoff
/// window instead of stalling every query. When every member is down, the one whose
/// backoff ends first is still tried: a group never refuses to try.
///
/// Every answer is checked against its query before it is accepted (RFC 5452 §9.1: the ID
/// and the question; and whole, not truncated): a failed check is that member's error,
/// named for what it is ("answer with wrong ID from X", "truncated answer (TC) from X",
/// "malformed answer from X"), retried and then failed over like any other error.
class UpstreamGroup final : public Upstream {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    UpstreamGroup(
        std::string name, std::vector<UpstreamPtr> members, GroupLimits limits = {},
        Clock clock = [] { return std::chrono::steady_clock::now(); });

    /// Completes with the first valid answer, or with the last member's error, its detail
    /// listing every member's failure ("127.0.0.1:1 connection refused; 127.0.0.1:2 timed
    /// out"). Errc::Overloaded when the last member tried was at its in-flight cap.
    void send(std::vector<std::uint8_t> query, Completion done) override;
    [[nodiscard]] const std::string& url() const override { return name_; }
    void shutdown() override;

    [[nodiscard]] const Health& health(std::size_t i) const { return health_.at(i); }
    [[nodiscard]] std::size_t size() const { return members_.size(); }
    [[nodiscard]] const GroupLimits& limits() const { return limits_; }

private:
    struct Attempt;
    void try_next(std::shared_ptr<Attempt> attempt);
    void on_result(const std::shared_ptr<Attempt>& attempt, std::size_t i,
                   std::chrono::steady_clock::time_point started, Result<Exchange> r);
    void record_failure(std::size_t i, const Error& e, Attempt& attempt);
    std::vector<std::size_t> order() const;

    std::string name_;
    std::vector<UpstreamPtr> members_;
    std::vector<Health> health_;
    GroupLimits limits_;
    Clock clock_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// Why `answer` is not a valid answer to `query`, as the error a client sees (naming
/// `server`), or nullopt when it is one. An empty answer (a DoH JSON or HTTP-status
/// exchange) is not checked. `keep_tc`: the upstream returns truncated answers on purpose.
std::optional<Error> check_answer(std::span<const std::uint8_t> query,
                                  std::span<const std::uint8_t> answer, const std::string& server,
                                  bool keep_tc);

} // namespace resolver::upstream
