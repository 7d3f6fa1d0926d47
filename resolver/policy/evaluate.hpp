// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/attribution/location.hpp"
#include "resolver/policy/behaviour.hpp"
#include "resolver/policy/policy_set.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::policy {

/// Gateway's ResolverDecision (reference §5.2): Logpush writes the string, GraphQL the number.
enum class ResolverDecision : std::uint8_t {
    Unknown = 0,
    AllowedByQueryName = 1,
    BlockedByQueryName = 2,
    BlockedByCategory = 3,
    AllowedOnNoLocation = 4,
    AllowedOnNoPolicyMatch = 5,
    BlockedAlwaysCategory = 6,
    OverrideForSafeSearch = 7,
    OverrideApplied = 8,
    BlockedRule = 9,
    AllowedRule = 10,
};
std::string_view decision_name(ResolverDecision d);

/// What the pipeline knows about a query before resolution. Views must outlive the call.
struct QueryFacts {
    std::string_view qname; // presentation form, any case, trailing dot optional
    std::uint16_t qtype = wire::rrtype::A;
    std::optional<net::IpAddr> src_ip;
    std::optional<net::IpAddr> src_internal_ip;
    std::optional<net::IpAddr> dst_ip; // the Gateway address the query reached (dns.resolved_ip)
    const attribution::Location* location = nullptr; // from attribution::attribute
    std::string_view doh_subdomain;
    std::string_view identity_token; // DoH CF-Authorization
    /// EDNS 65050 `{"categories":[...]}` when the client sent it (see parse_request_categories).
    std::optional<std::vector<std::int64_t>> request_categories;
    /// Unique per query (never reused) when set: lets evaluate_post take the query's facts
    /// from an EvalScratch that evaluate_pre filled for the same query, instead of building
    /// them again. 0: unknown, always rebuilt.
    std::uint64_t query_id = 0;
};

/// Parses the EDNS 65050 payload `{"categories":[2,67]}`; nullopt when malformed.
std::optional<std::vector<std::int64_t>> parse_request_categories(std::string_view payload);

/// Facts from the upstream answer, for post-resolution rules. Build with from_message().
struct ResponseFacts {
    std::vector<net::IpAddr> resolved_ips;         // A/AAAA RDATA in the answer section, in order
    std::vector<std::string> cnames;               // CNAME targets, chain order, normalised
    std::vector<std::string> mx;                   // MX exchanges
    std::vector<std::string> txt;                  // TXT strings (character-strings concatenated)
    std::vector<std::string> ptr;                  // PTR targets
    std::vector<net::IpAddr> authoritative_ns_ips; // when the upstream reveals them (rarely)
    static ResponseFacts from_message(const wire::Message& response);
    /// from_message() into this object: the vectors keep their capacity.
    void assign(const wire::Message& response);
};

/// Where the query goes (resolver policies, reference §1.3-1.4).
struct Route {
    enum class Kind : std::uint8_t { Default, CustomResolvers, Cloudflare, Internal };
    Kind kind = Kind::Default;
    const Rule* rule = nullptr;             // the matching resolver rule (ResolverPolicyID)
    std::vector<ResolverAddress> resolvers; // Kind::CustomResolvers, in the rule's order
    std::string view_id;                    // Kind::Internal
    std::string fallback;                   // Kind::Internal: "none" | "public_dns"
    /// Stable text for the cache key and the log: "default", "cloudflare",
    /// "custom:10.0.0.53:53,[2001:db8::53]:53", "internal:<view>".
    [[nodiscard]] std::string key() const;
};

/// One rule's verdict in one phase, for `explain`.
struct RuleTrace {
    enum class Verdict : std::uint8_t { Matched, NotMatched, Skipped };
    const Rule* rule = nullptr;
    Phase phase = Phase::Pre; // the phase the line belongs to (Pre, or Post)
    bool resolver = false;    // a resolver-policy line
    Verdict verdict = Verdict::NotMatched;
    std::string reason;
};
std::string_view verdict_name(RuleTrace::Verdict v);

