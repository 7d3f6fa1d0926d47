// SPDX-License-Identifier: MIT
// Policy evaluation. Pure: (PolicySet, facts, behaviour, time) -> Evaluation. No I/O, no
// clock, no globals; the caller passes the time in EvalOptions.
#include "resolver/policy/evaluate.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>

namespace resolver::policy {

std::string_view decision_name(ResolverDecision d) {
    switch (d) {
    case ResolverDecision::Unknown:
        return "unknown";
    case ResolverDecision::AllowedByQueryName:
        return "allowedByQueryName";
    case ResolverDecision::BlockedByQueryName:
        return "blockedByQueryName";
    case ResolverDecision::BlockedByCategory:
        return "blockedByCategory";
    case ResolverDecision::AllowedOnNoLocation:
        return "allowedOnNoLocation";
    case ResolverDecision::AllowedOnNoPolicyMatch:
        return "allowedOnNoPolicyMatch";
    case ResolverDecision::BlockedAlwaysCategory:
        return "blockedAlwaysCategory";
    case ResolverDecision::OverrideForSafeSearch:
        return "overrideForSafeSearch";
    case ResolverDecision::OverrideApplied:
        return "overrideApplied";
    case ResolverDecision::BlockedRule:
        return "blockedRule";
    case ResolverDecision::AllowedRule:
        return "allowedRule";
    }
    return "unknown";
}

std::string_view verdict_name(RuleTrace::Verdict v) {
    switch (v) {
    case RuleTrace::Verdict::Matched:
        return "matched";
    case RuleTrace::Verdict::NotMatched:
        return "not matched";
    case RuleTrace::Verdict::Skipped:
        return "skipped";
    }
    return "?";
}

std::string Route::key() const {
    switch (kind) {
    case Kind::Default:
        return "default";
    case Kind::Cloudflare:
        return "cloudflare";
    case Kind::Internal:
        return "internal:" + view_id;
    case Kind::CustomResolvers: {
        std::string k = "custom:";
        for (std::size_t i = 0; i < resolvers.size(); ++i) {
            k += (i == 0 ? "" : ",") + resolvers[i].to_string();
        }
        return k;
    }
    }
    return "default";
}

std::optional<std::vector<std::int64_t>> parse_request_categories(std::string_view payload) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("categories") ||
        !j["categories"].is_array()) {
        return std::nullopt;
    }
    std::vector<std::int64_t> out;
    for (const auto& v : j["categories"]) {
        if (!v.is_number_integer()) {
            return std::nullopt;
        }
        out.push_back(v.get<std::int64_t>());
    }
    return out;
}

ResponseFacts ResponseFacts::from_message(const wire::Message& m) {
    ResponseFacts r;
    r.assign(m);
    return r;
}

void ResponseFacts::assign(const wire::Message& m) {
    ResponseFacts& r = *this;
    for (auto* v : {&r.cnames, &r.mx, &r.txt, &r.ptr}) {
        v->clear();
    }
    r.resolved_ips.clear();
    r.authoritative_ns_ips.clear();
    for (const auto& rr : m.answer) {
        switch (rr.type) {
        case wire::rrtype::A:
        case wire::rrtype::AAAA:
            if (auto a = net::IpAddr::from_bytes(rr.rdata)) {
                r.resolved_ips.push_back(*a);
            }
            break;
        case wire::rrtype::CNAME:
            if (auto t = wire::rdata_target(rr)) {
                r.cnames.push_back(t->to_gateway_text());
            }
            break;
        case wire::rrtype::MX:
            if (auto t = wire::rdata_target(rr)) {
                r.mx.push_back(t->to_gateway_text());
            }
            break;
        case wire::rrtype::PTR:
            if (auto t = wire::rdata_target(rr)) {
                r.ptr.push_back(t->to_gateway_text());
            }
            break;
        case wire::rrtype::TXT:
            r.txt.push_back(wire::txt_text(rr));
            break;
        default:
            break;
        }
    }
}

