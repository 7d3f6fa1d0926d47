// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/policy/domain_table.hpp"
#include "resolver/net/ip.hpp"

namespace resolver::policy {

/// One row of the category ID table (reference §6). parent == 0 for a parent category.
struct CategoryInfo {
    int id = 0;
    int parent = 0;
    std::string name;
};

/// The lab's category data: domain -> category IDs (subdomains inherit unless they have
/// their own row), optional IP/CIDR rows (for `ip_categories`), and the ID table.
///
/// Split of `dns.security_category` vs `dns.content_category` (our choice, documented in
/// docs/policy.md): security = parent 21 "Security threats" and parent 32 "Security Risks"
/// with their subcategories (the dashboard's Security Categories picker lists New Domains,
/// Newly Seen Domains and Parked Domains next to the threats); everything else is content.
class CategoryDb {
public:
    /// The compiled-in ID table (same data as fixtures/categories/ids.csv).
    static std::vector<CategoryInfo> builtin_ids();
    /// Parses an `id,name,parent` CSV (header required) into the table.
    static Result<std::vector<CategoryInfo>> parse_ids_csv(std::string_view csv);

    void set_ids(std::vector<CategoryInfo> ids);
    /// Parses the `domain,categories` CSV (header required, IDs space-separated). A first
    /// column that is an IP or CIDR adds IP categories. Errors name the line. An ID 1-255 the
    /// ID table lacks is kept (Cloudflare's data uses IDs its published table lacks, such as
    /// 33, 179 and 180) with one warning per such ID ("line N: ...", the first row that has
    /// it, and how many rows do), for take_warnings().
    Status add_csv(std::string_view csv);
    /// The warnings of the add_csv calls since the last take_warnings(), emptied.
    std::vector<std::string> take_warnings() { return std::exchange(warnings_, {}); }
    /// Adds one domain row (normalised here). For the benchmark and tests.
    bool add_domain(std::string_view domain, std::span<const std::uint8_t> ids);

    /// Category IDs of `name` (normalised, no trailing dot), closest row wins, with the parents
    /// of every subcategory added. Sorted, unique. Empty when unknown.
    [[nodiscard]] std::vector<std::int64_t> lookup(std::string_view name) const;
    /// Same for an address (IP rows; first containing range in file order).
    [[nodiscard]] std::vector<std::int64_t> lookup_ip(const net::IpAddr& ip) const;
    /// lookup() / lookup_ip() appended to `out`, unsorted (the caller sorts what it merges):
    /// no allocation when `out` has the capacity.
    void lookup_append(std::string_view name, std::vector<std::int64_t>& out) const;
    void lookup_ip_append(const net::IpAddr& ip, std::vector<std::int64_t>& out) const;
    /// Whether the ID table names `id`. An ID it does not is both a content and a security
    /// category (the lab cannot know which), and its log name is "".
    [[nodiscard]] bool known(std::int64_t id) const;
    [[nodiscard]] bool is_security(std::int64_t id) const;
    [[nodiscard]] std::string name_of(std::int64_t id) const;
    [[nodiscard]] int parent_of(std::int64_t id) const;
    [[nodiscard]] std::size_t domain_count() const noexcept { return domains_.size(); }
    [[nodiscard]] const DomainTable& table() const noexcept { return domains_; }
    void shrink() { domains_.shrink(); }

private:
    std::vector<std::int64_t> expand(std::span<const std::uint8_t> ids) const;
    void expand_append(std::span<const std::uint8_t> ids, std::vector<std::int64_t>& out) const;
    DomainTable domains_;
    std::vector<std::pair<net::IpRange, std::vector<std::uint8_t>>> ips_;
    std::vector<CategoryInfo> by_id_; // indexed by ID (id 0 unused)
    std::vector<std::string> warnings_;
};

} // namespace resolver::policy
