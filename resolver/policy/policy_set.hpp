// SPDX-License-Identifier: MIT
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/attribution/location.hpp"
#include "resolver/policy/categories.hpp"
#include "resolver/policy/geo.hpp"
#include "resolver/policy/identity.hpp"
#include "resolver/policy/lists.hpp"
#include "resolver/policy/rule.hpp"

namespace resolver::policy {

/// A prefilter over the pre-resolution DNS rules: a rule whose traffic can only match when
/// the query name or a parent is one of a few literal names (or the query type is one of a
/// few types, or the name has one of a few category IDs) is filed under those keys; the rest
/// are always candidates. evaluate_pre looks up the query's O(labels) names
/// and evaluates only candidate rules, so 500 name rules cost a handful of hash lookups.
struct RuleIndex {
    std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>>
        by_name; // literal name -> indexes into dns_rules
    std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>>
        by_rtype; // dns.query_rtype literal -> rules
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> by_category; // category ID
    std::vector<std::uint32_t> always; // pre-phase rules without a name requirement
    /// What evaluate_post visits: post-phase rules, and pre-phase rules using categories
    /// (re-checked on CNAME-target and resolved-IP categories), in precedence order.
    std::vector<std::uint32_t> post;
    /// The post-phase rules alone: what evaluate_post visits when the response added no
    /// category (no CNAME target or resolved IP with one), so nothing can be re-checked.
    std::vector<std::uint32_t> post_phase;
    /// Per dns_rules index: a comparison on dns.resolved_ips (in a set or an IP list) the
    /// rule cannot match without, or null. evaluate_post skips the rule when no resolved IP
    /// passes it, without running the expression.
    std::vector<const Comparison*> resolved_need;
    bool built = false;
};

/// Everything the policy engine reads, bundled and immutable once loaded: rules (compiled,
/// in evaluation order), lists, locations, categories, geo and identities. Shared between
/// worker threads as `std::shared_ptr<const PolicySet>`; a query pins one for its lifetime,
/// and a reload builds a whole new set (load_policy) and swaps the pointer.
struct PolicySet {
    /// DNS rules (filters: dns) sorted by ascending precedence, ties by file order.
    std::vector<Rule> dns_rules;
    /// Resolver rules (filters: dns_resolver) sorted the same way.
    std::vector<Rule> resolver_rules;
    /// Prefilter over dns_rules (built by load_policy).
    RuleIndex pre_index;
    /// Lists by id. unique_ptr: compiled expressions point at the lists.
    std::unordered_map<std::string, std::unique_ptr<PolicyList>> lists;
    attribution::LocationMap locations;
    CategoryDb categories;
    GeoDb geo;
    IdentityMap identities;
    /// Non-fatal findings (skipped rules, ignored fields), one line each.
    std::vector<std::string> warnings;

    [[nodiscard]] const PolicyList* find_list(std::string_view id) const {
        auto it = lists.find(std::string(id));
        return it == lists.end() ? nullptr : it->second.get();
    }
};
/// Builds `set.pre_index` from `set.dns_rules`. Called by the loader; call again after
/// changing dns_rules by hand (tests).
void build_rule_index(PolicySet& set);

using PolicySetPtr = std::shared_ptr<const PolicySet>;

} // namespace resolver::policy