namespace detail {

/// Owns every value the FieldValues views point at. Built in place, never moved.
struct FactStore {
    /// QueryFacts::query_id of the query facts held (0: none or unknown), and whether
    /// response facts were added since (then the store is not reused).
    std::uint64_t query_id = 0;
    bool has_response = false;
    std::string normal; // the name as category and list lookups want it
    std::string fqdn;
    std::string rtype;
    std::vector<std::string_view> fqdn_v, domains, rtype_v, location_v, doh_v;
    std::vector<net::IpAddr> src, internal, dst;
    std::string src_country, src_continent;
    std::vector<std::string_view> src_country_v, src_continent_v;
    // Category views per combination: [0] name only, [1] +CNAME, [2] +IP, [3] +both.
    std::array<std::vector<std::int64_t>, 4> content, security;
    std::vector<std::int64_t> apps, app_types;
    // Indicator feeds: [0] of the name, [1] of the name and the resolved IPs.
    std::array<std::vector<std::int64_t>, 2> feeds;
    // Response facts.
    std::vector<net::IpAddr> resolved, ns_ips;
    std::vector<std::string> countries, continents;
    std::vector<std::string_view> countries_v, continents_v, cnames_v, mx_v, txt_v, ptr_v;
    // Identity.
    std::vector<std::string_view> email_v, name_v, gid_v, gname_v, gemail_v, oidc_v;
    std::vector<std::string_view> posture_passed_v, posture_failed_v;
    /// The identity map has posture results for the query's device (device_posture.checks.*
    /// are then present, possibly empty); false: rules' device_posture sees no data.
    bool posture_known = false;
    const Identity* identity = nullptr; // the identity-map entry of the query, if any
    bool request_context = false;
    IndexScratch index; // the rule index's candidate sets
    // Working memory kept across queries: merged category sets, a normalised CNAME target,
    // the notes of one rule's evaluation, the answer's facts (EvalScratch::response_facts).
    std::vector<std::int64_t> merged;
    std::string cname;
    EvalNotes notes;
    ResponseFacts response;
    FieldValues values;

    FactStore() = default;
    FactStore(const FactStore&) = delete;
    FactStore& operator=(const FactStore&) = delete;

    /// Empties every value, keeping the capacity (EvalScratch reuse).
    void reset() {
        query_id = 0;
        has_response = false;
        for (auto* str : {&normal, &fqdn, &rtype, &src_country, &src_continent}) {
            str->clear();
        }
        for (auto* v : {&fqdn_v,
                        &domains,
                        &rtype_v,
                        &location_v,
                        &doh_v,
                        &src_country_v,
                        &src_continent_v,
                        &countries_v,
                        &continents_v,
                        &cnames_v,
                        &mx_v,
                        &txt_v,
                        &ptr_v,
                        &email_v,
                        &name_v,
                        &gid_v,
                        &gname_v,
                        &gemail_v,
                        &oidc_v,
                        &posture_passed_v,
                        &posture_failed_v}) {
            v->clear();
        }
        for (auto* v : {&src, &internal, &dst, &resolved, &ns_ips}) {
            v->clear();
        }
        for (std::size_t k = 0; k < content.size(); ++k) {
            content[k].clear();
            security[k].clear();
        }
        apps.clear();
        app_types.clear();
        feeds[0].clear();
        feeds[1].clear();
        countries.clear();
        continents.clear();
        request_context = false;
        posture_known = false;
        identity = nullptr;
        values = FieldValues{};
    }

    FieldView& view(FieldId f) { return values.views[static_cast<std::size_t>(f)]; }
    void set(FieldId f, const std::vector<std::string_view>& v) {
        view(f).present = true;
        view(f).strs = v;
    }
    void set(FieldId f, const std::vector<net::IpAddr>& v) {
        view(f).present = true;
        view(f).ips = v;
    }
    void set(FieldId f, const std::vector<std::int64_t>& v) {
        view(f).present = true;
        view(f).ints = v;
    }
    /// Points the category fields at combination `k` (rule-specific in the post phase).
    void select_categories(std::size_t k) {
        set(FieldId::DnsContentCategory, content[k]);
        set(FieldId::DnsSecurityCategory, security[k]);
    }
};

} // namespace detail

EvalScratch::EvalScratch() : facts_(std::make_unique<detail::FactStore>()) {}
EvalScratch::~EvalScratch() = default;

const ResponseFacts& EvalScratch::response_facts(const wire::Message& response) {
    facts_->response.assign(response);
    return facts_->response;
}

