// SPDX-License-Identifier: MIT
// The gateway_dns record of a finished query: every field of Cloudflare's Logpush dataset
// (developers.cloudflare.com/logs/logpush/logpush-job/datasets/account/gateway_dns/, the list
// with types in docs/gateway_dns_fields.json), then the lab's own `Lab*` fields. Every value
// is read from the QueryContext and the policy snapshot it pinned; nothing is decided here.
#include "resolver/log/query_record.hpp"

#include <cstdio>
#include <ctime>

#include "resolver/log/json_writer.hpp"
#include "resolver/util/base64url.hpp"
#include "resolver/wire/presentation.hpp"

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

/// QueryNameReversed / CNAMEsReversed: the labels of a logged name in reverse order
/// ("www.example.com" -> "com.example.www"); the root stays "." (the dataset page says so).
/// Dots escaped inside a label ("a\.b") are not label boundaries.
std::string reversed_name(std::string_view name) {
    if (name.empty() || name == ".") {
        return std::string(name);
    }
    std::vector<std::string_view> labels;
    std::size_t start = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\') {
            ++i; // the escaped character belongs to the label
        } else if (name[i] == '.') {
            labels.push_back(name.substr(start, i - start));
            start = i + 1;
        }
    }
    labels.push_back(name.substr(start));
    std::string out;
    out.reserve(name.size());
    for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
        out += (out.empty() ? "" : ".");
        out += *it;
    }
    return out;
}

/// The address part of "ip:port" / "[ip6]:port" (what the upstream clients report as the
/// server that answered); nullopt for other forms such as a fixture URL.
std::optional<net::IpAddr> server_ip(std::string_view server) {
    if (server.starts_with('[')) {
        const auto end = server.find(']');
        return end == std::string_view::npos ? std::nullopt
                                             : net::IpAddr::parse(server.substr(1, end - 1));
    }
    return net::IpAddr::parse(server.substr(0, server.rfind(':')));
}

struct Names {
    std::vector<std::string> cnames;       // CNAME targets of the answer sent
    std::vector<std::string> resolved_ips; // A/AAAA addresses of the answer sent
};

Names answer_names(const QueryContext& ctx) {
    Names n;
    if (!ctx.response) {
        return n;
    }
    for (const auto& rr : ctx.response->answer) {
        if (auto ip = wire::address_text(rr); !ip.empty()) {
            n.resolved_ips.push_back(std::move(ip));
        } else if (rr.type == wire::rrtype::CNAME) {
            if (auto t = wire::rdata_target(rr)) {
                n.cnames.push_back(t->to_gateway_text());
            }
        }
    }
    return n;
}

void site_fields(JsonWriter& w, const QueryContext& ctx, const stages::SiteConstants& site) {
    w.field("Datetime", rfc3339(ctx.received_wall));
    // 32 hex digits: the process's random prefix, then its query counter.
    static constexpr char kHex[] = "0123456789abcdef";
    char id[32];
    for (int i = 0; i < 16; ++i) {
        id[i] = kHex[(site.instance >> (60 - 4 * i)) & 0xF];
        id[16 + i] = kHex[(ctx.id >> (60 - 4 * i)) & 0xF];
    }
    w.field("QueryID", std::string_view(id, sizeof id));
    w.field("AccountID", site.account_id);
    w.field("TenantID", site.tenant_id);
    w.field("ColoCode", site.colo_code);
    w.field("ColoID", site.colo_id);
}

void transport_fields(JsonWriter& w, const QueryContext& ctx, const policy::PolicySet* set) {
    const auto& t = ctx.transport;
    net::IpText text;
    w.field("SrcIP", t.src.ip_text(text));
    w.field("SrcPort", static_cast<unsigned>(t.src.port));
    policy::GeoInfo geo;
    if (set != nullptr) {
        if (const auto& ip = ctx.src_ip ? ctx.src_ip : t.src.ip) {
            geo = set->geo.lookup(*ip);
        }
    }
    w.field("SrcIPCountryCode", geo.country);
    w.field("SrcIPContinentCode", geo.continent);
    w.field("DstIP", t.dst.ip_text(text));
    w.field("DstPort", static_cast<unsigned>(t.dst.port));
    w.field("Protocol", net::transport_name(t.protocol));
    w.field("DoHSubdomain", ctx.location.doh_subdomain);
    w.field("DoTSubdomain", ctx.location.dot_subdomain);
}

