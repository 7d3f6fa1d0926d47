// SPDX-License-Identifier: MIT
// Resent answers (stages::ResentAnswers): a repeated cache hit gets the bytes last sent for
// the same query again, without being decoded, evaluated or built. Proven against the full path:
// two runners, one resending and one not, see the same random stream of queries and clock steps and
// must send the same bytes, count the same cache and decision statistics, and ask the upstream the
// same questions.
#include <random>

#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;
using namespace std::chrono_literals;

namespace {

void script(Lab& lab) {
    lab.upstream(
        "www.example.com", wire::rrtype::A,
        answering({"www.example.com. 30 IN A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.11"}));
    Script aaaa = answering({"www.example.com. 5 IN AAAA 2001:db8::10"});
    aaaa.ad = true; // AD reaches only clients that asked with DO or AD (RFC 6840 §5.8)
    lab.upstream("www.example.com", wire::rrtype::AAAA, aaaa);
    lab.upstream("mail.example.com", wire::rrtype::A,
                 answering({"mail.example.com. 60 IN CNAME www.example.com.",
                            "www.example.com. 20 IN A 192.0.2.10"}));
    lab.upstream("nx.example.com", wire::rrtype::A,
                 negative(wire::rcode::NxDomain,
                          {"example.com. 10 IN SOA ns.example.com. host.example.com. 1 2 3 4 7"}));
    std::vector<std::string> txt;
    for (int i = 0; i < 12; ++i) {
        txt.push_back("big.example.com. 120 IN TXT \"" + std::string(60, 'a' + i) + "\"");
    }
    lab.upstream("big.example.com", wire::rrtype::TXT, answering(txt)); // truncated at 512
    lab.upstream("badip.example.com", wire::rrtype::A,                  // blocked after resolution
                 answering({"badip.example.com. 300 IN A 192.0.2.66"}));
}

/// `name` with each letter's case drawn at random (clients that use 0x20 do this).
std::string mixed_case(const std::string& name, std::mt19937& rng) {
    std::string out = name;
    for (char& c : out) {
        if (c >= 'a' && c <= 'z' && rng() % 4 == 0) {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return out;
}

} // namespace

TEST_CASE("resent answers: byte for byte what the full path sends, over a random stream") {
    Lab resending(sample_policy(3600));
    Lab full(sample_policy(3600));
    stages::ResentAnswers kept(64); // small: the table also starts afresh under the stream
    resending.env().resent = &kept;
    script(resending);
    script(full);
    std::mt19937 rng(20261202);
    const std::vector<std::pair<std::string, std::uint16_t>> questions = {
        {"www.example.com", wire::rrtype::A},     {"www.example.com", wire::rrtype::AAAA},
        {"mail.example.com", wire::rrtype::A},    {"nx.example.com", wire::rrtype::A},
        {"big.example.com", wire::rrtype::TXT},   {"badip.example.com", wire::rrtype::A},
        {"blocked.example.com", wire::rrtype::A}, {"unscripted.example.com", wire::rrtype::A},
    };
    const std::vector<std::uint16_t> sizes = {0, 512, 1232, 4096};
    const std::vector<std::string> sources = {"127.0.0.1", "192.0.2.200", "203.0.113.9"};
    std::vector<std::chrono::milliseconds> steps(400, 0ms); // about 0.1 s a query on average
    steps.insert(steps.end(), {50ms, 250ms, 1000ms, 7000ms, 40000ms});
    // A pool of client queries (name, case, EDNS size, flags, source, transport), each asked
    // again and again with fresh IDs, one in twenty replaced by a new one: repeats are what
    // resending serves, and every kind of difference between two queries occurs.
    struct Variant {
        wire::Message q;
        net::TransportInfo t;
    };
    auto variant = [&] {
        const auto& [name, type] = questions[rng() % questions.size()];
        Variant v{
            query(rng() % 3 == 0 ? mixed_case(name, rng) : name, type, sizes[rng() % sizes.size()]),
            {}};
        if (v.q.edns && rng() % 3 == 0) {
            v.q.edns->dnssec_ok = true;
        }
        v.q.set_flag(wire::kFlagCd, rng() % 5 == 0);
        v.q.set_flag(wire::kFlagAd, rng() % 5 == 0);
        const std::string& src = sources[rng() % sources.size()];
        v.t = rng() % 4 == 0 ? stream(net::Transport::Tcp, src) : udp_from(src);
        return v;
    };
    std::vector<Variant> pool;
    for (int i = 0; i < 24; ++i) {
        pool.push_back(variant());
    }
    for (int i = 0; i < 4000; ++i) {
        if (rng() % 20 == 0) {
            pool[rng() % pool.size()] = variant();
        }
        Variant& v = pool[rng() % pool.size()];
        v.q.id = static_cast<std::uint16_t>(rng());
        const auto& t = v.t;
        const auto bytes = wire::serialize(v.q);
        const auto step = steps[rng() % steps.size()];
        resending.clock().advance(step);
        full.clock().advance(step);
        auto a = resending.run_bytes(bytes, t);
        auto b = full.run_bytes(bytes, t);
        INFO("query ", i, ": ", v.q.question[0].qname.to_text(), " ",
             wire::type_name(v.q.question[0].qtype));
        REQUIRE(a.ctx->disposition == b.ctx->disposition);
        CHECK(a.ctx->wire_out == b.ctx->wire_out);
        CHECK(a.ctx->rcode == b.ctx->rcode);
        CHECK(a.ctx->min_ttl == b.ctx->min_ttl);
        CHECK(a.ctx->truncated == b.ctx->truncated);
        CHECK(a.ctx->source == b.ctx->source);
        CHECK(a.ctx->cache_age_s == b.ctx->cache_age_s);
        CHECK(a.ctx->upstream_serial == b.ctx->upstream_serial);
        CHECK(a.asked.size() == b.asked.size());
        CHECK_FALSE(b.ctx->resent);
        // What metrics and dnstap read besides the bytes: the verdict and the location.
        REQUIRE(bool(a.ctx->evaluation) == bool(b.ctx->evaluation));
        if (b.ctx->evaluation) {
            CHECK(a.ctx->evaluation->decision == b.ctx->evaluation->decision);
        }
        auto location = [](const stages::QueryContext& c) {
            return c.location.location != nullptr ? c.location.location->name : "";
        };
        CHECK(location(*a.ctx) == location(*b.ctx));
    }
    const auto ca = resending.cache().stats();
    const auto cb = full.cache().stats();
    CHECK(ca.hits == cb.hits);
    CHECK(ca.misses == cb.misses);
    CHECK(ca.inserts == cb.inserts);
    CHECK(ca.expired == cb.expired);
    CHECK(ca.evictions == cb.evictions);
    // A resent answer reuses its decision without looking it up: the rest are the same.
    const auto& da = resending.decisions().stats();
    const auto& db = full.decisions().stats();
    CHECK(da.hits + kept.stats().resent == db.hits);
    CHECK(da.misses == db.misses);
    CHECK(da.expired == db.expired);
    // The stream must exercise the path it proves: most repeated hits are resent.
    MESSAGE("cache hits: ", cb.hits, ", resent: ", kept.stats().resent);
    CHECK(kept.stats().resent > cb.hits / 2);
}

TEST_CASE("resent answers: only the same bytes, the same cache entry, the same age") {
    Lab lab(sample_policy());
    stages::ResentAnswers kept;
    lab.env().resent = &kept;
    script(lab);
    const auto& stats = kept.stats();
    const auto bytes = wire::serialize(query("www.example.com", wire::rrtype::A, 1232, 0x0101));
    auto first = lab.run_bytes(bytes);  // upstream
    auto second = lab.run_bytes(bytes); // cache hit, built in full, kept
    CHECK(first.ctx->source == stages::AnswerSource::Upstream);
    CHECK(second.ctx->source == stages::AnswerSource::Cache);
    CHECK_FALSE(second.ctx->resent);
    CHECK(stats.resent == 0);
    CHECK(stats.kept == 1);

    auto third =
        lab.run_bytes(wire::serialize(query("www.example.com", wire::rrtype::A, 1232, 0xBEEF)));
    CHECK(third.ctx->resent);
    CHECK(stats.resent == 1);
    CHECK(third.sent->id == 0xBEEF); // the query's own ID
    CHECK(third.ctx->wire_out.size() == second.ctx->wire_out.size());
    CHECK(std::equal(third.ctx->wire_out.begin() + 2, third.ctx->wire_out.end(),
                     second.ctx->wire_out.begin() + 2));
    CHECK_FALSE(third.ctx->query.has_value()); // nothing was decoded or built
    CHECK_FALSE(third.ctx->response.has_value());
    CHECK(third.ctx->source == stages::AnswerSource::Cache);
    CHECK(third.ctx->evaluation == second.ctx->evaluation);
    CHECK(lab.cache().stats().hits == 2); // counted as the lookup it replaces

    // Another case of the name is other bytes: built in full, its case echoed.
    auto upper = lab.run(query("WWW.example.com", wire::rrtype::A, 1232, 0x0101));
    CHECK_FALSE(upper.ctx->resent);
    CHECK(upper.sent->question[0].qname.to_text() == "WWW.example.com.");
    // The same bytes over TCP (another size limit) or from another client: built in full.
    CHECK_FALSE(lab.run_bytes(bytes, stream(net::Transport::Tcp)).ctx->resent);
    CHECK(lab.run_bytes(bytes, stream(net::Transport::Tcp)).ctx->resent);
    CHECK_FALSE(lab.run_bytes(bytes, udp_from("192.0.2.200")).ctx->resent);
    CHECK(lab.run_bytes(bytes).ctx->resent);

    // A second later the TTLs are a second lower: built in full, then resent again.
    lab.clock().advance(1s);
    auto older = lab.run_bytes(bytes);
    CHECK_FALSE(older.ctx->resent);
    CHECK(older.ctx->cache_age_s == 1);
    CHECK(answers(*older.sent) == std::vector<std::string>{"www.example.com. 29 A 192.0.2.10",
                                                           "www.example.com. 299 A 192.0.2.11"});
    CHECK(lab.run_bytes(bytes).ctx->resent);

    // The cache entry gone (cleared): the upstream is asked again, nothing resent.
    lab.cache().clear();
    const auto before = stats.resent;
    auto fresh = lab.run_bytes(bytes);
    CHECK(fresh.ctx->source == stages::AnswerSource::Upstream);
    CHECK(fresh.asked.size() == 1);
    CHECK(stats.resent == before);

    // Past the answer's TTL the entry has expired: asked again too.
    CHECK(lab.run_bytes(bytes).ctx->source == stages::AnswerSource::Cache);
    CHECK(lab.run_bytes(bytes).ctx->resent);
    lab.clock().advance(31s);
    auto expired = lab.run_bytes(bytes);
    CHECK(expired.ctx->source == stages::AnswerSource::Upstream);
}

TEST_CASE("resent answers: a decision's time ends them, and a new policy") {
    // #900 blocks gambling (casino.example.com, category 99) on weekday evenings in Paris.
    Lab lab(sample_policy());
    stages::ResentAnswers kept;
    lab.env().resent = &kept;
    lab.upstream("casino.example.com", wire::rrtype::A,
                 answering({"casino.example.com. 300 IN A 192.0.2.109"}));
    // 2024-07-03 (a Wednesday) 15:59:30.5 UTC = 17:59:30.5 in Paris: just before 18:00.
    lab.clock() = core::ManualClock(std::chrono::system_clock::time_point(
        std::chrono::seconds(1720022370) + std::chrono::milliseconds(500)));
    const auto bytes = wire::serialize(query("casino.example.com"));
    lab.run_bytes(bytes);         // cached at 17:59:30.5
    lab.clock().advance(29100ms); // 17:59:59.6: 29 s old
    lab.run_bytes(bytes);
    auto allowed = lab.run_bytes(bytes);
    CHECK(allowed.ctx->resent);
    CHECK(answers(*allowed.sent) ==
          std::vector<std::string>{"casino.example.com. 271 A 192.0.2.109"});
    // 18:00:00.4: the schedule has started while the cached answer is still 29 s old, so
    // only the decision's end keeps the allowed answer from being sent again.
    lab.clock().advance(800ms);
    auto blocked = lab.run_bytes(bytes);
    CHECK_FALSE(blocked.ctx->resent);
    CHECK(blocked.ctx->evaluation->decision == policy::ResolverDecision::BlockedByCategory);
    CHECK(answers(*blocked.sent) == std::vector<std::string>{"casino.example.com. 60 A 0.0.0.0"});

    // Another snapshot (a reload): another key, nothing of the old one is sent.
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    const auto www = wire::serialize(query("www.example.com"));
    lab.run_bytes(www);
    lab.run_bytes(www);
    CHECK(lab.run_bytes(www).ctx->resent);
    auto next = std::make_shared<stages::PolicySnapshot>(*lab.env().policy);
    next->generation += 1;
    lab.env().policy = next;
    CHECK_FALSE(lab.run_bytes(www).ctx->resent);
}

TEST_CASE("resent answers: never a blocked answer, never DoT or DoH, never without a table") {
    Lab lab(sample_policy());
    stages::ResentAnswers kept;
    lab.env().resent = &kept;
    script(lab);
    const auto bytes = wire::serialize(query("badip.example.com"));
    for (int i = 0; i < 4; ++i) {
        auto o = lab.run_bytes(bytes);
        CHECK(answers(*o.sent) == std::vector<std::string>{"badip.example.com. 60 A 0.0.0.0"});
        CHECK_FALSE(o.ctx->resent);
    }
    const auto www = wire::serialize(query("www.example.com"));
    for (auto t : {net::Transport::Tls, net::Transport::Https}) {
        for (int i = 0; i < 3; ++i) {
            CHECK_FALSE(lab.run_bytes(www, stream(t)).ctx->resent);
        }
    }
    CHECK(kept.size() == 0);
    // A query larger than kMaxBytes (padded with an EDNS option over TCP) is never kept: the
    // table holds queries as keys, and must stay bounded whatever clients send.
    wire::Message big = query("www.example.com");
    big.edns->options.push_back({12, std::string(stages::ResentAnswers::kMaxBytes, '\0')});
    const auto big_bytes = wire::serialize(big);
    REQUIRE(big_bytes.size() > stages::ResentAnswers::kMaxBytes);
    for (int i = 0; i < 3; ++i) {
        CHECK_FALSE(lab.run_bytes(big_bytes, stream(net::Transport::Tcp)).ctx->resent);
    }
    CHECK(kept.size() == 0);
    Lab off(sample_policy());
    script(off);
    for (int i = 0; i < 4; ++i) {
        CHECK_FALSE(off.run_bytes(www).ctx->resent);
    }
}
