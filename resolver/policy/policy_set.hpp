// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/attribution/location.hpp"
#include "resolver/policy/catalogues.hpp"
#include "resolver/policy/categories.hpp"
#include "resolver/policy/geo.hpp"
#include "resolver/policy/identity.hpp"
#include "resolver/policy/lists.hpp"
#include "resolver/policy/rule.hpp"

namespace resolver::policy {

namespace detail {
struct NamePatternSets; // the RE2::Set prefilters (rule_index.cpp)
}

/// What the rule index reads of one query: views into the evaluator's fact store.
struct IndexQuery {
    std::string_view normal; // the query name normalised (normalize_domain)
    std::string_view fqdn;   // dns.fqdn as the rules see it (behaviour: case, trailing dot)
    std::span<const std::string_view> domains; // dns.domains as the rules see it
    std::string_view rtype;                    // dns.query_rtype
    std::string_view location;                 // dns.location (the location ID)
    std::span<const std::int64_t> categories;  // the query name's category IDs
};

/// Per-query working memory of RuleIndex::candidates (one per EvalScratch): keeps its
/// capacity, so a lookup allocates nothing once warm.
struct IndexScratch {
    std::vector<std::uint64_t> bits;      // candidate set: bit i = dns_rules[i]
    std::vector<int> hits;                // RE2::Set matches
    std::vector<std::uint64_t> post_bits; // post-phase candidate set, same numbering
};

/// The dns.resolved_ips conditions of the post-resolution rules (`in {CIDR…}`, `in $ip_list`),
/// as prefixes over the 128-bit address form (IPv4 mapped, so IPv4 prefixes count from bit
/// 96): each range is split into CIDR blocks (at most 2·128 per range, one for a CIDR), and
/// blocks of one length share a hash table, so an address costs one lookup per prefix length
/// in use (the per-length hash scheme for longest-prefix matching, Waldvogel et al., SIGCOMM
/// 1997), whatever the number of rules or ranges.
struct ResolvedIpIndex {
    struct Block {
        std::uint64_t hi = 0, lo = 0; // the block's first address, high and low 64 bits
        friend bool operator==(const Block&, const Block&) = default;
    };
    struct BlockHash {
        std::size_t operator()(const Block& b) const noexcept {
            return static_cast<std::size_t>((b.hi * 0x9E3779B97F4A7C15ULL) ^ b.lo ^ (b.lo >> 29));
        }
    };
    struct Slot {
        std::uint32_t begin = 0, end = 0; // rule_ids[begin, end)
    };
    struct Level {
        int bits = 0; // prefix length over 128 bits
        std::unordered_map<Block, Slot, BlockHash> blocks;
    };
    std::vector<Level> levels; // one per prefix length in use
    std::vector<std::uint32_t> rule_ids;
    /// Sets in `bits` every rule with a block that holds `ip`.
    void mark(const net::IpAddr& ip, std::vector<std::uint64_t>& bits) const;
    [[nodiscard]] std::size_t block_count() const noexcept;
};

/// The rule index over the pre-resolution DNS rules (issue 14). Every rule gets a
/// requirement: a set of keys one of which must hold for the rule to match, derived from its
/// traffic and identity expressions (for `and` the most selective conjunct, for `or`/`xor`
/// the union of every branch, `not not x` as x; `not`, `all()` and unknown fields have none):
///
/// - the normalised query name is one of a few names (`dns.fqdn ==`/`in {…}`/`in $list`,
///   `wildcard` without `*`), or has one at a label boundary (the same on `dns.domains`, and
///   `wildcard "*.suffix"` on either field): all these names live in one DomainTable, walked
///   from the whole name towards the root, O(labels) lookups whatever the number of rules;
///   lists above kInlineListNames names are probed in place instead of copied;
/// - a regex (`matches`) or another glob/substring (`wildcard "*ads*"`, `contains`) matches:
///   one RE2::Set per kind and field runs once over dns.fqdn (or each dns.domains element);
/// - the query type, the location or one of the name's categories is one of a few values.
///
/// A rule without a requirement is always a candidate. candidates() returns a superset of the
/// rules that can match, and evaluate_pre runs the full expressions of exactly those, in
/// precedence order (first match wins): the same decisions as the linear walk
/// (EvalOptions::linear), which the unit tests check on random rule sets. Disabled and
/// `expired` rules are never candidates; schedules and expires_at are checked at evaluation.
struct RuleIndex {
    /// Lists up to this many names are copied into the name table; larger ones (the 1M
    /// list) are looked up in place, O(labels) per list per query.
    static constexpr std::size_t kInlineListNames = 4096;

