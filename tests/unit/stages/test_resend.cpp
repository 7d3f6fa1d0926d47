// SPDX-License-Identifier: MIT
// Resent answers (Environment::reuse_answers): a repeated cache hit gets the bytes last sent
// under its decision again. Proven against the full path: two runners, one resending and one
// not, see the same random stream of queries and clock steps and must send the same bytes,
// count the same cache and decision statistics, and ask the upstream the same questions.
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
    resending.env().reuse_answers = true;
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
    std::vector<std::chrono::milliseconds> steps(40, 0ms);
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
    }
    const auto ca = resending.cache().stats();
    const auto cb = full.cache().stats();
    CHECK(ca.hits == cb.hits);
    CHECK(ca.misses == cb.misses);
    CHECK(ca.inserts == cb.inserts);
    CHECK(ca.expired == cb.expired);
    CHECK(ca.evictions == cb.evictions);
    const auto& da = resending.decisions().stats();
    const auto& db = full.decisions().stats();
    CHECK(da.hits == db.hits);
    CHECK(da.misses == db.misses);
    CHECK(da.expired == db.expired);
    CHECK(db.resent == 0);
    // The stream must exercise the path it proves: most repeated hits are resent.
    MESSAGE("cache hits: ", cb.hits, ", resent: ", da.resent);
    CHECK(da.resent > cb.hits / 4);
}

TEST_CASE("resent answers: only the same bytes, the same cache entry, the same age") {
    Lab lab(sample_policy());
    lab.env().reuse_answers = true;
    script(lab);
    const auto& stats = lab.decisions().stats();
    const auto bytes = wire::serialize(query("www.example.com", wire::rrtype::A, 1232, 0x0101));
    auto first = lab.run_bytes(bytes);  // upstream
    auto second = lab.run_bytes(bytes); // cache hit, built in full, remembered
    CHECK(first.ctx->source == stages::AnswerSource::Upstream);
    CHECK(second.ctx->source == stages::AnswerSource::Cache);
    CHECK_FALSE(second.ctx->resent);
    CHECK(stats.resent == 0);

    auto third =
        lab.run_bytes(wire::serialize(query("www.example.com", wire::rrtype::A, 1232, 0xBEEF)));
    CHECK(third.ctx->resent);
    CHECK(stats.resent == 1);
    CHECK(third.sent->id == 0xBEEF); // the query's own ID
    CHECK(answers(*third.sent) == answers(*second.sent));
    CHECK(third.ctx->wire_out[2] == second.ctx->wire_out[2]);
    CHECK_FALSE(third.ctx->response.has_value()); // nothing was built

    // Another case of the name is other bytes: built in full, its case echoed.
    auto upper = lab.run(query("WWW.example.com", wire::rrtype::A, 1232, 0x0101));
    CHECK_FALSE(upper.ctx->resent);
    CHECK(upper.sent->question[0].qname.to_text() == "WWW.example.com.");
    // The same bytes over TCP have another size limit: built in full.
    auto tcp = lab.run_bytes(bytes, stream(net::Transport::Tcp));
    CHECK_FALSE(tcp.ctx->resent);
    auto again = lab.run_bytes(bytes);
    CHECK(again.ctx->resent == false); // TCP's answer is the one remembered now
    auto resent = lab.run_bytes(bytes);
    CHECK(resent.ctx->resent);

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

TEST_CASE("resent answers: never a blocked answer, never without reuse_answers") {
    Lab lab(sample_policy());
    lab.env().reuse_answers = true;
    script(lab);
    const auto bytes = wire::serialize(query("badip.example.com"));
    for (int i = 0; i < 4; ++i) {
        auto o = lab.run_bytes(bytes);
        CHECK(answers(*o.sent) == std::vector<std::string>{"badip.example.com. 60 A 0.0.0.0"});
        CHECK_FALSE(o.ctx->resent);
    }
    Lab off(sample_policy());
    script(off);
    const auto www = wire::serialize(query("www.example.com"));
    for (int i = 0; i < 4; ++i) {
        CHECK_FALSE(off.run_bytes(www).ctx->resent);
    }
    CHECK(off.decisions().stats().resent == 0);
}