void question_fields(JsonWriter& w, const QueryContext& ctx) {
    if (ctx.query && !ctx.query->question.empty()) {
        const auto& q = ctx.query->question[0];
        const std::string name = q.qname.to_gateway_text();
        w.field("QueryName", name);
        w.field("QueryNameReversed", reversed_name(name));
        w.field("QueryType", static_cast<unsigned>(q.qtype));
        w.field("QueryTypeName", wire::type_name(q.qtype));
    } else {
        w.field("QueryName", "");
        w.field("QueryNameReversed", "");
        w.field("QueryType", 0);
        w.field("QueryTypeName", "");
    }
    w.field("QuerySize", static_cast<std::uint64_t>(ctx.query_size));
}

/// ResourceRecords (and the deprecated RData, same shape): one object per answer record,
/// `{"type": "<RR type number>", "data": "<base64 of the record in wire format>"}`, as JSON
/// text (written twice, built once).
std::string record_objects(const QueryContext& ctx) {
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    if (ctx.response) {
        for (const auto& rr : ctx.response->answer) {
            w.begin_object();
            w.field("type", std::to_string(rr.type));
            w.field("data", util::base64_encode(wire::record_wire(rr)));
            w.end_object();
        }
    }
    w.end_array();
    return out;
}

/// ResourceRecordsJSON: the answer records as a JSON text, in the dataset page's example
/// shape `[{"name","type","class","ttl","rdata"}]`.
std::string records_json(const QueryContext& ctx) {
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    if (ctx.response) {
        for (const auto& rr : ctx.response->answer) {
            w.begin_object();
            w.field("name", rr.name.to_gateway_text());
            w.field("type", wire::type_name(rr.type));
            w.field("class", wire::class_name(rr.rclass));
            w.field("ttl", static_cast<std::uint64_t>(rr.ttl));
            w.field("rdata", wire::rdata_text(rr));
            w.end_object();
        }
    }
    w.end_array();
    return out;
}

/// The server that answered, when its answer was authoritative (AA, RFC 1035 §4.1.1): then
/// it is the authoritative name server that provided the records. A recursive upstream
/// hides which one did, so the field stays empty.
std::vector<std::string> authoritative_ips(const QueryContext& ctx) {
    const bool from_upstream =
        ctx.source == AnswerSource::Upstream || ctx.source == AnswerSource::Cache;
    if (!from_upstream || !ctx.upstream_answer || !ctx.upstream_answer->flag(wire::kFlagAa)) {
        return {};
    }
    if (auto ip = server_ip(ctx.upstream_server)) {
        return {ip->to_string()};
    }
    return {};
}

