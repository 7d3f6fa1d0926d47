// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "resolver/cache/cache.hpp"

using namespace resolver;
using namespace std::chrono_literals;

namespace {
wire::Question question(std::string_view name, std::uint16_t type = wire::rrtype::A) {
    return wire::Question{*wire::Name::from_text(name), type, wire::rrclass::IN};
}
wire::Message answer_with(std::string_view name, std::uint32_t ttl) {
    wire::Message m;
    m.flags = wire::kFlagQr | wire::kFlagRa;
    m.question.push_back(question(name));
    m.answer.push_back({*wire::Name::from_text(name), wire::rrtype::A, wire::rrclass::IN, ttl,
                        std::string("\x7f\0\0\1", 4)});
    return m;
}
std::string soa_rdata(std::uint32_t minimum) {
    std::string r = wire::Name::from_text("ns.example")->wire();
    r += wire::Name::from_text("host.example")->wire();
    for (std::uint32_t v : {1u, 2u, 3u, 4u, minimum}) {
        r.push_back(static_cast<char>(v >> 24));
        r.push_back(static_cast<char>((v >> 16) & 0xFF));
        r.push_back(static_cast<char>((v >> 8) & 0xFF));
        r.push_back(static_cast<char>(v & 0xFF));
    }
    return r;
}
} // namespace

TEST_SUITE_BEGIN("cache");

TEST_CASE("a sharded cache keeps the bound over all shards and unique serials") {
    cache::Cache c(10, 86400, 0, 4);
    const auto t0 = cache::Clock::time_point{} + 1000s;
    std::vector<std::uint64_t> serials;
    for (int i = 0; i < 100; ++i) {
        const std::string name = "n" + std::to_string(i) + ".example";
        serials.push_back(c.insert(cache::CacheKey::of(question(name), false, false, "default"),
                                   answer_with(name, 300), "up", t0));
    }
    CHECK(c.size() <= 10);
    CHECK(c.stats().inserts == 100);
    CHECK(c.stats().evictions >= 90);
    std::sort(serials.begin(), serials.end());
    CHECK(std::adjacent_find(serials.begin(), serials.end()) == serials.end());
    CHECK(serials.front() != 0);
}

TEST_CASE("a one-thread cache (no locks) keeps, finds, ages, evicts and counts the same") {
    cache::Cache locked(8, 86400, 0, 1);
    cache::Cache unlocked(8, 86400, 0, 1, true);
    const auto t0 = cache::Clock::time_point{} + 1000s;
    for (int i = 0; i < 40; ++i) {
        const std::string name = "n" + std::to_string(i % 12) + ".example";
        const auto key = cache::CacheKey::of(question(name), false, false, "default");
        const auto now = t0 + std::chrono::seconds(i * 7);
        auto a = locked.lookup(key, now);
        auto b = unlocked.lookup(key, now);
        REQUIRE(a.has_value() == b.has_value());
        if (a) {
            CHECK(a->message.answer[0].ttl == b->message.answer[0].ttl);
            CHECK(locked.still_serves(key, now, a->serial, a->age_s) ==
                  unlocked.still_serves(key, now, b->serial, b->age_s));
        } else {
            CHECK(locked.insert(key, answer_with(name, 60 + i), "up", now) ==
                  unlocked.insert(key, answer_with(name, 60 + i), "up", now));
        }
    }
    const auto x = locked.stats();
    const auto y = unlocked.stats();
    CHECK(x.hits == y.hits);
    CHECK(x.misses == y.misses);
    CHECK(x.inserts == y.inserts);
    CHECK(x.evictions == y.evictions);
    CHECK(x.expired == y.expired);
    CHECK(locked.size() == unlocked.size());
}

TEST_CASE("worker threads share one cache: what one stores the other finds") {
    cache::Cache c(100000, 86400, 0, 8);
    const auto t0 = cache::Clock::time_point{} + 1000s;
    auto key = [](int i) {
        return cache::CacheKey::of(question("w" + std::to_string(i) + ".example"), false, false,
                                   "default");
    };
    std::thread writer([&] {
        for (int i = 0; i < 20000; ++i) {
            c.insert(key(i), answer_with("w" + std::to_string(i) + ".example", 300), "up", t0);
        }
    });
    std::size_t seen = 0;
    std::thread reader([&] {
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 20000; ++i) {
                if (auto hit = c.lookup(key(i), t0 + 1s)) {
                    CHECK(hit->message.answer[0].ttl == 299);
                    ++seen;
                }
            }
        }
    });
    writer.join();
    reader.join();
    for (int i = 0; i < 20000; ++i) {
        REQUIRE(c.lookup(key(i), t0 + 2s));
    }
    CHECK(c.size() == 20000);
    CHECK(seen <= 60000);
}

