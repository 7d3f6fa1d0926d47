// SPDX-License-Identifier: MIT
// The stages tier: a query through decode -> finish in process, with scripted upstream
// answers, a manual clock and fixed upstream IDs. No sockets, no loop, no wall clock.
#pragma once
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <unistd.h>

#include "resolver/fixture/records.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/stages/runner.hpp"
#include "tests/unit/policy/policy_test_util.hpp"

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
    static String convert(const std::vector<std::string>& v) {
        std::string out = "[";
        for (const auto& s : v) {
            out += (out.size() > 1 ? ", \"" : "\"") + s + "\"";
        }
        return (out + "]").c_str();
    }
};
} // namespace doctest

namespace stage_lab {

namespace core = resolver::core;
namespace net = resolver::net;
namespace policy = resolver::policy;
namespace stages = resolver::stages;
namespace wire = resolver::wire;
using resolver::Errc;
using resolver::Result;

inline wire::ResourceRecord rr(const std::string& text) {
    auto r = resolver::fixture::parse_record(text);
    REQUIRE_MESSAGE(r, text);
    return std::move(r).value();
}

/// A query as a stub sends it: RD, EDNS with `udp_size` (0: no EDNS).
inline wire::Message query(const std::string& name, std::uint16_t type = wire::rrtype::A,
                           std::uint16_t udp_size = 1232, std::uint16_t id = 0x1234) {
    wire::Message q;
    q.id = id;
    q.set_flag(wire::kFlagRd, true);
    q.question.push_back({*wire::Name::from_text(name), type, wire::rrclass::IN});
    if (udp_size != 0) {
        q.edns.emplace();
        q.edns->udp_size = udp_size;
    }
    return q;
}

inline net::TransportInfo udp_from(const std::string& src, const std::string& dst = "127.0.0.1") {
    net::TransportInfo t;
    t.protocol = net::Transport::Udp;
    t.src = {src, 40000};
    t.dst = {dst, 53};
    return t;
}

inline net::TransportInfo stream(net::Transport tr, const std::string& src = "127.0.0.1") {
    net::TransportInfo t = udp_from(src);
    t.protocol = tr;
    t.datagram = false;
    return t;
}

/// The policy snapshot of the sample export (fixtures/policy) with default behaviour.
inline stages::PolicySnapshotPtr sample_policy(std::uint32_t account_max_ttl = 0) {
    auto set = policy::load_policy(policy_test::fixture_files());
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    auto snap = std::make_shared<stages::PolicySnapshot>();
    snap->set = std::move(set).value();
    snap->account_max_ttl = account_max_ttl;
    snap->generation = 1;
    return snap;
}

/// A snapshot of the sample export with some files replaced by the given JSON texts
/// ("rules", "locations", "lists"), and an account maximum TTL.
inline stages::PolicySnapshotPtr policy_from(const std::map<std::string, std::string>& texts,
                                             std::uint32_t account_max_ttl = 0) {
    std::string seed;
    for (const auto& [k, v] : texts) {
        seed += k + v;
    }
    auto dir = std::filesystem::temp_directory_path() /
               ("dnslab-stages-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::hash<std::string>{}(seed)));
    std::filesystem::create_directories(dir);
    auto files = policy_test::fixture_files();
    for (const auto& [k, v] : texts) {
        const auto path = (dir / (k + ".json")).string();
        std::ofstream(path) << v;
        (k == "rules" ? files.rules : k == "locations" ? files.locations : files.lists) = path;
    }
    auto set = policy::load_policy(files);
    std::filesystem::remove_all(dir);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    auto snap = std::make_shared<stages::PolicySnapshot>();
    snap->set = std::move(set).value();
    snap->account_max_ttl = account_max_ttl;
    snap->generation = 1;
    return snap;
}

/// The sample locations export with `max_ttl` objects (JSON) added by location name.
inline std::string locations_with_max_ttl(const std::map<std::string, std::string>& by_name) {
    std::ifstream in(policy_test::fixtures_dir() / "policy" / "locations.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& [name, max_ttl] : by_name) {
        const std::string key = "\"name\": \"" + name + "\"";
        const auto at = text.find(key);
        REQUIRE_MESSAGE(at != std::string::npos, key);
        text.insert(at, "\"max_ttl\": " + max_ttl + ", ");
    }
    return text;
}

/// A scripted upstream: what each (name, type) question gets.
struct Script {
    std::uint16_t rcode = wire::rcode::NoError;
    std::vector<std::string> answer;
    std::vector<std::string> authority;
    bool ad = false;
    std::optional<resolver::Error> error;                 // no answer at all
    std::function<void(wire::Message&)> tamper = nullptr; // e.g. a wrong ID
    std::string server = "scripted";                      // who answered (UpstreamAnswer)
    std::chrono::milliseconds latency{0};                 // the manual clock moves this much
};

inline Script answering(std::vector<std::string> rrs) {
    Script s;
    s.answer = std::move(rrs);
    return s;
}

inline Script negative(std::uint16_t rcode, std::vector<std::string> authority) {
    Script s;
    s.rcode = rcode;
    s.authority = std::move(authority);
    return s;
}

inline Script failing(Errc code, std::string detail) {
    Script s;
    s.error = resolver::fail(code, std::move(detail));
    return s;
}

/// One finished query. The context stays where it was built (policy facts point into it).
struct Outcome {
    std::unique_ptr<stages::QueryContext> ctx;
    std::optional<wire::Message> sent; // parsed from ctx->wire_out: what the client gets
    std::vector<stages::UpstreamRequest> asked;
};

class Lab {
public:
    explicit Lab(stages::PolicySnapshotPtr policy = stages::empty_policy(), bool with_cache = true)
        : clock_(std::chrono::system_clock::time_point(std::chrono::seconds(1720000800))),
          runner_([&] {
              stages::Environment env;
              env.policy = std::move(policy);
              env.cache = with_cache ? &cache_ : nullptr;
              env.decisions = with_cache ? &decisions_ : nullptr; // as the live pipeline
              env.clock = &clock_;
              env.rng = &rng_;
              return env;
          }()) {}

    /// What the upstream answers for `name`/`type` from now on.
    void upstream(const std::string& name, std::uint16_t type, Script s) {
        scripts_[{name, type}] = std::move(s);
    }
    /// What the upstream at `url` (the first URL of the request; the routes the stages chose)
    /// answers for `name`/`type`; takes precedence over upstream() for that URL.
    void upstream_at(const std::string& url, const std::string& name, std::uint16_t type,
                     Script s) {
        routed_[{url, name, type}] = std::move(s);
    }

    Outcome run(const wire::Message& q, net::TransportInfo t = udp_from("127.0.0.1")) {
        return run_bytes(wire::serialize(q), std::move(t));
    }

    Outcome run_bytes(const std::vector<std::uint8_t>& bytes,
                      net::TransportInfo t = udp_from("127.0.0.1")) {
        return run_in(std::make_unique<stages::QueryContext>(), bytes, std::move(t));
    }

    /// As run_bytes(), in a given context (a recycled one: see the pipeline's recycle()).
    Outcome run_in(std::unique_ptr<stages::QueryContext> ctx,
                   const std::vector<std::uint8_t>& bytes,
                   net::TransportInfo t = udp_from("127.0.0.1")) {
        Outcome o;
        o.ctx = std::move(ctx);
        o.ctx->id = next_id_++;
        o.ctx->transport = std::move(t);
        stages::Step step = runner_.start(*o.ctx, bytes);
        for (int hops = 0; step == stages::Step::NeedUpstream; ++hops) {
            REQUIRE_MESSAGE(hops < 4, "the runner asked for more upstream answers than expected");
            const auto& req = *o.ctx->upstream_request;
            o.asked.push_back(req);
            step = runner_.resume(*o.ctx, answer(req));
        }
        if (o.ctx->disposition == stages::Disposition::Answered) {
            auto parsed = wire::parse({o.ctx->wire_out.data(), o.ctx->wire_out.size()});
            REQUIRE_MESSAGE(parsed, "the runner produced bytes that do not parse");
            o.sent = std::move(parsed.message);
        }
        return o;
    }

    core::ManualClock& clock() { return clock_; }
    stages::Environment& env() { return runner_.env(); }
    resolver::cache::Cache& cache() { return cache_; }
    stages::DecisionCache& decisions() { return decisions_; }

private:
    Result<stages::UpstreamAnswer> answer(const stages::UpstreamRequest& req) {
        const std::string name = req.question.qname.to_gateway_text();
        const Script* found = nullptr;
        if (auto it = scripts_.find({name, req.question.qtype}); it != scripts_.end()) {
            found = &it->second;
        }
        if (!req.urls.empty()) {
            if (auto r = routed_.find({req.urls.front(), name, req.question.qtype});
                r != routed_.end()) {
                found = &r->second;
            }
        }
        if (found == nullptr) {
            return resolver::fail(Errc::UpstreamTimeout, "scripted upstream: no answer for " +
                                                             name + " " +
                                                             wire::type_name(req.question.qtype));
        }
        const Script& s = *found;
        clock_.advance(s.latency);
        if (s.error) {
            return *s.error;
        }
        auto sent = wire::parse({req.wire.data(), req.wire.size()});
        REQUIRE(sent);
        wire::Message m = wire::make_response(*sent.message, s.rcode);
        m.set_flag(wire::kFlagRa, true);
        m.set_flag(wire::kFlagAa, true); // as an authoritative would: must not reach the client
        m.set_flag(wire::kFlagAd, s.ad);
        for (const auto& t : s.answer) {
            m.answer.push_back(rr(t));
        }
        for (const auto& t : s.authority) {
            m.authority.push_back(rr(t));
        }
        if (s.tamper) {
            s.tamper(m);
        }
        return stages::UpstreamAnswer{wire::serialize(m), s.server};
    }

    core::ManualClock clock_;
    core::SequenceRng rng_{{0x1111, 0x2222, 0x3333, 0x4444}};
    resolver::cache::Cache cache_;
    stages::DecisionCache decisions_;
    stages::StageRunner runner_;
    std::map<std::pair<std::string, std::uint16_t>, Script> scripts_;
    std::map<std::tuple<std::string, std::string, std::uint16_t>, Script> routed_;
    stages::QueryId next_id_ = 1;
};

/// Answer records as "name ttl TYPE data" strings, for compact comparisons.
inline std::vector<std::string> answers(const wire::Message& m) {
    std::vector<std::string> out;
    for (const auto& r : m.answer) {
        std::string data = wire::address_text(r);
        if (data.empty()) {
            if (auto t = wire::rdata_target(r)) {
                data = t->to_text();
            }
        }
        out.push_back(r.name.to_text() + " " + std::to_string(r.ttl) + " " +
                      wire::type_name(r.type) + " " + data);
    }
    return out;
}

} // namespace stage_lab
