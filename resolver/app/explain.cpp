// SPDX-License-Identifier: MIT
#include "resolver/app/explain.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "resolver/policy/answer.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/explain.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/runtime/policy_loader.hpp"
#include "resolver/runtime/upstream_factory.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::app {
namespace {

int bad(const std::string& msg) {
    std::fprintf(stderr, "dnslab-resolver explain: %s\n", msg.c_str());
    return 2;
}

/// Reads resource records in presentation format ("name ttl class type rdata" per line).
Result<std::vector<wire::ResourceRecord>> read_records(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return fail(Errc::ConfigInvalid, path + ": cannot open");
    }
    std::vector<wire::ResourceRecord> out;
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == ';' || line[first] == '#') {
            continue;
        }
        ldns_rr* raw = nullptr;
        if (ldns_rr_new_frm_str(&raw, line.c_str(), 3600, nullptr, nullptr) != LDNS_STATUS_OK ||
            raw == nullptr) {
            return fail(Errc::ConfigInvalid,
                        path + ":" + std::to_string(lineno) + ": not a resource record: " + line);
        }
        util::LdnsRr rr(raw);
        std::uint8_t* wire_bytes = nullptr;
        std::size_t size = 0;
        if (ldns_rr2wire(&wire_bytes, rr.get(), LDNS_SECTION_ANSWER, &size) != LDNS_STATUS_OK) {
            return fail(Errc::ConfigInvalid,
                        path + ":" + std::to_string(lineno) + ": cannot encode");
        }
        wire::WireReader r({wire_bytes, size});
        wire::ResourceRecord out_rr;
        out_rr.name = wire::Name::read(r);
        out_rr.type = r.u16();
        out_rr.rclass = r.u16();
        out_rr.ttl = r.u32();
        const auto len = r.u16();
        const auto rdata = r.bytes(len);
        out_rr.rdata.assign(reinterpret_cast<const char*>(rdata.data()), rdata.size());
        std::free(wire_bytes);
        if (!r.ok()) {
            return fail(Errc::ConfigInvalid,
                        path + ":" + std::to_string(lineno) + ": cannot encode");
        }
        out.push_back(std::move(out_rr));
    }
    return out;
}

