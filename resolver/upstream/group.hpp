// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "resolver/upstream/upstream.hpp"

namespace resolver::upstream {

/// Health of one member, as the group sees it.
struct Health {
    unsigned consecutive_failures = 0;
    std::chrono::steady_clock::time_point down_until{}; // skipped until then (unless all are down)
    std::chrono::milliseconds backoff{0};
    double srtt_ms = 0; // smoothed answer time, for logs and metrics
};

/// Several upstreams with failover. A query goes to the first member that is up, in
/// configuration order; on an error it moves to the next untried member. A member that
/// fails `fail_threshold` times in a row is skipped for a backoff (1 s doubling to 30 s),
/// then given one query again, so a dead server costs at most one timeout per backoff
/// window instead of stalling every query. When every member is down, the one whose
/// backoff ends first is still tried: a group never refuses to try.
class UpstreamGroup final : public Upstream {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    UpstreamGroup(
        std::string name, std::vector<UpstreamPtr> members, unsigned fail_threshold = 1,
        Clock clock = [] { return std::chrono::steady_clock::now(); });

    /// Completes with the first answer, or with the last member's error, its detail listing
    /// every member's failure ("127.0.0.1:1 connection refused; 127.0.0.1:2 timed out").
    void send(std::vector<std::uint8_t> query, Completion done) override;
    [[nodiscard]] const std::string& url() const override { return name_; }
    void shutdown() override;

    [[nodiscard]] const Health& health(std::size_t i) const { return health_.at(i); }
    [[nodiscard]] std::size_t size() const { return members_.size(); }

private:
    struct Attempt;
    void try_next(std::shared_ptr<Attempt> attempt);
    std::vector<std::size_t> order() const;

    std::string name_;
    std::vector<UpstreamPtr> members_;
    std::vector<Health> health_;
    unsigned fail_threshold_;
    Clock clock_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace resolver::upstream
