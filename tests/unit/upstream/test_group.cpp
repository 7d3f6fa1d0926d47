// SPDX-License-Identifier: MIT
// The failover group (issue 12 defects 5 and 7): answers are checked against their query
// and a bad one is retried and named for what it is; each member has an in-flight cap.
// Members are scripted upstreams completing when the test says so: no sockets, no clock.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "resolver/upstream/group.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;
using upstream::Exchange;
using upstream::GroupLimits;
using upstream::UpstreamGroup;

namespace {

std::vector<std::uint8_t> query(std::uint16_t id, const char* name = "www.example.com") {
    wire::Message m;
    m.id = id;
    m.set_flag(wire::kFlagRd, true);
    m.question = {wire::Question{*wire::Name::from_text(name), wire::rrtype::A, 1}};
    return wire::serialize(m);
}

/// The answer to `q`, then changed by `edit`.
std::vector<std::uint8_t> answer(const std::vector<std::uint8_t>& q,
                                 void (*edit)(wire::Message&) = nullptr) {
    wire::Message m = *wire::parse(q).message;
    m.set_flag(wire::kFlagQr, true);
    if (edit != nullptr) {
        edit(m);
    }
    return wire::serialize(m);
}

/// Holds every send until answer_next() or fail_next() completes the oldest one.
class Scripted final : public upstream::Upstream {
public:
    explicit Scripted(std::string url) : url_(std::move(url)) {}
    void send(std::vector<std::uint8_t> q, upstream::Completion done) override {
        queue_.push_back({std::move(q), std::move(done)});
        ++sends;
    }
    [[nodiscard]] const std::string& url() const override { return url_; }
    [[nodiscard]] bool keeps_truncated() const override { return keep_tc; }

    void reply(std::vector<std::uint8_t> wire) {
        auto p = take();
        Exchange ex;
        ex.wire = std::move(wire);
        ex.server = url_;
        p.done(std::move(ex));
    }
    void answer_next(void (*edit)(wire::Message&) = nullptr) {
        reply(answer(queue_.front().query, edit));
    }
    void fail_next(Error e) { take().done(std::move(e)); }
    [[nodiscard]] std::size_t waiting() const { return queue_.size(); }

    int sends = 0;
    bool keep_tc = false;

private:
    struct Held {
        std::vector<std::uint8_t> query;
        upstream::Completion done;
    };
    Held take() {
        REQUIRE_FALSE(queue_.empty());
        Held h = std::move(queue_.front());
        queue_.pop_front();
        return h;
    }
    std::string url_;
    std::deque<Held> queue_;
};

struct Outcome {
    bool done = false;
    Result<Exchange> result = fail(Errc::Internal, "not completed");
};

struct Group {
    explicit Group(int members, GroupLimits limits = {}) {
        std::vector<upstream::UpstreamPtr> ms;
        for (int i = 0; i < members; ++i) {
            auto s = std::make_unique<Scripted>("127.0.0.1:" + std::to_string(5300 + i));
            m.push_back(s.get());
            ms.push_back(std::move(s));
        }
        g = std::make_unique<UpstreamGroup>("group", std::move(ms), limits);
    }
    std::shared_ptr<Outcome> send(std::vector<std::uint8_t> q) {
        auto out = std::make_shared<Outcome>();
        g->send(std::move(q), [out](Result<Exchange> r) {
            out->done = true;
            out->result = std::move(r);
        });
        return out;
    }
    std::vector<Scripted*> m;
    std::unique_ptr<UpstreamGroup> g;
};

} // namespace

TEST_SUITE_BEGIN("upstream.group");