/// Asks `url` one question on a private loop and waits for the answer.
Result<wire::Message> ask(const std::string& url_text, const wire::Message& query) {
    auto url = util::parse_url(url_text);
    if (!url) {
        return url.error();
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::optional<Result<upstream::Exchange>> got;
    {
        auto up = runtime::make_upstream(&loop, *url, upstream::UpstreamOptions{});
        if (!up) {
            uv_loop_close(&loop);
            return up.error();
        }
        wire::Message q = query;
        q.id = 0x4242;
        (*up)->send(wire::serialize(q),
                    [&](Result<upstream::Exchange> r) { got.emplace(std::move(r)); });
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
    auto parsed = wire::parse({(*got)->wire.data(), (*got)->wire.size()});
    if (!parsed) {
        return fail(Errc::UpstreamFailure, url_text + ": " + parsed.failure.reason);
    }
    return std::move(*parsed.message);
}

} // namespace

int run_explain(const config::Config& cfg, const ExplainRequest& req) {
    auto qname = wire::Name::from_text(req.name);
    if (req.name.empty() || !qname) {
        return bad("--name must be a domain name");
    }
    auto qtype = wire::type_from_name(req.type);
    if (!qtype) {
        return bad("unknown --type '" + req.type + "'");
    }
    auto snapshot = runtime::load_policy_snapshot(cfg, 1);
    if (!snapshot) {
        return bad(snapshot.error().detail);
    }
    const auto& set = (*snapshot)->set;
    const policy::Behaviour* behaviour = &(*snapshot)->behaviour;
    std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    if (!req.at.empty()) {
        auto t = policy::parse_rfc3339(req.at);
        if (!t) {
            return bad("--at must be an RFC 3339 time, e.g. 2026-11-28T18:30:00Z");
        }
        now = *t;
    }

    wire::Message query;
    query.id = 0;
    query.set_flag(wire::kFlagRd, true);
    query.question.push_back(wire::Question{*qname, *qtype, wire::rrclass::IN});
    query.edns.emplace();
    if (!req.edns_location.empty()) {
        query.edns->options.push_back({wire::edns_opt::Location, req.edns_location});
    }

    attribution::AttributionInput in;
    if (req.protocol == "udp") {
        in.transport = net::Transport::Udp;
    } else if (req.protocol == "tcp") {
        in.transport = net::Transport::Tcp;
    } else if (req.protocol == "tls" || req.protocol == "dot") {
        in.transport = net::Transport::Tls;
    } else if (req.protocol == "https" || req.protocol == "doh") {
        in.transport = net::Transport::Https;
    } else {
        return bad("--protocol must be udp, tcp, tls or https");
    }
    in.src = net::IpAddr::parse(req.src);
    in.dst = net::IpAddr::parse(req.dst);
    if (!in.src) {
        return bad("--src must be an IP address");
    }
    const std::string host =
        req.doh_subdomain.empty() ? "" : req.doh_subdomain + "." + behaviour->gateway_domain;
    in.sni = req.sni.empty() ? std::string_view(host) : std::string_view(req.sni);
    in.http_host = host;
    in.http_location = req.doh_header;
    if (!req.edns_location.empty()) {
        in.edns_location = req.edns_location;
    }
    const auto match = attribution::attribute(set->locations, in, *behaviour);

    const std::string qname_text = qname->to_gateway_text();
    policy::QueryFacts facts;
    facts.qname = qname_text;
    facts.qtype = *qtype;
    facts.src_ip = in.src;
    facts.dst_ip = in.dst;
    facts.location = match.location;
    facts.doh_subdomain = match.doh_subdomain;
    facts.identity_token = req.token;
    if (!req.request_categories.empty()) {
        facts.request_categories = policy::parse_request_categories(req.request_categories);
        if (!facts.request_categories) {
            return bad("--request-categories must be JSON like {\"categories\":[2,67]}");
        }
    }
    policy::EvalOptions opt;
    opt.now = now;
    opt.trace = true;
    policy::Evaluation ev = policy::evaluate_pre(*set, facts, *behaviour, opt);

    std::optional<wire::Message> upstream_answer;
    auto resolve = [&](const wire::Message& q) -> Result<wire::Message> {
        if (!req.answer_file.empty()) {
            auto rrs = read_records(req.answer_file);
            if (!rrs) {
                return rrs.error();
            }
            wire::Message m = wire::make_response(q, wire::rcode::NoError);
            m.answer = std::move(rrs).value();
            return m;
        }
        if (!req.upstream.empty()) {
            return ask(req.upstream, q);
        }
        return fail(Errc::ConfigInvalid, "no answer given");
    };
    std::optional<wire::Message> answer;
    if (ev.needs_resolution()) {
        if (!req.answer_file.empty() || !req.upstream.empty()) {
            auto r = resolve(query);
            if (!r) {
                return bad(r.error().detail);
            }
            upstream_answer = std::move(r).value();
            policy::evaluate_post(*set, facts,
                                  policy::ResponseFacts::from_message(*upstream_answer), *behaviour,
                                  opt, ev);
            if (auto s = policy::synthesize(query, ev, *behaviour); s && !s->pending_target) {
                answer = s->message;
            } else {
                answer = *upstream_answer;
            }
        }
    } else if (auto s = policy::synthesize(query, ev, *behaviour)) {
        if (s->pending_target && (!req.answer_file.empty() || !req.upstream.empty())) {
            wire::Message tq = query;
            tq.question[0].qname = *s->pending_target;
            if (auto r = resolve(tq)) {
                policy::complete_answer(*s, *r);
            }
        }
        answer = s->message;
    }

    policy::ExplainInput out;
    out.query = &facts;
    out.location = &match;
    out.ev = &ev;
    out.behaviour = &*behaviour;
    out.upstream = upstream_answer ? &*upstream_answer : nullptr;
    out.answer = answer ? &*answer : nullptr;
    out.now = now;
    std::cout << (req.json ? policy::render_explain_json(out) : policy::render_explain_text(out));
    if (req.json) {
        std::cout << "\n";
    }
    return 0;
}

} // namespace resolver::app
