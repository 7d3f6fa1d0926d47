// SPDX-License-Identifier: MIT
#include "resolver/upstream/group.hpp"

#include <algorithm>
#include <numeric>

namespace resolver::upstream {

struct UpstreamGroup::Attempt {
    std::vector<std::uint8_t> query;
    Completion done;
    std::vector<std::size_t> order;
    std::size_t next = 0;
    std::string failures;
    Errc last_code = Errc::UpstreamFailure;
};

UpstreamGroup::UpstreamGroup(std::string name, std::vector<UpstreamPtr> members,
                             unsigned fail_threshold, Clock clock)
    : name_(std::move(name)), members_(std::move(members)), health_(members_.size()),
      fail_threshold_(std::max(1u, fail_threshold)), clock_(std::move(clock)) {}

std::vector<std::size_t> UpstreamGroup::order() const {
    const auto now = clock_();
    std::vector<std::size_t> up;
    std::vector<std::size_t> down;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        (health_[i].down_until > now ? down : up).push_back(i);
    }
    // Down members whose backoff ends soonest come first; they are tried only after every
    // member that is up has failed this query.
    std::sort(down.begin(), down.end(), [&](std::size_t a, std::size_t b) {
        return health_[a].down_until < health_[b].down_until;
    });
    if (up.empty() && !down.empty()) {
        up.push_back(down.front());
        down.erase(down.begin());
    }
    // A query never waits on members known to be down when others are up.
    (void)down;
    return up;
}

void UpstreamGroup::send(std::vector<std::uint8_t> query, Completion done) {
    auto attempt = std::make_shared<Attempt>();
    attempt->query = std::move(query);
    attempt->done = std::move(done);
    attempt->order = order();
    if (attempt->order.empty()) {
        attempt->done(fail(Errc::UpstreamFailure, name_ + ": no upstream configured"));
        return;
    }
    try_next(std::move(attempt));
}

void UpstreamGroup::try_next(std::shared_ptr<Attempt> attempt) {
    if (attempt->next >= attempt->order.size()) {
        auto done = std::move(attempt->done);
        done(fail(attempt->last_code, attempt->failures));
        return;
    }
    const std::size_t i = attempt->order[attempt->next++];
    const auto started = clock_();
    std::weak_ptr<bool> alive = alive_;
    members_[i]->send(attempt->query, [this, alive, attempt, i, started](Result<Exchange> r) {
        if (alive.expired()) {
            auto done = std::move(attempt->done);
            done(r.has_value() ? std::move(r) : Result<Exchange>(r.error()));
            return;
        }
        Health& h = health_[i];
        if (r) {
            h.consecutive_failures = 0;
            h.down_until = {};
            h.backoff = std::chrono::milliseconds(0);
            const double ms = std::chrono::duration<double, std::milli>(clock_() - started).count();
            h.srtt_ms = h.srtt_ms == 0 ? ms : 0.8 * h.srtt_ms + 0.2 * ms;
            auto done = std::move(attempt->done);
            done(std::move(r));
            return;
        }
        if (++h.consecutive_failures >= fail_threshold_) {
            h.backoff = std::clamp(h.backoff * 2, std::chrono::milliseconds(1000),
                                   std::chrono::milliseconds(30000));
            h.down_until = clock_() + h.backoff;
        }
        if (!attempt->failures.empty()) {
            attempt->failures += "; ";
        }
        attempt->failures += r.error().detail;
        attempt->last_code = r.error().code;
        try_next(attempt);
    });
}

void UpstreamGroup::shutdown() {
    for (auto& m : members_) {
        m->shutdown();
    }
}

} // namespace resolver::upstream
