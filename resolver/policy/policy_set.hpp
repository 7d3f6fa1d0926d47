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

/// Everything the policy engine reads, bundled and immutable once loaded: rules (compiled,
/// in evaluation order), lists, locations, categories, geo and identities. Shared between
/// worker threads as `std::shared_ptr<const PolicySet>`; a query pins one for its lifetime,
/// and a reload builds a whole new set (load_policy) and swaps the pointer.
struct PolicySet {
    /// DNS rules (filters: dns) sorted by ascending precedence, ties by file order.
    std::vector<Rule> dns_rules;
    /// Resolver rules (filters: dns_resolver) sorted the same way.
    std::vector<Rule> resolver_rules;
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
using PolicySetPtr = std::shared_ptr<const PolicySet>;

} // namespace resolver::policy