namespace {
using detail::FactStore;

/// The FactStore for one evaluation: the caller's scratch, emptied, or `local`.
FactStore& fact_store(const EvalOptions& opt, std::optional<FactStore>& local) {
    if (opt.scratch != nullptr) {
        FactStore& fs = opt.scratch->facts();
        fs.reset();
        return fs;
    }
    return local.emplace();
}

void sort_unique(std::vector<std::int64_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

/// `out` = the sorted union of `parts` (none of them `out`), in `out`'s own capacity.
void merge_into(std::vector<std::int64_t>& out,
                std::initializer_list<const std::vector<std::int64_t>*> parts) {
    out.clear();
    for (const auto* p : parts) {
        out.insert(out.end(), p->begin(), p->end());
    }
    sort_unique(out);
}

void split_categories(const CategoryDb& db, const std::vector<std::int64_t>& all,
                      std::vector<std::int64_t>& content, std::vector<std::int64_t>& security) {
    content.clear();
    security.clear();
    for (auto c : all) {
        if (!db.known(c)) {
            // An ID the table lacks (33, 179, 180 in Cloudflare's own data): the lab cannot
            // tell which kind it is, so rules on either field match it.
            content.push_back(c);
            security.push_back(c);
            continue;
        }
        (db.is_security(c) ? security : content).push_back(c);
    }
}

/// A continent field's value for a geo continent code: the code, or under [behaviour]
/// continent_values = "name" its name (a code without one, as from an MMDB, stays a code).
std::string_view continent_fact(std::string_view code, const Behaviour& b) {
    if (b.continent_values == ContinentValues::Name) {
        if (auto name = continent_name(code); !name.empty()) {
            return name;
        }
    }
    return code;
}

void build_query_facts(FactStore& fs, const PolicySet& set, const QueryFacts& q, const Behaviour& b,
                       Evaluation& ev) {
    // dns.fqdn and dns.domains: behaviour decides case folding and the trailing dot.
    std::string_view name = q.qname;
    while (name.size() > 1 && name.back() == '.') {
        name.remove_suffix(1);
    }
    fs.fqdn.assign(name.empty() ? std::string_view(".") : name);
    if (b.fqdn_lowercase) {
        for (auto& c : fs.fqdn) {
            if (c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
        }
    }
    normalize_domain(fs.fqdn, fs.normal);
    const std::string& normal = fs.normal;
    if (b.fqdn_trailing_dot && fs.fqdn != ".") {
        fs.fqdn += '.';
    }
    fs.fqdn_v = {fs.fqdn};
    fs.set(FieldId::DnsFqdn, fs.fqdn_v);
    // Every suffix at a label boundary: the name and each parent (reference §2.2 inference).
    std::string_view rest = fs.fqdn;
    while (!rest.empty() && rest != ".") {
        fs.domains.push_back(rest);
        auto dot = rest.find('.');
        if (dot == std::string_view::npos || dot + 1 >= rest.size()) {
            break;
        }
        rest.remove_prefix(dot + 1);
    }
    fs.set(FieldId::DnsDomains, fs.domains);
    fs.rtype = wire::type_name(q.qtype);
    fs.rtype_v = {fs.rtype};
    fs.set(FieldId::DnsQueryRtype, fs.rtype_v);
    if (q.src_ip) {
        fs.src = {*q.src_ip};
        fs.set(FieldId::DnsSrcIp, fs.src);
        GeoInfo g = set.geo.lookup(*q.src_ip);
        fs.src_country = g.country;
        fs.src_continent = continent_fact(g.continent, b);
        if (!g.country.empty()) {
            fs.src_country_v = {fs.src_country};
            fs.set(FieldId::DnsSrcGeoCountry, fs.src_country_v);
        }
        if (!g.continent.empty()) {
            fs.src_continent_v = {fs.src_continent};
            fs.set(FieldId::DnsSrcGeoContinent, fs.src_continent_v);
        }
    }
    if (q.src_internal_ip) {
        fs.internal = {*q.src_internal_ip};
        fs.set(FieldId::DnsSrcInternalIp, fs.internal);
    }
    if (q.dst_ip) {
        fs.dst = {*q.dst_ip};
        fs.set(FieldId::DnsResolverIp, fs.dst);
    }
    if (q.location != nullptr) {
        fs.location_v = {q.location->id};
        fs.set(FieldId::DnsLocation, fs.location_v);
    }
    if (!q.doh_subdomain.empty()) {
        fs.doh_v = {q.doh_subdomain};
        fs.set(FieldId::DnsDohSubdomain, fs.doh_v);
    }
    // Applications of the name (and its parents) from the lab catalogue, and their types.
    ev.query_apps = set.applications.lookup(normal);
    fs.apps = ev.query_apps;
    for (auto id : fs.apps) {
        const auto type = set.applications.type_of(id);
        if (std::find(fs.app_types.begin(), fs.app_types.end(), type) == fs.app_types.end()) {
            fs.app_types.push_back(type);
        }
    }
    fs.set(FieldId::AppIds, fs.apps);
    fs.set(FieldId::AppTypeIds, fs.app_types);
    ev.initial_feeds = set.indicator_feeds.lookup(normal);
    ev.query_feeds = ev.initial_feeds;
    fs.feeds[0] = ev.initial_feeds;
    fs.feeds[1] = ev.initial_feeds;
    fs.set(FieldId::DnsIndicatorFeed, fs.feeds[0]);
    // Categories of the query name (closest row; parents implied).
    ev.initial_categories = set.categories.lookup(normal);
    ev.query_categories = ev.initial_categories;
    split_categories(set.categories, ev.initial_categories, fs.content[0], fs.security[0]);
    for (std::size_t k = 1; k < 4; ++k) {
        fs.content[k] = fs.content[0];
        fs.security[k] = fs.security[0];
    }
    fs.select_categories(0);
    // EDNS 65050: true when the request's categories intersect the name's categories.
    auto& rc = fs.view(FieldId::DnsCategoriesInRequestContextMatches);
    rc.present = true;
    if (q.request_categories) {
        for (auto c : *q.request_categories) {
            if (std::find(ev.initial_categories.begin(), ev.initial_categories.end(), c) !=
                ev.initial_categories.end()) {
                ev.request_context_categories.push_back(c);
            }
        }
        sort_unique(ev.request_context_categories);
    }
    rc.boolean = !ev.request_context_categories.empty();
    // Identity from the lab identity map.
    if (const Identity* id = set.identities.find(q.identity_token, q.src_ip)) {
        if (!id->email.empty()) {
            fs.email_v = {id->email};
            fs.set(FieldId::IdentityEmail, fs.email_v);
        }
        if (!id->name.empty()) {
            fs.name_v = {id->name};
            fs.set(FieldId::IdentityName, fs.name_v);
        }
        for (const auto& g : id->groups) {
            fs.gid_v.push_back(g.id);
            fs.gname_v.push_back(g.name);
            fs.gemail_v.push_back(g.email);
        }
        fs.set(FieldId::IdentityGroupsId, fs.gid_v);
        fs.set(FieldId::IdentityGroupsName, fs.gname_v);
        fs.set(FieldId::IdentityGroupsEmail, fs.gemail_v);
        fs.values.saml = &id->saml_attributes;
        fs.identity = id;
        fs.oidc_v.assign(id->oidc_claims.begin(), id->oidc_claims.end());
        fs.set(FieldId::IdentityOidcClaims, fs.oidc_v);
        if (id->posture) {
            fs.posture_known = true;
            fs.posture_passed_v.assign(id->posture->passed.begin(), id->posture->passed.end());
            fs.posture_failed_v.assign(id->posture->failed.begin(), id->posture->failed.end());
            fs.set(FieldId::DevicePosturePassed, fs.posture_passed_v);
            fs.set(FieldId::DevicePostureFailed, fs.posture_failed_v);
        }
    }
    fs.values.regex_anchored = b.regex_anchored;
}

/// The categories the response adds (CNAME targets, resolved IPs): Evaluation fields for the
/// log and for re-checking category rules. Reads ev.initial_categories (from evaluate_pre).
/// `name` is working memory for the normalised CNAME targets.
void response_categories(const PolicySet& set, const ResponseFacts& r, Evaluation& ev,
                         std::string& name) {
    ev.resolved_ip_categories.clear();
    for (const auto& ip : r.resolved_ips) {
        set.categories.lookup_ip_append(ip, ev.resolved_ip_categories);
    }
    sort_unique(ev.resolved_ip_categories);
    ev.cname_categories.clear();
    for (const auto& c : r.cnames) {
        normalize_domain(c, name);
        set.categories.lookup_append(name, ev.cname_categories);
    }
    sort_unique(ev.cname_categories);
    merge_into(ev.query_categories,
               {&ev.initial_categories, &ev.cname_categories, &ev.resolved_ip_categories});
    ev.resolved_ip_feeds.clear();
    if (!set.indicator_feeds.empty()) {
        for (const auto& ip : r.resolved_ips) {
            auto f = set.indicator_feeds.lookup_ip(ip);
            ev.resolved_ip_feeds.insert(ev.resolved_ip_feeds.end(), f.begin(), f.end());
        }
        sort_unique(ev.resolved_ip_feeds);
    }
    merge_into(ev.query_feeds, {&ev.initial_feeds, &ev.resolved_ip_feeds});
}

/// The response's fields for post-resolution rules; response_categories() ran before.
void build_response_facts(FactStore& fs, const PolicySet& set, const ResponseFacts& r,
                          const Evaluation& ev, const Behaviour& b) {
    fs.resolved = r.resolved_ips;
    fs.set(FieldId::DnsResolvedIps, fs.resolved);
    fs.ns_ips = r.authoritative_ns_ips;
    fs.set(FieldId::DnsAuthoritativeNsIps, fs.ns_ips);
    for (const auto& ip : r.resolved_ips) {
        GeoInfo g = set.geo.lookup(ip);
        fs.countries.push_back(g.country);
        fs.continents.push_back(std::string(continent_fact(g.continent, b)));
    }
    fs.countries_v.assign(fs.countries.begin(), fs.countries.end());
    fs.continents_v.assign(fs.continents.begin(), fs.continents.end());
    fs.set(FieldId::DnsDstGeoCountry, fs.countries_v);
    fs.set(FieldId::DnsDstGeoContinent, fs.continents_v);
    fs.cnames_v.assign(r.cnames.begin(), r.cnames.end());
    fs.mx_v.assign(r.mx.begin(), r.mx.end());
    fs.txt_v.assign(r.txt.begin(), r.txt.end());
    fs.ptr_v.assign(r.ptr.begin(), r.ptr.end());
    fs.set(FieldId::DnsResponseCname, fs.cnames_v);
    fs.set(FieldId::DnsResponseMx, fs.mx_v);
    fs.set(FieldId::DnsResponseTxt, fs.txt_v);
    fs.set(FieldId::DnsResponsePtr, fs.ptr_v);
    merge_into(fs.merged, {&ev.initial_categories, &ev.cname_categories});
    split_categories(set.categories, fs.merged, fs.content[1], fs.security[1]);
    merge_into(fs.merged, {&ev.initial_categories, &ev.resolved_ip_categories});
    split_categories(set.categories, fs.merged, fs.content[2], fs.security[2]);
    split_categories(set.categories, ev.query_categories, fs.content[3], fs.security[3]);
    fs.feeds[1] = ev.query_feeds;
}

/// Whether a rule can run at `now` (enabled, not expired, inside its schedule). No
/// allocation: the per-query walk asks this; inactive_reason() words it for a trace.
bool rule_active(const Rule& r, std::int64_t now) {
    return r.enabled && !r.expired && !(r.expires_at && now >= *r.expires_at) &&
           !(r.schedule && !r.schedule->active_at(now));
}

/// Why a rule cannot run now, or "" when it can.
std::string inactive_reason(const Rule& r, const EvalOptions& opt) {
    if (!r.enabled) {
        return "disabled";
    }
    if (r.expired || (r.expires_at && opt.now >= *r.expires_at)) {
        return "expired";
    }
    if (r.schedule && !r.schedule->active_at(opt.now)) {
        return "outside its schedule (" +
               (r.schedule->time_zone.empty() ? std::string("UTC") : r.schedule->time_zone) + ")";
    }
    return {};
}

struct Match {
    bool matched = false;
    const EvalNotes& notes;
};

/// Runs one rule's expressions; `notes` (the FactStore's, emptied here) keeps its capacity
/// from rule to rule, so a category rule that does not match allocates nothing.
Match run_rule(const Rule& r, const FieldValues& values, EvalNotes& notes) {
    notes.category_hit = false;
    notes.request_context_hit = false;
    notes.response_hit = false;
    notes.matched_categories.clear();
    notes.matched_feeds.clear();
    const bool matched = r.traffic.eval(values, notes) && r.identity.eval(values, notes) &&
                         r.device_posture.eval(values, notes);
    return Match{matched, notes};
}

/// Trace lines are built only when asked for: the reason strings cost allocations that the
/// per-query path (trace off) must not pay.
template <typename ReasonFn>
void record(Evaluation& ev, const EvalOptions& opt, const Rule* r, Phase phase, bool resolver,
            RuleTrace::Verdict v, ReasonFn&& reason) {
    if (opt.trace) {
        ev.trace.push_back(RuleTrace{r, phase, resolver, v, reason()});
    }
}

void decide(Evaluation& ev, const Rule& r, const Match& m, Phase phase, const Behaviour& b) {
    ev.action = r.action;
    ev.rule = &r;
    ev.decided_in = phase;
    ev.finished = true;
    ev.matched_categories = m.notes.matched_categories;
    if (m.notes.request_context_hit) {
        ev.matched_categories.insert(ev.matched_categories.end(),
                                     ev.request_context_categories.begin(),
                                     ev.request_context_categories.end());
    }
    sort_unique(ev.matched_categories);
    ev.matched_feeds = m.notes.matched_feeds;
    sort_unique(ev.matched_feeds);
    const bool post = phase == Phase::Post;
    switch (r.action) {
    case Action::Allow:
        ev.decision = post && m.notes.response_hit ? ResolverDecision::AllowedRule
                                                   : ResolverDecision::AllowedByQueryName;
        break;
    case Action::Block:
        ev.request_context_block = m.notes.request_context_hit;
        ev.decision = post && m.notes.response_hit ? ResolverDecision::BlockedRule
                      : m.notes.category_hit       ? ResolverDecision::BlockedByCategory
                                                   : ResolverDecision::BlockedByQueryName;
        break;
    case Action::Override:
        ev.decision = ResolverDecision::OverrideApplied;
        break;
    case Action::SafeSearch:
        ev.decision = ResolverDecision::OverrideForSafeSearch;
        break;
    case Action::YtRestricted:
        ev.decision = static_cast<ResolverDecision>(b.ytrestricted_decision);
        break;
    case Action::Resolve:
        break;
    }
}

/// For a rule with a device_posture expression evaluated without posture data: says so, so
/// that a verdict on such a rule is never mistaken for one on real posture results. "" when
/// the rule has no device_posture or the device has posture data.
std::string posture_gap(const Rule& r, const FactStore& fs) {
    if (r.device_posture.empty() || fs.posture_known) {
        return {};
    }
    return fs.identity == nullptr
               ? "no posture data: the query has no identity (identity map: no token or source "
                 "address entry), so device_posture.checks.* have no value"
               : "no posture data: the identity-map entry of this device has no device_posture, "
                 "so device_posture.checks.* have no value";
}

/// The first clause that kept a rule from matching and the fact it compared (trace only).
std::string why_not(const Rule& r, const FactStore& fs, const attribution::Location* location) {
    const FieldValues& values = fs.values;
    EvalNotes notes;
    if (!r.traffic.eval(values, notes)) {
        std::string why = "traffic: " + r.traffic.why_false(values);
        // Location IDs are UUIDs: name the query's location where its ID is shown.
        if (location != nullptr) {
            const std::string id = "dns.location is \"" + location->id + "\"";
            if (auto at = why.find(id); at != std::string::npos) {
                why.insert(at + id.size(), " (" + location->name + ")");
            }
        }
        return why;
    }
    if (!r.identity.eval(values, notes)) {
        return "identity: " + r.identity.why_false(values);
    }
    if (!r.device_posture.eval(values, notes)) {
        const std::string gap = posture_gap(r, fs);
        return "device_posture: " + (gap.empty() ? r.device_posture.why_false(values) : gap);
    }
    return "conditions are false";
}

/// The reason of a matched line: the action, and the posture gap when there is one.
std::string matched_reason(const Rule& r, const FactStore& fs, std::string_view how) {
    std::string reason = std::string(action_name(r.action)) + " (" + std::string(how) + ")";
    if (const std::string gap = posture_gap(r, fs); !gap.empty()) {
        reason += "; device_posture matched with " + gap;
    }
    return reason;
}

} // namespace

Evaluation evaluate_pre(const PolicySet& set, const QueryFacts& q, const Behaviour& b,
                        const EvalOptions& opt) {
    Evaluation ev;
    ev.location = q.location;
    if (q.location == nullptr) {
        // Reference §4.1: answered without the account's policies.
        ev.decision = ResolverDecision::AllowedOnNoLocation;
        ev.finished = true;
        if (opt.trace) {
            for (const auto& r : set.dns_rules) {
                record(ev, opt, &r, r.phase, false, RuleTrace::Verdict::Skipped,
                       [&] { return std::string("no location: policies do not apply"); });
            }
            for (const auto& r : set.resolver_rules) {
                record(ev, opt, &r, Phase::Pre, true, RuleTrace::Verdict::Skipped,
                       [&] { return std::string("no location: policies do not apply"); });
            }
        }
        return ev;
    }
    std::optional<FactStore> local;
    FactStore& fs = fact_store(opt, local);
    build_query_facts(fs, set, q, b, ev);
    fs.query_id = q.query_id;

    if (b.always_block) {
        for (auto c : ev.initial_categories) {
            if (std::find(b.always_block_categories.begin(), b.always_block_categories.end(), c) !=
                b.always_block_categories.end()) {
                ev.action = Action::Block;
                ev.decision = ResolverDecision::BlockedAlwaysCategory;
                ev.finished = true;
                ev.matched_categories = {c};
                break;
            }
        }
    }

    // One rule in precedence order; true when the walk can stop (decided, no trace).
    auto visit = [&](const Rule& r) {
        if (ev.finished) {
            if (!opt.trace) {
                return true;
            }
            record(ev, opt, &r, r.phase, false, RuleTrace::Verdict::Skipped, [&] {
                return std::string(ev.rule != nullptr
                                       ? "an earlier rule decided (" + ev.rule->id + ")"
                                       : "the query was already decided");
            });
            return false;
        }
        if (r.phase != Phase::Pre) {
            record(ev, opt, &r, Phase::Pre, false, RuleTrace::Verdict::Skipped, [&] {
                return std::string("uses post-resolution selectors: evaluated after resolution");
            });
            return false;
        }
        if (!rule_active(r, opt.now)) {
            record(ev, opt, &r, Phase::Pre, false, RuleTrace::Verdict::Skipped,
                   [&] { return inactive_reason(r, opt); });
            return false;
        }
        Match m = run_rule(r, fs.values, fs.notes);
        if (!m.matched) {
            record(ev, opt, &r, Phase::Pre, false, RuleTrace::Verdict::NotMatched,
                   [&] { return why_not(r, fs, q.location); });
            return false;
        }
        decide(ev, r, m, Phase::Pre, b);
        record(ev, opt, &r, Phase::Pre, false, RuleTrace::Verdict::Matched,
               [&] { return matched_reason(r, fs, "first match wins"); });
        return !opt.trace;
    };
    // The rule index's candidates (a superset of the rules that can match) in precedence
    // order; a trace or the linear reference walk visits every rule.
    const bool indexed = set.pre_index.built && !opt.trace && !opt.linear;
    if (indexed && !ev.finished) {
        IndexQuery iq{
            fs.normal, fs.fqdn, fs.domains, fs.rtype, fs.location_v.front(), ev.initial_categories};
        set.pre_index.candidates(iq, fs.index);
        const auto& bits = fs.index.bits;
        bool stop = false;
        for (std::size_t w = 0; w < bits.size() && !stop; ++w) {
            for (std::uint64_t word = bits[w]; word != 0 && !stop; word &= word - 1) {
                stop =
                    visit(set.dns_rules[w * 64 + static_cast<std::size_t>(__builtin_ctzll(word))]);
            }
        }
    } else if (!indexed) {
        for (const Rule& r : set.dns_rules) {
            if (visit(r)) {
                break;
            }
        }
    }

    if (!ev.action && !ev.finished) {
        // Provisional: evaluate_post() replaces it when a post-resolution rule matches.
        ev.decision = ResolverDecision::AllowedOnNoPolicyMatch;
    }
    // Resolver policies route whatever still needs an upstream (allow or undecided).
    const bool routed = !ev.action || *ev.action == Action::Allow;
    for (const auto& r : set.resolver_rules) {
        if (!routed) {
            record(ev, opt, &r, Phase::Pre, true, RuleTrace::Verdict::Skipped,
                   [&] { return std::string("answered before resolution"); });
            continue;
        }
        if (ev.route.rule != nullptr) {
            record(ev, opt, &r, Phase::Pre, true, RuleTrace::Verdict::Skipped, [&] {
                return std::string("an earlier resolver policy routed the query (" +
                                   ev.route.rule->id + ")");
            });
            continue;
        }
        if (!rule_active(r, opt.now)) {
            record(ev, opt, &r, Phase::Pre, true, RuleTrace::Verdict::Skipped,
                   [&] { return inactive_reason(r, opt); });
            continue;
        }
        Match m = run_rule(r, fs.values, fs.notes);
        if (!m.matched) {
            record(ev, opt, &r, Phase::Pre, true, RuleTrace::Verdict::NotMatched,
                   [&] { return why_not(r, fs, q.location); });
            continue;
        }
        Route& rt = ev.route;
        rt.rule = &r;
        if (!r.settings.dns_resolvers.empty()) {
            rt.kind = Route::Kind::CustomResolvers;
            rt.resolvers = r.settings.dns_resolvers;
        } else if (r.settings.resolve_dns_internally) {
            rt.kind = Route::Kind::Internal;
            rt.view_id = r.settings.internal_view_id;
            rt.fallback = r.settings.internal_fallback;
        } else {
            rt.kind = Route::Kind::Cloudflare;
        }
        record(ev, opt, &r, Phase::Pre, true, RuleTrace::Verdict::Matched, [&] {
            const std::string gap = posture_gap(r, fs);
            return "route: " + rt.key() +
                   (gap.empty() ? "" : "; device_posture matched with " + gap);
        });
    }
    return ev;
}

namespace {
void evaluate_post_rules(const PolicySet& set, const QueryFacts& q, const ResponseFacts& resp,
                         const Behaviour& b, const EvalOptions& opt, Evaluation& ev,
                         const std::vector<std::uint64_t>* candidates);
} // namespace

void evaluate_post(const PolicySet& set, const QueryFacts& q, const ResponseFacts& resp,
                   const Behaviour& b, const EvalOptions& opt, Evaluation& ev) {
    if (ev.location == nullptr) {
        return;
    }
    std::string local_name;
    response_categories(set, resp, ev,
                        opt.scratch != nullptr ? opt.scratch->facts().cname : local_name);
    if (ev.finished) {
        return;
    }
    // Without trace only the rules that can still decide are visited: the post index's
    // candidates for the resolved IPs (RuleIndex::post_candidates); with none, the facts
    // are not even built.
    const bool indexed = set.pre_index.built && !opt.trace && !opt.linear;
    if (!indexed) {
        evaluate_post_rules(set, q, resp, b, opt, ev, nullptr);
    } else {
        const bool new_categories = !ev.cname_categories.empty() ||
                                    !ev.resolved_ip_categories.empty() ||
                                    !ev.resolved_ip_feeds.empty();
        std::optional<IndexScratch> local;
        IndexScratch& is = opt.scratch != nullptr ? opt.scratch->facts().index : local.emplace();
        if (set.pre_index.post_candidates(resp.resolved_ips, new_categories, is)) {
            evaluate_post_rules(set, q, resp, b, opt, ev, &is.post_bits);
        }
    }
    if (!ev.action) {
        ev.decision = ResolverDecision::AllowedOnNoPolicyMatch;
        ev.finished = true;
    }
}

namespace {

/// The post-phase walk over the rules set in `candidates` (a bitset over dns_rules), or
/// over every rule when null, in precedence order.
void evaluate_post_rules(const PolicySet& set, const QueryFacts& q, const ResponseFacts& resp,
                         const Behaviour& b, const EvalOptions& opt, Evaluation& ev,
                         const std::vector<std::uint64_t>* candidates) {
    std::optional<FactStore> local;
    FactStore* fs = nullptr;
    if (opt.scratch != nullptr && q.query_id != 0 && opt.scratch->facts().query_id == q.query_id &&
        !opt.scratch->facts().has_response) {
        fs = &opt.scratch->facts(); // evaluate_pre just built this query's facts (a cache hit)
    } else {
        fs = &fact_store(opt, local);
        Evaluation scratch; // build_query_facts writes category facts; keep ev's pre results
        build_query_facts(*fs, set, q, b, scratch);
    }
    fs->has_response = true;
    build_response_facts(*fs, set, resp, ev, b);
    const RuleIndex& x = set.pre_index;
    auto visit = [&](std::size_t i) {
        const Rule& r = set.dns_rules[i];
        if (ev.finished) {
            record(ev, opt, &r, Phase::Post, false, RuleTrace::Verdict::Skipped,
                   [&] { return std::string("an earlier rule decided (" + ev.rule->id + ")"); });
            return;
        }
        const bool cname =
            !r.settings.ignore_cname_category_matches && !ev.cname_categories.empty();
        const bool ipcat = r.settings.ip_categories && !ev.resolved_ip_categories.empty();
        const bool ipfeed = r.settings.ip_indicator_feeds && !ev.resolved_ip_feeds.empty();
        // uses_category() walks the expression: ask only when there is something to re-check
        // (it was ~5% of a cache hit's CPU with 500 rules when asked for every rule).
        const bool recheck =
            r.phase == Phase::Pre && (((cname || ipcat) && r.uses_category()) ||
                                      (ipfeed && r.uses(FieldId::DnsIndicatorFeed)));
        if (r.phase == Phase::Pre && !recheck) {
            return; // already evaluated before resolution; nothing new to see
        }
        if (!rule_active(r, opt.now)) {
            record(ev, opt, &r, Phase::Post, false, RuleTrace::Verdict::Skipped,
                   [&] { return inactive_reason(r, opt); });
            return;
        }
        if (candidates != nullptr && x.resolved_need[i] != nullptr &&
            ((x.post_indexed[i / 64] >> (i % 64)) & 1U) == 0) {
            // A rule the post index could not hold: its resolved-IP test, before the expression.
            const Comparison* need = x.resolved_need[i];
            if (std::none_of(fs->resolved.begin(), fs->resolved.end(),
                             [need](const net::IpAddr& ip) { return ip_matches(*need, ip); })) {
                return;
            }
        }
        fs->select_categories((cname ? 1U : 0U) | (r.settings.ip_categories ? 2U : 0U));
        fs->set(FieldId::DnsIndicatorFeed, fs->feeds[r.settings.ip_indicator_feeds ? 1 : 0]);
        Match m = run_rule(r, fs->values, fs->notes);
        if (!m.matched) {
            record(ev, opt, &r, Phase::Post, false, RuleTrace::Verdict::NotMatched, [&] {
                return std::string(recheck
                                       ? "categories / indicator feeds of CNAME targets / resolved "
                                         "IPs do not match"
                                       : why_not(r, *fs, q.location));
            });
            return;
        }
        decide(ev, r, m, Phase::Post, b);
        record(ev, opt, &r, Phase::Post, false, RuleTrace::Verdict::Matched, [&] {
            return matched_reason(r, *fs,
                                  recheck ? "on categories of the response" : "first match wins");
        });
    };
    if (candidates == nullptr) {
        for (std::size_t i = 0; i < set.dns_rules.size(); ++i) {
            visit(i);
        }
        return;
    }
    const auto& bits = *candidates;
    for (std::size_t w = 0; w < bits.size() && !ev.finished; ++w) {
        for (std::uint64_t word = bits[w]; word != 0 && !ev.finished; word &= word - 1) {
            visit(w * 64 + static_cast<std::size_t>(__builtin_ctzll(word)));
        }
    }
}

} // namespace

} // namespace resolver::policy
