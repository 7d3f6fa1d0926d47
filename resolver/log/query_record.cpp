// SPDX-License-Identifier: MIT
#include "resolver/log/query_record.hpp"

#include <ctime>

#include "resolver/log/json_writer.hpp"

namespace resolver::log {
using stages::AnswerSource;
using stages::QueryContext;
namespace {
std::string rfc3339(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

std::string_view source_name(AnswerSource s) {
    switch (s) {
    case AnswerSource::None:
        return "none";
    case AnswerSource::Local:
        return "local";
    case AnswerSource::Cache:
        return "cache";
    case AnswerSource::Upstream:
        return "upstream";
    }
    return "none";
}
} // namespace

std::string render_query_record(const QueryContext& ctx) {
    std::string out;
    out.reserve(512);
    JsonWriter w(out);
    w.begin_object();
    w.field("Datetime", rfc3339(ctx.received_wall));
    w.field("SrcIP", ctx.transport.src.ip);
    w.field("SrcPort", static_cast<unsigned>(ctx.transport.src.port));
    w.field("DstIP", ctx.transport.dst.ip);
    w.field("DstPort", static_cast<unsigned>(ctx.transport.dst.port));
    w.field("Protocol", net::transport_name(ctx.transport.protocol));
    if (ctx.query && !ctx.query->question.empty()) {
        const auto& q = ctx.query->question[0];
        w.field("QueryName", q.qname.to_gateway_text());
        w.field("QueryType", static_cast<unsigned>(q.qtype));
        w.field("QueryTypeName", wire::type_name(q.qtype));
    } else {
        w.field("QueryName", "");
        w.field("QueryType", 0);
        w.field("QueryTypeName", "");
    }
    w.field("QuerySize", static_cast<std::uint64_t>(ctx.query_size));
    const bool answered = ctx.disposition == stages::Disposition::Answered;
    if (answered) {
        w.field("RCode", static_cast<unsigned>(ctx.response->rcode()));
    } else {
        w.key("RCode").null();
    }
    w.key("ResolvedIPs").begin_array();
    if (ctx.response) {
        for (const auto& rr : ctx.response->answer) {
            if (auto ip = wire::address_text(rr); !ip.empty()) {
                w.value(ip);
            }
        }
    }
    w.end_array();
    w.key("CNAMEs").begin_array();
    if (ctx.response) {
        for (const auto& rr : ctx.response->answer) {
            if (rr.type == wire::rrtype::CNAME) {
                if (auto t = wire::rdata_target(rr)) {
                    w.value(t->to_gateway_text());
                }
            }
        }
    }
    w.end_array();
    w.field("IsResponseCached", ctx.source == AnswerSource::Cache);
    const auto elapsed = ctx.finished_at - ctx.received_at;
    w.field("ResponseTimeMs",
            static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    w.array_field("UpstreamRecordTTLs", ctx.upstream_ttls);
    w.key("EDEErrors").begin_array();
    for (auto c : ctx.ede_codes) {
        w.value(static_cast<unsigned>(c));
    }
    w.end_array();
    // Policy: locations, decisions and categories (reference §5.1-5.2).
    const auto& loc = ctx.location;
    w.field("Location", loc.location ? loc.location->name : std::string());
    w.field("LocationID", loc.location ? loc.location->id : std::string());
    w.field("DoHSubdomain", loc.doh_subdomain);
    w.field("DoTSubdomain", loc.dot_subdomain);
    if (ctx.evaluation) {
        const auto& ev = *ctx.evaluation;
        w.field("ResolverDecision", policy::decision_name(ev.decision));
        w.field("PolicyID", ev.rule ? ev.rule->id : std::string());
        w.field("PolicyName", ev.rule ? ev.rule->name : std::string());
        w.field("ResolverPolicyID", ev.route.rule ? ev.route.rule->id : std::string());
        w.field("ResolverPolicyName", ev.route.rule ? ev.route.rule->name : std::string());
        w.array_field("InitialCategoryIDs", ev.initial_categories);
        w.array_field("CNAMECategoryIDs", ev.cname_categories);
        w.array_field("ResolvedIPCategoryIDs", ev.resolved_ip_categories);
        w.array_field("QueryCategoryIDs", ev.query_categories);
        w.array_field("MatchedCategoryIDs", ev.matched_categories);
        w.array_field("RequestContextCategoryIDs", ev.request_context_categories);
        w.field("LabResolverDecisionCode", static_cast<unsigned>(ev.decision));
        w.field("LabPolicyAction",
                ev.action ? policy::action_name(*ev.action) : std::string_view("none"));
    } else {
        w.field("ResolverDecision", "");
        w.field("PolicyID", "");
        w.field("PolicyName", "");
    }
    w.field("CustomResolverAddress", ctx.custom_resolver_address);
    w.field("AppliedMaxTTL", ctx.applied_max_ttl);
    // Lab fields: what Gateway does not log but an engineer reproducing a case needs.
    w.field("LabLocationReason", loc.reason);
    // The raw transport hints, whether or not a location matched them (issue 3).
    const auto& t = ctx.transport;
    if (!t.sni.empty()) {
        w.field("LabSNI", t.sni);
    }
    if (!t.http_host.empty()) {
        w.field("LabHttpHost", t.http_host);
    }
    if (!t.http_path.empty()) {
        w.field("LabHttpPath", t.http_path);
    }
    if (!t.http_location.empty()) {
        w.field("LabHttpLocationHeader", t.http_location);
    }
    if (ctx.edns_location) {
        w.field("LabEdnsLocation", *ctx.edns_location);
    }
    if (ctx.policy) {
        w.field("LabPolicyGeneration", static_cast<std::uint64_t>(ctx.policy->generation));
    }
    w.field("LabQueryID", static_cast<std::uint64_t>(ctx.id));
    w.field("LabListener", ctx.transport.listener);
    w.field("LabAnswerSource", source_name(ctx.source));
    w.field("LabRoute", ctx.route);
    w.field("LabUpstream", ctx.upstream_server);
    if (ctx.upstream_error) {
        w.field("LabUpstreamError", ctx.upstream_error->detail);
    }
    if (ctx.source == AnswerSource::Cache) {
        w.field("LabCacheAgeS", static_cast<unsigned>(ctx.cache_age_s));
    }
    if (ctx.truncated) {
        w.field("LabTruncated", true);
    }
    if (!ctx.drop_reason.empty()) {
        w.field("LabError", ctx.drop_reason);
    }
    if (!answered) {
        w.field("LabDropped", true);
    }
    w.end_object();
    return out;
}

} // namespace resolver::log
