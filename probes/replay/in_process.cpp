// SPDX-License-Identifier: MIT
#include "probes/replay/in_process.hpp"

#include <fstream>
#include <optional>
#include <utility>

#include <uv.h>

#include "resolver/cache/cache.hpp"
#include "resolver/config/config.hpp"
#include "resolver/core/clock.hpp"
#include "resolver/core/rng.hpp"
#include "resolver/log/query_record.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/runtime/policy_loader.hpp"
#include "resolver/runtime/upstream_factory.hpp"
#include "resolver/stages/decision_cache.hpp"
#include "resolver/stages/runner.hpp"
#include "resolver/util/url.hpp"

namespace probes::replay {
namespace fs = std::filesystem;
using resolver::Errc;
using resolver::fail;
using resolver::Result;
namespace stages = resolver::stages;
namespace net = resolver::net;

namespace {

// The listener port the child resolver would have been given by the kernel does not matter
// to any decision; these stand for "some loopback client and listener".
constexpr std::uint16_t kClientPort = 40000;

/// The facts the lab's listener of `protocol` fills for a loopback client of the probe: the
/// probe connects by IP (no SNI), DoH to https://127.0.0.1/dns-query[/HINT].
Result<net::TransportInfo> listener_facts(const std::string& protocol, const std::string& hint) {
    const auto kind = net::transport_from_name(protocol);
    if (!kind) {
        return fail(Errc::ConfigInvalid, "unknown protocol '" + protocol + "'");
    }
    net::TransportInfo t;
    t.protocol = *kind;
    t.datagram = net::row(*kind).datagram;
    t.src = {"127.0.0.1", kClientPort};
    t.dst = {"127.0.0.1", net::row(*kind).default_port};
    t.listener = std::string(net::transport_name(*kind)) + "://127.0.0.1 (replay in process)";
    if (*kind == net::Transport::Https) {
        t.http_host = "127.0.0.1";
        t.http_path = hint.empty() ? "/dns-query" : "/dns-query/" + hint;
    }
    return t;
}

/// The scenario's [lab] config, read as the child resolver reads it: from a file in a copy
/// of the scenario folder (relative paths resolve against the config file's folder).
Result<resolver::config::Config> lab_config(const scenario::Scenario& sc, const fs::path& work) {
    std::error_code ec;
    const fs::path copy = work / "scenario";
    fs::create_directories(work, ec);
    fs::copy(sc.root, copy, fs::copy_options::recursive, ec);
    if (ec) {
        return fail(Errc::ConfigInvalid, "cannot copy " + sc.root.string() + ": " + ec.message());
    }
    const fs::path file = copy / fs::relative(sc.dir, sc.root) / ".dnslab-lab.toml";
    std::ofstream(file) << sc.lab_toml;
    return resolver::config::load_file(file.string());
}

/// Sends one upstream query on `loop` and runs the loop until its answer.
Result<stages::UpstreamAnswer> ask(uv_loop_t* loop, resolver::upstream::Upstream& up,
                                   const std::string& name, const std::vector<std::uint8_t>& q) {
    std::optional<Result<resolver::upstream::Exchange>> got;
    up.send(q, [&](Result<resolver::upstream::Exchange> r) { got.emplace(std::move(r)); });
    while (!got && uv_run(loop, UV_RUN_ONCE) != 0) {
    }
    if (!got) {
        return fail(Errc::UpstreamFailure, name + ": no answer");
    }
    if (!*got) {
        return got->error();
    }
    return stages::UpstreamAnswer{std::move((*got)->wire), name};
}

/// Owns the private loop the fixture upstream runs on.
class Loop {
public:
    Loop() { ok_ = uv_loop_init(&loop_) == 0; }
    ~Loop() {
        if (ok_) {
            uv_run(&loop_, UV_RUN_DEFAULT); // close what the upstream left
            (void)uv_loop_close(&loop_);
        }
    }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    [[nodiscard]] bool ok() const { return ok_; }
    uv_loop_t* get() { return &loop_; }

private:
    uv_loop_t loop_{};
    bool ok_ = false;
};

/// The stages name the upstreams of a route (stages/routing.cpp); none means the default.
bool default_route(const stages::QueryContext& ctx) {
    return ctx.upstream_request->urls.empty();
}

} // namespace

std::string needs_child_resolver(const scenario::Scenario& sc, bool single_fixture_upstream) {
    if (!sc.helpers.empty()) {
        return "the scenario starts helper resolvers";
    }
    if (sc.lab_toml.find("${") != std::string::npos) {
        return "the lab config has placeholders";
    }
    if (!single_fixture_upstream) {
        return "the lab's upstream is not one fixture: folder";
    }
    return "";
}

Result<LabRun> run_in_process(const scenario::Scenario& sc, const fs::path& work,
                              const std::string& categories_file, const std::string& upstream,
                              const std::vector<PlannedQuery>& queries,
                              const std::function<void(std::size_t)>& progress) {
    auto cfg = lab_config(sc, work);
    if (!cfg) {
        return cfg.error();
    }
    cfg->categories_file = categories_file;
    cfg->upstream = {upstream};
    auto snapshot = resolver::runtime::load_policy_snapshot(*cfg, 1);
    if (!snapshot) {
        return snapshot.error();
    }
    auto url = resolver::util::parse_url(upstream);
    if (!url) {
        return url.error();
    }
    Loop loop;
    if (!loop.ok()) {
        return fail(Errc::Internal, "uv_loop_init failed");
    }
    auto up = resolver::runtime::make_upstream(loop.get(), *url, {});
    if (!up) {
        return up.error();
    }
    // The resolver's own cache, decision cache and scratch, configured as the child's: the
    // same stages with the same state a live lab would have.
    resolver::cache::Cache cache(cfg->cache_size, cfg->cache_max_ttl);
    stages::DecisionCache decisions;
    resolver::policy::EvalScratch scratch;
    resolver::core::SystemClock clock;
    resolver::core::SystemRng rng;
    stages::Environment env;
    env.policy = *snapshot;
    env.cache = cfg->cache_size > 0 ? &cache : nullptr;
    env.decisions = cfg->cache_size > 0 ? &decisions : nullptr;
    env.scratch = &scratch;
    env.config.udp_payload = cfg->udp_payload;
    env.clock = &clock;
    env.rng = &rng;
    stages::StageRunner runner(std::move(env));

    LabRun run;
    run.outcomes.reserve(queries.size());
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto& q = queries[i];
        auto transport = listener_facts(q.protocol, q.hint);
        if (!transport) {
            return transport.error();
        }
        stages::QueryContext ctx;
        ctx.id = i + 1;
        ctx.transport = std::move(transport).value();
        stages::Step step = runner.start(ctx, q.wire);
        while (step == stages::Step::NeedUpstream) {
            if (!default_route(ctx)) {
                return fail(Errc::ConfigInvalid, "query " + std::to_string(i + 1) +
                                                     " is routed to " + ctx.route +
                                                     ", which only the child resolver reaches");
            }
            step = runner.resume(ctx, ask(loop.get(), **up, upstream, ctx.upstream_request->wire));
        }
        session::Outcome oc;
        if (ctx.disposition == stages::Disposition::Answered) {
            resolver::upstream::Exchange ex;
            ex.wire = ctx.wire_out;
            ex.server = ctx.transport.listener.str();
            ex.http_status = ctx.transport.protocol == net::Transport::Https ? 200 : 0;
            oc.exchange = std::move(ex);
        } else {
            oc.error = ctx.drop_reason.empty() ? "the lab sent no answer" : ctx.drop_reason;
        }
        run.outcomes.push_back(std::move(oc));
        run.log.push_back(nlohmann::json::parse(resolver::log::render_query_record(ctx)));
        if (progress && ((i + 1) % 1000 == 0 || i + 1 == queries.size())) {
            progress(i + 1);
        }
    }
    (*up)->shutdown();
    return run;
}

} // namespace probes::replay