void answer_fields(JsonWriter& w, const QueryContext& ctx, const Names& names,
                   const policy::PolicySet* set) {
    if (ctx.disposition == stages::Disposition::Answered) {
        w.field("RCode", static_cast<unsigned>(ctx.response->rcode()));
    } else {
        w.key("RCode").null(); // nothing was sent (LabDropped): there is no RCODE to log
    }
    w.array_field("ResolvedIPs", names.resolved_ips);
    // One country and continent per resolved IP, "" where the geo data has none.
    std::vector<std::string> countries, continents;
    for (const auto& text : names.resolved_ips) {
        policy::GeoInfo g;
        if (auto ip = net::IpAddr::parse(text); ip && set != nullptr) {
            g = set->geo.lookup(*ip);
        }
        countries.push_back(std::move(g.country));
        continents.push_back(std::move(g.continent));
    }
    w.array_field("ResolvedIPCountryCodes", countries);
    w.array_field("ResolvedIPContinentCodes", continents);
    w.key("InitialResolvedIPs").begin_array();
    net::IpText ip_text;
    for (const auto& ip : ctx.initial_resolved_ips) {
        w.value(net::format_ip(ip, ip_text)); // as wire::address_text() spells it
    }
    w.end_array();
    w.array_field("CNAMEs", names.cnames);
    std::vector<std::string> reversed;
    for (const auto& c : names.cnames) {
        reversed.push_back(reversed_name(c));
    }
    w.array_field("CNAMEsReversed", reversed);
    const std::string records = record_objects(ctx);
    w.key("ResourceRecords").raw(records);
    w.field("ResourceRecordsJSON", records_json(ctx));
    w.key("RData").raw(records);
    w.array_field("AuthoritativeNameServerIPs", authoritative_ips(ctx));
    w.field("IsResponseCached", ctx.source == AnswerSource::Cache);
    const auto elapsed = ctx.finished_at - ctx.received_at;
    w.field("ResponseTimeMs",
            static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    w.array_field("UpstreamRecordTTLs", ctx.upstream_ttls);
    w.field("AppliedMaxTTL", ctx.applied_max_ttl);
    w.key("EDEErrors").begin_array();
    for (auto c : ctx.ede_codes) {
        w.value(static_cast<unsigned>(c));
    }
    w.end_array();
}

/// Email, UserID, DeviceID, DeviceName, RegistrationID from the lab identity map entry of
/// the query (the same lookup the identity selectors use: token, else source address).
void identity_fields(JsonWriter& w, const QueryContext& ctx, const policy::PolicySet* set,
                     const stages::SiteConstants& site) {
    const policy::Identity* id = nullptr;
    if (set != nullptr) {
        id = set->identities.find(ctx.transport.http_authorization, ctx.src_ip);
    }
    // Gateway logs queries from non-identity on-ramps as this user
    // (developers.cloudflare.com/cloudflare-one/insights/logs/gateway-logs/).
    w.field("Email",
            id != nullptr ? id->email : "non_identity@" + site.team_name + ".cloudflareaccess.com");
    w.field("UserID", id != nullptr ? id->user_id : std::string());
    w.field("DeviceID", id != nullptr ? id->device_id : std::string());
    w.field("DeviceName", id != nullptr ? id->device_name : std::string());
    w.field("RegistrationID", id != nullptr ? id->registration_id : std::string());
}

/// TimeZone and TimeZoneInferredMethod: set when the deciding rule has a schedule. A rule
/// with a time_zone uses it ("fromRule"); without one the lab uses UTC, its data centre's
/// time, where Gateway would first try the user's IP ("fromLocalTime", the spelling of the
/// method in a Logpush sample).
std::pair<std::string, std::string_view> schedule_zone(const policy::Rule* rule) {
    if (rule == nullptr || !rule->schedule) {
        return {"", ""};
    }
    if (!rule->schedule->time_zone.empty()) {
        return {rule->schedule->time_zone, "fromRule"};
    }
    return {"UTC", "fromLocalTime"};
}

/// RedirectTargetURI: the deciding block rule's own block page redirect, when it shows one.
std::string redirect_target(const policy::Evaluation& ev) {
    if (!ev.blocked() || ev.rule == nullptr || !ev.rule->settings.block_page_enabled) {
        return {};
    }
    return ev.rule->settings.block_page_target_uri;
}

void policy_fields(JsonWriter& w, const QueryContext& ctx) {
    static const std::string kEmpty;
    const auto& loc = ctx.location;
    w.field("Location", loc.location ? loc.location->name : std::string());
    w.field("LocationID", loc.location ? loc.location->id : std::string());
    const policy::Evaluation* ev = ctx.evaluation.get();
    const policy::Rule* rule = ev != nullptr ? ev->rule : nullptr;
    const policy::Rule* resolver_rule = ev != nullptr ? ev->route.rule : nullptr;
    w.field("ResolverDecision",
            ev != nullptr ? policy::decision_name(ev->decision) : std::string_view());
    w.field("PolicyID", rule != nullptr ? rule->id : std::string());
    w.field("PolicyName", rule != nullptr ? rule->name : std::string());
    w.field("Policy", rule != nullptr ? rule->id : std::string()); // deprecated: the rule UUID
    const std::string& resolver_id = resolver_rule != nullptr ? resolver_rule->id : kEmpty;
    const std::string& resolver_name = resolver_rule != nullptr ? resolver_rule->name : kEmpty;
    w.field("ResolverPolicyID", resolver_id);
    w.field("ResolverPolicyName", resolver_name);
    w.field("CustomResolverPolicyID", resolver_id); // deprecated twins of the two above
    w.field("CustomResolverPolicyName", resolver_name);
    w.field("CustomResolverAddress", ctx.custom_resolver_address);
    w.field("RedirectTargetURI", ev != nullptr ? redirect_target(*ev) : std::string());
    const auto [zone, method] = schedule_zone(rule);
    w.field("TimeZone", zone);
    w.field("TimeZoneInferredMethod", method);
}

void category_pair(JsonWriter& w, std::string_view what, const std::vector<std::int64_t>& ids,
                   const policy::PolicySet* set) {
    w.array_field(std::string(what) + "CategoryIDs", ids);
    // One name per ID, in the same order; "" for an ID the category table does not name.
    w.key(std::string(what) + "CategoryNames").begin_array();
    for (auto id : ids) {
        w.value(set != nullptr ? set->categories.name_of(id) : std::string());
    }
    w.end_array();
}

void category_fields(JsonWriter& w, const QueryContext& ctx, const policy::PolicySet* set) {
    static const std::vector<std::int64_t> kNone;
    const policy::Evaluation* ev = ctx.evaluation.get();
    category_pair(w, "Initial", ev != nullptr ? ev->initial_categories : kNone, set);
    category_pair(w, "CNAME", ev != nullptr ? ev->cname_categories : kNone, set);
    category_pair(w, "ResolvedIP", ev != nullptr ? ev->resolved_ip_categories : kNone, set);
    category_pair(w, "Query", ev != nullptr ? ev->query_categories : kNone, set);
    category_pair(w, "Matched", ev != nullptr ? ev->matched_categories : kNone, set);
    category_pair(w, "RequestContext", ev != nullptr ? ev->request_context_categories : kNone, set);
}

/// ApplicationID/Name and QueryApplicationIDs/Names from the lab application catalogue; the
/// four *IndicatorFeed* fields from the lab indicator feeds (policy/catalogues.hpp).
void catalogue_fields(JsonWriter& w, const QueryContext& ctx, const policy::PolicySet* set) {
    static const std::vector<std::int64_t> kNone;
    const policy::Evaluation* ev = ctx.evaluation.get();
    const auto& apps = ev != nullptr ? ev->query_apps : kNone;
    // The application of the most specific domain; 0 is the dataset's "no application".
    w.field("ApplicationID", apps.empty() ? std::int64_t{0} : apps.front());
    w.field("ApplicationName", apps.empty() || set == nullptr
                                   ? std::string()
                                   : set->applications.name_of(apps.front()));
    w.array_field("QueryApplicationIDs", apps);
    w.key("QueryApplicationNames").begin_array();
    for (auto id : apps) {
        w.value(set != nullptr ? set->applications.name_of(id) : std::string());
    }
    w.end_array();
    auto feed_pair = [&](std::string_view what, const std::vector<std::int64_t>& ids) {
        w.array_field(std::string(what) + "IndicatorFeedIDs", ids);
        w.key(std::string(what) + "IndicatorFeedNames").begin_array();
        for (auto id : ids) {
            w.value(set != nullptr ? set->indicator_feeds.name_of(id) : std::string());
        }
        w.end_array();
    };
    feed_pair("Matched", ev != nullptr ? ev->matched_feeds : kNone);
    feed_pair("Query", ev != nullptr ? ev->query_feeds : kNone);
}

/// What the resolver-policy route did: Internal DNS view and fallback, custom resolver time
/// and outcome (stages/routing.cpp).
void route_fields(JsonWriter& w, const QueryContext& ctx) {
    static const std::string kEmpty;
    const auto* in = ctx.internal_dns ? &*ctx.internal_dns : nullptr;
    w.field("InternalDNSViewID", in != nullptr ? in->view_id : kEmpty);
    w.field("InternalDNSFallbackStrategy", in != nullptr ? in->fallback_applied : kEmpty);
    w.field("InternalDNSRCode", in != nullptr ? in->rcode : 0);
    w.field("InternalDNSZoneID", in != nullptr ? in->zone_id : kEmpty);
    w.field("InternalDNSDurationMs", in != nullptr ? in->duration_ms : 0);
    const auto* cr = ctx.custom_resolve ? &*ctx.custom_resolve : nullptr;
    w.field("CustomResolveDurationMs", cr != nullptr ? cr->duration_ms : 0);
    w.field("CustomResolverResponse", cr != nullptr ? cr->response : kEmpty);
    if (!ctx.client_subnet_text.empty()) {
        w.field("LabClientSubnet", ctx.client_subnet_text); // what went upstream (RFC 7871)
    }
}

/// What Gateway does not log but an engineer reproducing a case needs.
void lab_fields(JsonWriter& w, const QueryContext& ctx) {
    if (const policy::Evaluation* ev = ctx.evaluation.get()) {
        w.field("LabResolverDecisionCode", static_cast<unsigned>(ev->decision));
        w.field("LabPolicyAction",
                ev->action ? policy::action_name(*ev->action) : std::string_view("none"));
    }
    w.field("LabLocationReason", ctx.location.reason.view());
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
    w.field("LabListener", ctx.transport.listener.view());
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
    if (ctx.disposition != stages::Disposition::Answered) {
        w.field("LabDropped", true);
    }
}

} // namespace

std::string render_query_record(const QueryContext& ctx) {
    static const stages::SiteConstants kDefaultSite;
    const policy::PolicySet* set = ctx.policy ? ctx.policy->set.get() : nullptr;
    const stages::SiteConstants& site = ctx.policy ? ctx.policy->site : kDefaultSite;
    std::string out;
    out.reserve(4096); // a typical record is about 3 KB
    JsonWriter w(out);
    w.begin_object();
    site_fields(w, ctx, site);
    transport_fields(w, ctx, set);
    question_fields(w, ctx);
    answer_fields(w, ctx, answer_names(ctx), set);
    identity_fields(w, ctx, set, site);
    policy_fields(w, ctx);
    category_fields(w, ctx, set);
    catalogue_fields(w, ctx, set);
    route_fields(w, ctx);
    lab_fields(w, ctx);
    w.end_object();
    return out;
}

} // namespace resolver::log