TEST_CASE("check_answer names what is wrong with an answer") {
    const auto q = query(0x1234);
    using Edit = void (*)(wire::Message&);
    struct Row {
        Edit edit;
        const char* needle; // nullptr: a valid answer
    };
    const Row rows[] = {
        {nullptr, nullptr},
        {[](wire::Message& m) { m.id = 0x1235; },
         "answer with wrong ID from 127.0.0.1:53 (sent 0x1234, got 0x1235)"},
        {[](wire::Message& m) { m.set_flag(wire::kFlagTc, true); },
         "truncated answer (TC) from 127.0.0.1:53"},
        {[](wire::Message& m) { m.question[0].qtype = wire::rrtype::AAAA; },
         "answer for another question from 127.0.0.1:53"},
        {[](wire::Message& m) { m.question[0].qname = *wire::Name::from_text("x.example"); },
         "answer for another question"},
        {[](wire::Message& m) { m.set_flag(wire::kFlagQr, false); },
         "a query instead of an answer from 127.0.0.1:53"},
    };
    for (const auto& r : rows) {
        auto e = upstream::check_answer(q, answer(q, r.edit), "127.0.0.1:53", false);
        if (r.needle == nullptr) {
            CHECK_FALSE(e);
            continue;
        }
        REQUIRE(e);
        CHECK(e->code == Errc::UpstreamFailure);
        CHECK(e->detail.find(r.needle) != std::string::npos);
    }
    // Cut bytes: malformed, with the parser's reason.
    auto cut = answer(q);
    cut.resize(cut.size() - 3);
    auto e = upstream::check_answer(q, cut, "127.0.0.1:53", false);
    REQUIRE(e);
    CHECK(e->detail.rfind("malformed answer from 127.0.0.1:53 (", 0) == 0);
    // tc=keep upstreams return TC answers on purpose; empty wire (DoH JSON) is not checked.
    CHECK_FALSE(upstream::check_answer(
        q, answer(q, [](wire::Message& m) { m.set_flag(wire::kFlagTc, true); }), "x", true));
    CHECK_FALSE(upstream::check_answer(q, {}, "x", false));
}

TEST_CASE("a wrong-ID answer is retried on the same member, then failed over") {
    Group grp(2);
    auto out = grp.send(query(7));
    grp.m[0]->answer_next([](wire::Message& m) { m.id = 8; });
    REQUIRE_FALSE(out->done);
    CHECK(grp.m[0]->sends == 2); // retried on the member that sent the bad answer
    grp.m[0]->answer_next([](wire::Message& m) { m.id = 8; });
    REQUIRE_FALSE(out->done);
    CHECK(grp.m[1]->sends == 1); // then the next member
    grp.m[1]->answer_next();
    REQUIRE(out->done);
    REQUIRE(out->result);
    CHECK(grp.g->health(0).invalid_answers == 2);
    CHECK(grp.g->health(0).consecutive_failures == 2);
}

TEST_CASE("every member truncating: SERVFAIL material naming each bad answer") {
    Group grp(1);
    auto out = grp.send(query(9));
    auto tc = [](wire::Message& m) { m.set_flag(wire::kFlagTc, true); };
    grp.m[0]->answer_next(tc);
    grp.m[0]->answer_next(tc);
    REQUIRE(out->done);
    REQUIRE_FALSE(out->result);
    CHECK(out->result.error().code == Errc::UpstreamFailure);
    CHECK(out->result.error().detail == "truncated answer (TC) from 127.0.0.1:5300; "
                                        "truncated answer (TC) from 127.0.0.1:5300");
}

TEST_CASE("a timeout is not retried by the group (the client has retried already)") {
    Group grp(1);
    auto out = grp.send(query(10));
    grp.m[0]->fail_next(fail(Errc::UpstreamTimeout, "127.0.0.1:5300 timed out"));
    REQUIRE(out->done);
    CHECK(grp.m[0]->sends == 1);
    CHECK(out->result.error().code == Errc::UpstreamTimeout);
}

TEST_CASE("the in-flight cap per member: overflow fails over, then fails with Overloaded") {
    GroupLimits limits;
    limits.max_in_flight = 2;
    Group grp(2, limits);
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 5; ++i) {
        outs.push_back(grp.send(query(static_cast<std::uint16_t>(100 + i))));
    }
    CHECK(grp.m[0]->waiting() == 2);
    CHECK(grp.m[1]->waiting() == 2); // the third and fourth went to the next member
    REQUIRE(outs[4]->done);          // the fifth found no room anywhere: at once
    REQUIRE_FALSE(outs[4]->result);
    CHECK(outs[4]->result.error().code == Errc::Overloaded);
    CHECK(outs[4]->result.error().detail ==
          "127.0.0.1:5300: 2 queries in flight, its cap (max_in_flight_per_upstream); "
          "127.0.0.1:5301: 2 queries in flight, its cap (max_in_flight_per_upstream)");
    CHECK(grp.g->health(0).rejected_at_cap == 3); // queries 3, 4 and 5 passed it over
    CHECK(grp.g->health(1).rejected_at_cap == 1);
    CHECK(grp.g->health(0).in_flight == 2);
    // Room again once answers come back; a cap rejection is not a health failure.
    grp.m[0]->answer_next();
    CHECK(grp.g->health(0).in_flight == 1);
    CHECK(grp.g->health(0).consecutive_failures == 0);
    auto later = grp.send(query(200));
    CHECK(grp.m[0]->waiting() == 2);
    CHECK_FALSE(later->done);
}

TEST_SUITE_END();
