// SPDX-License-Identifier: MIT
#include "resolver/app/explain.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "resolver/fixture/records.hpp"
#include "resolver/log/query_record.hpp"
#include "resolver/policy/explain.hpp"
#include "resolver/policy/expr_fields.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/runtime/policy_loader.hpp"
#include "resolver/runtime/upstream_factory.hpp"
#include "resolver/stages/runner.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/hex.hpp"

namespace resolver::app {
namespace {

int bad(const std::string& msg) {
    std::fprintf(stderr, "dnslab-resolver explain: %s\n", msg.c_str());
    return 2;
}

/// Sends the runner's upstream query to `url` on a private loop and waits for the answer.
Result<stages::UpstreamAnswer> ask(const std::string& url_text,
                                   const std::vector<std::uint8_t>& q) {
    auto url = util::parse_url(url_text);
    if (!url) {
        return url.error();
    }
    uv_loop_t loop;
    if (int rc = uv_loop_init(&loop); rc != 0) {
        return fail(Errc::Internal, std::string("uv_loop_init: ") + uv_strerror(rc));
    }
    std::optional<Result<upstream::Exchange>> got;
    {
        auto up = runtime::make_upstream(&loop, *url, upstream::UpstreamOptions{});
        if (!up) {
            uv_loop_close(&loop);
            return up.error();
        }
        (*up)->send(q, [&](Result<upstream::Exchange> r) { got.emplace(std::move(r)); });
        while (!got && uv_run(&loop, UV_RUN_ONCE) != 0) {
        }
        (*up)->shutdown();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (!got) {
        return fail(Errc::UpstreamFailure, url_text + ": no answer");
    }
    if (!*got) {
        return got->error();
    }
    return stages::UpstreamAnswer{std::move((*got)->wire), url_text};
}

/// The upstream's answer made from an answer file: the records as a recursive resolver
/// would return them to the runner's query (same ID and question, RD RA, NOERROR).
Result<stages::UpstreamAnswer> answer_from_file(const std::string& path,
                                                const stages::UpstreamRequest& req) {
    auto rrs = fixture::read_records(path);
    if (!rrs) {
        return rrs.error();
    }
    auto query = wire::parse({req.wire.data(), req.wire.size()});
    wire::Message m = wire::make_response(*query.message, wire::rcode::NoError);
    m.set_flag(wire::kFlagRa, true);
    m.answer = std::move(rrs).value();
    return stages::UpstreamAnswer{wire::serialize(m), "answer file " + path};
}

/// The client's query as `kdig`/`dig` would send it with the same flags.
Result<wire::Message> build_query(const ExplainRequest& req) {
    auto qname = wire::Name::from_text(req.name);
    if (req.name.empty() || !qname) {
        return fail(Errc::ConfigInvalid, "--name must be a domain name");
    }
    auto qtype = wire::type_from_name(req.type);
    if (!qtype) {
        return fail(Errc::ConfigInvalid, "unknown --type '" + req.type + "'");
    }
    wire::Message query;
    query.id = req.id;
    query.set_flag(wire::kFlagRd, true);
    query.set_flag(wire::kFlagCd, req.cd);
    query.question.push_back(wire::Question{*qname, *qtype, wire::rrclass::IN});
    if (req.udp_size == 0) {
        if (!req.edns_location.empty() || !req.request_categories.empty() || req.dnssec_ok) {
            return fail(Errc::ConfigInvalid,
                        "--no-edns cannot carry --edns-location, --request-categories or --do");
        }
        return query;
    }
    query.edns.emplace();
    query.edns->udp_size = req.udp_size;
    query.edns->dnssec_ok = req.dnssec_ok;
    if (!req.edns_location.empty()) {
        query.edns->options.push_back({wire::edns_opt::Location, req.edns_location});
    }
    if (!req.request_categories.empty()) {
        if (!policy::parse_request_categories(req.request_categories)) {
            return fail(Errc::ConfigInvalid,
                        "--request-categories must be JSON like {\"categories\":[2,67]}");
        }
        query.edns->options.push_back({wire::edns_opt::RequestCategories, req.request_categories});
    }
    return query;
}

/// The transport facts a listener would have filled for the same query.
Result<net::TransportInfo> build_transport(const ExplainRequest& req, const policy::Behaviour& b) {
    net::TransportInfo t;
    auto proto = net::transport_from_name(req.protocol);
    if (!proto) {
        return fail(Errc::ConfigInvalid, "--protocol must be udp, tcp, tls (dot) or https (doh)");
    }
    t.protocol = *proto;
    t.datagram = net::row(*proto).datagram;
    if (!net::IpAddr::parse(req.src)) {
        return fail(Errc::ConfigInvalid, "--src must be an IP address");
    }
    if (!net::IpAddr::parse(req.dst)) {
        return fail(Errc::ConfigInvalid, "--dst must be an IP address");
    }
    t.src = {req.src, 40000};
    if (!req.src_internal_ip.empty()) {
        if (!net::IpAddr::parse(req.src_internal_ip)) {
            return fail(Errc::ConfigInvalid, "--src-internal-ip must be an IP address");
        }
        t.src_internal_ip = net::IpAddr::parse(req.src_internal_ip);
    }
    t.dst = {req.dst, net::row(*proto).default_port};
    t.listener = std::string(net::transport_name(*proto)) + "://" + req.dst + " (explain)";
    const bool encrypted = net::row(*proto).encrypted;
    const bool https = *proto == net::Transport::Https;
    std::string host = req.doh_host;
    if (host.empty() && !req.doh_subdomain.empty()) {
        host = req.doh_subdomain + "." + b.gateway_domain;
    }
    if (!encrypted && (!host.empty() || !req.sni.empty())) {
        return fail(Errc::ConfigInvalid, "--doh-subdomain, --doh-host and --sni need "
                                         "--protocol tls or https");
    }
    if (!https && (!req.doh_path.empty() || !req.doh_header.empty() || !req.token.empty())) {
        return fail(Errc::ConfigInvalid, "--doh-path, --doh-header and --token need "
                                         "--protocol https");
    }
    t.sni = req.sni.empty() ? host : req.sni;
    if (https) {
        t.http_host = host.empty() ? req.dst : host;
        t.http_path = req.doh_path.empty() ? "/dns-query" : req.doh_path;
        t.http_location = req.doh_header;
        t.http_authorization = req.token;
    }
    return t;
}

} // namespace

int run_explain(const config::Config& cfg, const ExplainRequest& req) {
    auto snapshot = runtime::load_policy_snapshot(cfg, 1);
    if (!snapshot) {
        return bad(snapshot.error().detail);
    }
    auto query = build_query(req);
    if (!query) {
        return bad(query.error().detail);
    }
    auto transport = build_transport(req, (*snapshot)->behaviour);
    if (!transport) {
        return bad(transport.error().detail);
    }
    auto start = std::chrono::system_clock::now();
    if (!req.at.empty()) {
        auto t = policy::parse_rfc3339(req.at);
        if (!t) {
            return bad("--at must be an RFC 3339 time, e.g. 2026-11-28T18:30:00Z");
        }
        start = std::chrono::system_clock::time_point(std::chrono::seconds(*t));
    }
    core::ManualClock clock(start);
    core::SystemRng rng;
    stages::Environment env;
    env.policy = *snapshot;
    env.config.udp_payload = cfg.udp_payload;
    env.clock = &clock;
    env.rng = &rng;
    env.trace = true;
    stages::StageRunner runner(std::move(env));

    stages::QueryContext ctx;
    ctx.id = 1;
    ctx.transport = std::move(transport).value();
    const auto wire_in = wire::serialize(*query);
    stages::Step step = runner.start(ctx, wire_in);
    const bool can_resolve = !req.answer_file.empty() || !req.upstream.empty();
    while (step == stages::Step::NeedUpstream && can_resolve) {
        auto answer = !req.answer_file.empty()
                          ? answer_from_file(req.answer_file, *ctx.upstream_request)
                          : ask(req.upstream, ctx.upstream_request->wire);
        if (!answer && answer.error().code == Errc::ConfigInvalid) {
            return bad(answer.error().detail);
        }
        step = runner.resume(ctx, std::move(answer));
    }

    // What the client receives, read back from the bytes the resolver would send.
    std::optional<wire::Message> sent;
    if (step == stages::Step::Done && ctx.disposition == stages::Disposition::Answered) {
        sent = std::move(wire::parse({ctx.wire_out.data(), ctx.wire_out.size()}).message);
    }
    static const policy::Evaluation kNoEvaluation{};
    policy::ExplainInput out;
    out.query = ctx.evaluation ? &ctx.facts : nullptr;
    out.location = &ctx.location;
    out.ev = ctx.evaluation ? &*ctx.evaluation : &kNoEvaluation;
    out.behaviour = &ctx.policy->behaviour;
    out.upstream = ctx.upstream_answer ? &*ctx.upstream_answer : nullptr;
    out.answer = sent ? &*sent : nullptr;
    out.now = std::chrono::duration_cast<std::chrono::seconds>(ctx.received_wall.time_since_epoch())
                  .count();
    out.warnings = &ctx.policy->set->warnings;
    out.skipped = &ctx.policy->set->skipped_rules;
    out.rule_warnings = &ctx.policy->set->rule_warnings;
    out.pending = step == stages::Step::NeedUpstream
                      ? "the answer needs the upstream's reply for " +
                            ctx.upstream_request->question.qname.to_text() + " " +
                            wire::type_name(ctx.upstream_request->question.qtype) + " (route " +
                            ctx.upstream_request->route_key +
                            "): give --answer FILE or --upstream URL"
                      : "";
    out.response_hex = util::hex(ctx.wire_out.data(), ctx.wire_out.size());
    out.log_record = step == stages::Step::Done ? log::render_query_record(ctx) : "";
    out.upstream_error = ctx.upstream_error ? ctx.upstream_error->detail : "";
    out.note = ctx.drop_reason;
    std::cout << (req.json ? policy::render_explain_json(out) : policy::render_explain_text(out));
    if (req.json) {
        std::cout << "\n";
    }
    return 0;
}

std::string render_selectors(bool markdown) {
    std::ostringstream os;
    if (markdown) {
        os << "| selector | type | phase | filled by |\n|---|---|---|---|\n";
    }
    for (const auto& f : policy::all_fields()) {
        std::string type(policy::value_type_name(f.type));
        if (f.map) {
            type = "Map<" + type + ">";
        } else if (f.array) {
            type = "Array<" + type + ">";
        }
        const std::string filled = f.producer.empty()
                                       ? "not in this lab (needs " + std::string(f.missing) +
                                             "): rules using it are refused"
                                       : std::string(f.producer);
        if (markdown) {
            os << "| `" << f.name << "` | " << type << " | " << policy::phase_name(f.phase) << " | "
               << filled << " |\n";
        } else {
            os << f.name << "\t" << type << "\t" << policy::phase_name(f.phase) << "\t" << filled
               << "\n";
        }
    }
    return os.str();
}

} // namespace resolver::app