TEST_CASE("TTLs count down on hits and the entry expires") {
    cache::Cache c;
    const auto t0 = cache::Clock::time_point{} + 1000s;
    const auto key = cache::CacheKey::of(question("www.example.com"), false, false, "default");
    REQUIRE(c.insert(key, answer_with("www.example.com", 300), "up", t0));
    auto hit = c.lookup(key, t0 + 100s);
    REQUIRE(hit);
    CHECK(hit->message.answer[0].ttl == 200);
    CHECK(hit->age_s == 100);
    CHECK_FALSE(c.lookup(key, t0 + 300s));
    CHECK(c.stats().expired == 1);
}

TEST_CASE("lookup_into assigns the whole hit over reused storage, and a miss leaves it alone") {
    cache::Cache c;
    const auto t0 = cache::Clock::time_point{} + 1000s;
    const auto key = cache::CacheKey::of(question("www.example.com"), false, false, "default");
    REQUIRE(c.insert(key, answer_with("www.example.com", 300), "udp://192.0.2.53:53", t0));
    // Storage left by an earlier, bigger answer: nothing of it may survive the assignment.
    cache::CacheHit hit;
    hit.message = answer_with("a-much-longer-name.example.org", 5);
    hit.message.id = 99;
    hit.message.answer.push_back(hit.message.answer[0]);
    hit.message.authority.push_back(hit.message.answer[0]);
    hit.message.edns.emplace();
    hit.upstream = "tls://198.51.100.1:853#a-long-upstream-name.example";
    hit.age_s = 7;
    hit.serial = 12345;
    const cache::CacheHit before = hit;
    const auto other = cache::CacheKey::of(question("other.example.com"), false, false, "default");
    CHECK_FALSE(c.lookup_into(other, t0 + 10s, hit));
    CHECK(hit.message.answer.size() == before.message.answer.size());
    CHECK(hit.upstream == before.upstream);
    CHECK(hit.serial == before.serial);

    REQUIRE(c.lookup_into(key, t0 + 100s, hit));
    const auto fresh = c.lookup(key, t0 + 100s);
    REQUIRE(fresh);
    CHECK(wire::serialize(hit.message) == wire::serialize(fresh->message)); // every field
    REQUIRE(hit.message.answer.size() == 1);
    CHECK(hit.message.answer[0].name == *wire::Name::from_text("www.example.com"));
    CHECK(hit.message.answer[0].ttl == 200);
    CHECK(hit.message.authority.empty());
    CHECK(hit.message.additional.empty());
    CHECK_FALSE(hit.message.edns);
    CHECK(hit.upstream == "udp://192.0.2.53:53");
    CHECK(hit.age_s == 100);
    CHECK(hit.serial == fresh->serial);
    CHECK_FALSE(c.lookup_into(key, t0 + 300s, hit)); // expired as lookup() would be
}

TEST_CASE("keys ignore name case but separate DO, CD, type and route") {
    cache::Cache c;
    const auto t0 = cache::Clock::time_point{} + 10s;
    REQUIRE(c.insert(cache::CacheKey::of(question("WWW.Example.com"), false, false, "r"),
                     answer_with("www.example.com", 60), "up", t0));
    CHECK(c.lookup(cache::CacheKey::of(question("www.example.COM"), false, false, "r"), t0));
    CHECK_FALSE(c.lookup(cache::CacheKey::of(question("www.example.com"), true, false, "r"), t0));
    CHECK_FALSE(c.lookup(cache::CacheKey::of(question("www.example.com"), false, true, "r"), t0));
    CHECK_FALSE(c.lookup(
        cache::CacheKey::of(question("www.example.com", wire::rrtype::AAAA), false, false, "r"),
        t0));
    CHECK_FALSE(
        c.lookup(cache::CacheKey::of(question("www.example.com"), false, false, "other"), t0));
}

