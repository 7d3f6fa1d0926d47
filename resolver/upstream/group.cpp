// SPDX-License-Identifier: MIT
#include "resolver/upstream/group.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "resolver/wire/message.hpp"

namespace resolver::upstream {

struct UpstreamGroup::Attempt {
    std::vector<std::uint8_t> query;
    Completion done;
    std::vector<std::size_t> order;
    std::size_t next = 0;          // index into order of the member to try next
    unsigned same_member_left = 0; // retries left on order[next - 1] after an invalid answer
    std::string failures;
    Errc last_code = Errc::UpstreamFailure;
};

namespace {

std::string hex16(std::uint16_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", v);
    return buf;
}

} // namespace

std::optional<Error> check_answer(std::span<const std::uint8_t> query,
                                  std::span<const std::uint8_t> answer, const std::string& server,
                                  bool keep_tc) {
    if (answer.empty()) {
        return std::nullopt;
    }
    auto a = wire::parse(answer);
    if (!a) {
        // A cut datagram reads as truncated bytes: say where it ended.
        return fail(Errc::UpstreamFailure,
                    "malformed answer from " + server + " (" + a.failure.reason + ")");
    }
    auto q = wire::parse(query);
    if (!q || q.message->question.size() != 1) {
        return std::nullopt; // not our query format (a probe's raw bytes): nothing to compare
    }
    const wire::Message& am = *a.message;
    const wire::Message& qm = *q.message;
    if (am.id != qm.id) {
        return fail(Errc::UpstreamFailure, "answer with wrong ID from " + server + " (sent " +
                                               hex16(qm.id) + ", got " + hex16(am.id) + ")");
    }
    if (!am.flag(wire::kFlagQr)) {
        return fail(Errc::UpstreamFailure, "a query instead of an answer from " + server);
    }
    if (am.question.size() != 1 || !(am.question[0].qname == qm.question[0].qname) ||
        am.question[0].qtype != qm.question[0].qtype ||
        am.question[0].qclass != qm.question[0].qclass) {
        return fail(Errc::UpstreamFailure, "answer for another question from " + server);
    }
    if (am.flag(wire::kFlagTc) && !keep_tc) {
        // RFC 1035 §4.1.1: TC means the answer did not fit; what arrived is not the answer.
        // c-ares retries truncated UDP answers over TCP itself, so this one came from a
        // stream, the fixture or a fault plan, where nothing larger is left to try.
        return fail(Errc::UpstreamFailure, "truncated answer (TC) from " + server);
    }
    return std::nullopt;
}

UpstreamGroup::UpstreamGroup(std::string name, std::vector<UpstreamPtr> members, GroupLimits limits,
                             Clock clock)
    : name_(std::move(name)), members_(std::move(members)), health_(members_.size()),
      limits_(limits), clock_(std::move(clock)) {
    limits_.fail_threshold = std::max(1u, limits_.fail_threshold);
    limits_.max_in_flight = std::max<std::size_t>(1, limits_.max_in_flight);
}

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
    if (limits_.prefer_fastest) {
        std::stable_sort(up.begin(), up.end(), [&](std::size_t a, std::size_t b) {
            const Health& ha = health_[a];
            const Health& hb = health_[b];
            if ((ha.answers == 0) != (hb.answers == 0)) {
                return ha.answers == 0;
            }
            return ha.answers != 0 && ha.srtt_ms < hb.srtt_ms;
        });
    }
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

void UpstreamGroup::record_failure(std::size_t /*i*/, const Error& e, Attempt& attempt) {
    if (!attempt.failures.empty()) {
        attempt.failures += "; ";
    }
    attempt.failures += e.detail;
    attempt.last_code = e.code;
}

void UpstreamGroup::try_next(std::shared_ptr<Attempt> attempt) {
    std::size_t i = 0;
    if (attempt->same_member_left > 0 && attempt->next > 0) {
        --attempt->same_member_left;
        i = attempt->order[attempt->next - 1];
    } else {
        // The next member with room; members at their cap are passed over, not failed.
        while (attempt->next < attempt->order.size() &&
               health_[attempt->order[attempt->next]].in_flight >= limits_.max_in_flight) {
            const std::size_t full = attempt->order[attempt->next++];
            ++health_[full].rejected_at_cap;
            record_failure(full,
                           fail(Errc::Overloaded,
                                members_[full]->url() + ": " +
                                    std::to_string(limits_.max_in_flight) +
                                    " queries in flight, its cap (max_in_flight_per_upstream)"),
                           *attempt);
        }
        if (attempt->next >= attempt->order.size()) {
            auto done = std::move(attempt->done);
            done(fail(attempt->last_code, attempt->failures));
            return;
        }
        i = attempt->order[attempt->next++];
        attempt->same_member_left = limits_.invalid_answer_retries;
    }
    const auto started = clock_();
    std::weak_ptr<bool> alive = alive_;
    ++health_[i].in_flight;
    members_[i]->send(attempt->query, [this, alive, attempt, i, started](Result<Exchange> r) {
        if (alive.expired()) {
            auto done = std::move(attempt->done);
            done(r.has_value() ? std::move(r) : Result<Exchange>(r.error()));
            return;
        }
        --health_[i].in_flight;
        on_result(attempt, i, started, std::move(r));
    });
}

void UpstreamGroup::on_result(const std::shared_ptr<Attempt>& attempt, std::size_t i,
                              std::chrono::steady_clock::time_point started, Result<Exchange> r) {
    Health& h = health_[i];
    bool invalid = false;
    if (r) {
        const std::string& server = r->server.empty() ? members_[i]->url() : r->server;
        if (auto bad =
                check_answer(attempt->query, r->wire, server, members_[i]->keeps_truncated())) {
            ++h.invalid_answers;
            invalid = true;
            r = std::move(*bad);
        }
    }
    if (r) {
        h.consecutive_failures = 0;
        h.down_until = {};
        h.backoff = std::chrono::milliseconds(0);
        const double ms = std::chrono::duration<double, std::milli>(clock_() - started).count();
        h.srtt_ms = h.answers == 0 ? ms : 0.8 * h.srtt_ms + 0.2 * ms;
        ++h.answers;
        auto done = std::move(attempt->done);
        done(std::move(r));
        return;
    }
    if (++h.consecutive_failures >= limits_.fail_threshold) {
        h.backoff = std::clamp(h.backoff * 2, std::chrono::milliseconds(1000),
                               std::chrono::milliseconds(30000));
        h.down_until = clock_() + h.backoff;
    }
    record_failure(i, r.error(), *attempt);
    if (!invalid) {
        attempt->same_member_left = 0; // timeouts and refusals: the client has retried
    }
    try_next(attempt);
}

void UpstreamGroup::shutdown() {
    for (auto& m : members_) {
        m->shutdown();
    }
}

} // namespace resolver::upstream