/// The engine's result for one query. evaluate_pre() fills it; when `needs_resolution()`
/// the pipeline resolves along `route` and calls evaluate_post() with the answer.
struct Evaluation {
    const attribution::Location* location = nullptr;
    /// The deciding rule and its action; nullopt while undecided or when nothing matched.
    std::optional<Action> action;
    const Rule* rule = nullptr;
    ResolverDecision decision = ResolverDecision::Unknown;
    Phase decided_in = Phase::Pre;
    bool finished = false;              // no further phase runs (decision final)
    bool request_context_block = false; // block came from dns.categories_in_request_context_matches
    Route route;
    std::vector<std::int64_t> initial_categories; // of the query name
    std::vector<std::int64_t> cname_categories;   // of CNAME targets in the answer
    std::vector<std::int64_t> resolved_ip_categories;
    std::vector<std::int64_t> query_categories;           // union (QueryCategoryIDs)
    std::vector<std::int64_t> matched_categories;         // that made the rule match
    std::vector<std::int64_t> request_context_categories; // EDNS 65050 ∩ name categories
    /// Applications of the query name from the catalogue, most specific domain first
    /// (QueryApplicationIDs; the first is ApplicationID).
    std::vector<std::int64_t> query_apps;
    std::vector<std::int64_t> initial_feeds;     // indicator feeds of the query name
    std::vector<std::int64_t> query_feeds;       // of the name and the resolved IPs
    std::vector<std::int64_t> resolved_ip_feeds; // indicator feeds of the resolved IPs
    std::vector<std::int64_t> matched_feeds;     // that made the deciding rule match
    std::vector<RuleTrace> trace;                // filled when EvalOptions::trace

    /// True when the query must be resolved upstream (allow, no match, override_host and
    /// safe-search targets are resolved by the pipeline too: see answer.hpp).
    [[nodiscard]] bool needs_resolution() const { return !action || *action == Action::Allow; }
    [[nodiscard]] bool blocked() const { return action && *action == Action::Block; }
};

namespace detail {
struct FactStore;
}

/// Working memory that evaluate_pre/evaluate_post may reuse from one query to the next (one
/// per loop thread): the fact vectors keep their capacity, so evaluating a cache hit
/// allocates next to nothing. Holds nothing between calls that a result depends on.
class EvalScratch {
public:
    EvalScratch();
    ~EvalScratch();
    EvalScratch(const EvalScratch&) = delete;
    EvalScratch& operator=(const EvalScratch&) = delete;
    [[nodiscard]] detail::FactStore& facts() noexcept { return *facts_; }
    /// ResponseFacts::from_message() in this scratch's own ResponseFacts (no allocation once
    /// warm but for long CNAME/MX/PTR/TXT strings); valid until the next call. evaluate_post
    /// may take it with this scratch in its options.
    [[nodiscard]] const ResponseFacts& response_facts(const wire::Message& response);

private:
    std::unique_ptr<detail::FactStore> facts_;
};

struct EvalOptions {
    std::int64_t now = 0; // unix seconds: schedules and expiration (never read from a clock)
    bool trace = false;   // record a RuleTrace line for every rule (explain)
    EvalScratch* scratch = nullptr; // reused working memory; null: allocate per call
    /// Visit every rule in precedence order instead of the rule index's candidates: the
    /// reference walk the index is tested and benchmarked against. Same results, O(rules).
    bool linear = false;
};

/// Phase 1 and 2 (reference §1.6): always-blocked categories, pre-resolution DNS rules by
/// ascending precedence (first matching allow/block/override/safesearch/ytrestricted wins),
/// then resolver rules (first match picks the route) unless the query was answered locally.
/// No location: no policies at all, decision allowedOnNoLocation. Pure.
Evaluation evaluate_pre(const PolicySet& set, const QueryFacts& q, const Behaviour& b,
                        const EvalOptions& opt);

/// Phase 4: post-resolution DNS rules (every rule using a during/post field) over `resp`,
/// plus category rules re-checked against CNAME-target categories (unless
/// ignore_cname_category_matches) and resolved-IP categories (when ip_categories). Runs
/// only when evaluate_pre left the query undecided; sets allowedOnNoPolicyMatch when nothing
/// matched. Also fills the CNAME / resolved-IP category facts for the log either way.
void evaluate_post(const PolicySet& set, const QueryFacts& q, const ResponseFacts& resp,
                   const Behaviour& b, const EvalOptions& opt, Evaluation& ev);

} // namespace resolver::policy