TEST_CASE("lowered_wire lowers A-Z only, every octet value at every offset of the word loop") {
    // Eight octets at a time: each of the 256 octet values at each position of a 40-octet
    // label (word and tail positions alike) must come out as the octet-wise rule says.
    for (int v = 0; v < 256; ++v) {
        std::string wire(1, static_cast<char>(40));
        for (int i = 0; i < 40; ++i) {
            wire.push_back(static_cast<char>((i * 7 + v) & 0xFF));
        }
        wire.push_back('\0');
        const auto name = wire::Name::from_wire_unchecked(wire);
        cache::LoweredName buf;
        const auto got = cache::lowered_wire(name, buf);
        REQUIRE(got.size() == wire.size());
        for (std::size_t i = 0; i < wire.size(); ++i) {
            const auto c = static_cast<unsigned char>(wire[i]);
            const auto want = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
            CHECK(got[i] == want);
        }
    }
}

TEST_CASE("a lookup key of views finds what a CacheKey stored, without lower-casing a copy") {
    // The stages look up with CacheKeyRef (the query's name lowered into a stack buffer), and
    // insert with CacheKey: both must hash, shard and compare alike.
    for (const char* name : {"WWW.Example.com", "a.b.C.d.E.f", "xn--BCHER-KVA.example", "."}) {
        const auto q = question(name);
        cache::LoweredName buf;
        CHECK(cache::lowered_wire(q.qname, buf) == q.qname.lowered().wire());
    }
    cache::Cache c(1000, 86400, 0, 4);
    const auto t0 = cache::Clock::time_point{} + 10s;
    const auto stored = question("Mixed.Example.COM");
    REQUIRE(c.insert(cache::CacheKey::of(stored, true, false, "default"),
                     answer_with("mixed.example.com", 60), "up", t0));
    const auto asked = question("mixed.EXAMPLE.com");
    cache::LoweredName buf;
    const auto name = cache::lowered_wire(asked.qname, buf);
    const cache::CacheKeyRef hit(name, asked.qtype, asked.qclass, true, false, "default");
    const cache::CacheKeyRef other_route(name, asked.qtype, asked.qclass, true, false, "r");
    const cache::CacheKeyRef no_do(name, asked.qtype, asked.qclass, false, false, "default");
    CHECK(cache::CacheKeyHash{}(hit) ==
          cache::CacheKeyHash{}(cache::CacheKey::of(stored, true, false, "default")));
    REQUIRE(c.lookup(hit, t0));
    CHECK(c.lookup(hit, t0)->message.answer.size() == 1);
    CHECK_FALSE(c.lookup(other_route, t0));
    CHECK_FALSE(c.lookup(no_do, t0));
}

TEST_CASE("negative answers are cached for min(SOA TTL, SOA minimum) per RFC 2308") {
    cache::Cache c;
    wire::Message nx;
    nx.flags = wire::kFlagQr;
    nx.set_rcode(wire::rcode::NxDomain);
    nx.question.push_back(question("nope.example"));
    nx.authority.push_back({*wire::Name::from_text("example"), wire::rrtype::SOA, wire::rrclass::IN,
                            3600, soa_rdata(30)});
    CHECK(c.cacheable_ttl(nx) == 30u);
    nx.authority[0].ttl = 10;
    CHECK(c.cacheable_ttl(nx) == 10u);
    nx.authority.clear();
    CHECK_FALSE(c.cacheable_ttl(nx)); // no SOA: not cached
}

TEST_CASE("SERVFAIL, REFUSED and truncated answers are not cached") {
    cache::Cache c;
    auto m = answer_with("x.example", 60);
    m.set_rcode(wire::rcode::ServFail);
    CHECK_FALSE(c.cacheable_ttl(m));
    m.set_rcode(wire::rcode::Refused);
    CHECK_FALSE(c.cacheable_ttl(m));
    m.set_rcode(wire::rcode::NoError);
    m.set_flag(wire::kFlagTc, true);
    CHECK_FALSE(c.cacheable_ttl(m));
}

TEST_CASE("the least recently used entry is evicted at the bound") {
    cache::Cache c(2);
    const auto t0 = cache::Clock::time_point{} + 10s;
    auto k = [](const char* n) { return cache::CacheKey::of(question(n), false, false, ""); };
    c.insert(k("a.example"), answer_with("a.example", 60), "", t0);
    c.insert(k("b.example"), answer_with("b.example", 60), "", t0);
    CHECK(c.lookup(k("a.example"), t0)); // a is now most recent
    c.insert(k("c.example"), answer_with("c.example", 60), "", t0);
    CHECK(c.size() == 2);
    CHECK(c.lookup(k("a.example"), t0));
    CHECK_FALSE(c.lookup(k("b.example"), t0));
    CHECK(c.stats().evictions == 1);
}

TEST_SUITE_END();