    std::uint32_t rule_count = 0;
    std::vector<std::uint64_t> always; // bitset: rules without a requirement
    /// Normalised name -> 4-byte posting number (little-endian) into `postings`.
    DomainTable names;
    struct Posting {
        std::uint32_t begin = 0;     // rule_ids[begin, exact_end): the name itself only
        std::uint32_t exact_end = 0; // rule_ids[exact_end, end): the name or a parent
        std::uint32_t end = 0;
    };
    std::vector<Posting> postings;
    std::vector<std::uint32_t> rule_ids;
    struct ListProbe {
        const PolicyList* list = nullptr;
        std::vector<std::uint32_t> exact;  // dns.fqdn in $list
        std::vector<std::uint32_t> suffix; // dns.domains[*] in $list
    };
    std::vector<ListProbe> list_probes;
    std::shared_ptr<const detail::NamePatternSets> patterns; // null: no pattern rules
    std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>>
        by_rtype;
    std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>>
        by_location;
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> by_category;

    /// What evaluate_post may visit: post-phase rules, and pre-phase rules using categories
    /// (re-checked on CNAME-target and resolved-IP categories), in precedence order.
    std::vector<std::uint32_t> post;
    /// The post-phase rules alone: what evaluate_post may visit when the response added no
    /// category (no CNAME target or resolved IP with one), so nothing can be re-checked.
    std::vector<std::uint32_t> post_phase;
    /// Per dns_rules index: a comparison on dns.resolved_ips (in a set or an IP list) the
    /// rule cannot match without, or null (the rule cannot match when no resolved IP passes
    /// it). Rules whose comparison is in `resolved_ips` are candidates only through it.
    std::vector<const Comparison*> resolved_need;
    /// Bitsets over dns_rules: the rules of `post` / `post_phase` that are candidates for
    /// every response (no comparison in `resolved_ips`; disabled and `expired` rules left out).
    std::vector<std::uint64_t> post_always, post_phase_always;
    /// The post-phase rules' necessary dns.resolved_ips comparisons as prefixes.
    ResolvedIpIndex resolved_ips;
    std::vector<std::uint64_t> post_indexed; // bitset: rules filed in `resolved_ips`
    bool built = false;

    /// Fills `scratch.bits` with the pre-phase rules that can match `q` (a superset).
    void candidates(const IndexQuery& q, IndexScratch& scratch) const;
    /// Fills `scratch.post_bits` with the rules evaluate_post must visit for a response with
    /// `ips` (a superset of those that can match): the rules of `post` (`recheck`: the
    /// response added categories or feeds) or of `post_phase`. False when there is none.
    bool post_candidates(std::span<const net::IpAddr> ips, bool recheck,
                         IndexScratch& scratch) const;
};

/// A rule of the export the lab could not read, skipped so the rest of the export loads (a
/// customer export is a mix: Gateway evaluates each rule on its own). Also one line of
/// PolicySet::warnings; `--strict` / `[policy] strict` makes any of them fatal.
struct SkippedRule {
    std::string file;       // the rules file as named on the command line or config
    std::string id;         // the rule's id ("#N" when it has none)
    std::string name;       // the rule's name
    std::string field;      // "traffic", "identity", "action", "rule_settings.override_ips", ...
    std::string expression; // the expression, when `field` is one
    std::size_t column = 0; // 1-based column in `expression`; 0 = not an expression
    std::string reason;     // what the lab could not read
    std::string warning;    // its line in PolicySet::warnings
    /// A rule for another Gateway filter (http, l4, egress): not a DNS rule, so it is listed
    /// but `--strict` does not count it (a real export holds every filter's rules).
    [[nodiscard]] bool other_filter() const noexcept { return field == "filters"; }
};

/// A loader warning about a rule that loads anyway (a `dns.location` ID the locations export
/// does not have: the rule never matches it): the same facts as a SkippedRule, for outputs
/// that carry warnings as data (explain --json, the policy events, scenario run --json).
/// Also one line of PolicySet::warnings.
struct RuleWarning {
    std::string file;       // the rules file
    std::string id;         // the rule's id
    std::string name;       // the rule's name
    std::string field;      // "traffic", "identity", "device_posture"
    std::string expression; // the expression `field` holds
    std::size_t column = 0; // 1-based column in `expression` of what the warning is about
    std::string message;    // what is wrong
    std::string warning;    // its line in PolicySet::warnings
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
    ApplicationCatalogue applications; // app.ids, app.type.ids
    IndicatorFeeds indicator_feeds;    // dns.indicator_feed
    /// Non-fatal findings (skipped rules, ignored fields), one line each.
    std::vector<std::string> warnings;
    /// The rules skipped at load (each also in `warnings`), in file order.
    std::vector<SkippedRule> skipped_rules;
    /// Warnings about rules that loaded anyway (each also in `warnings`), in file order.
    std::vector<RuleWarning> rule_warnings;

    [[nodiscard]] const PolicyList* find_list(std::string_view id) const {
        auto it = lists.find(std::string(id));
        return it == lists.end() ? nullptr : it->second.get();
    }
};
/// Builds `set.pre_index` from `set.dns_rules`. Called by the loader; call again after
/// changing dns_rules by hand (tests).
void build_rule_index(PolicySet& set);
/// One line about `set.pre_index` (sizes), for the benchmark.
std::string describe_rule_index(const PolicySet& set);

using PolicySetPtr = std::shared_ptr<const PolicySet>;

} // namespace resolver::policy
