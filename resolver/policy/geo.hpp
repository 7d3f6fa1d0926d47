// SPDX-License-Identifier: MIT
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/net/ip.hpp"

struct MMDB_s;

namespace resolver::policy {

struct GeoInfo {
    std::string country;   // ISO 3166-1 alpha-2, "" when unknown
    std::string continent; // AF AN AS EU NA OC SA (T1 = Tor), "" when unknown
};

/// The continents of Gateway's Source/Resolved Continent selectors, code and name as the
/// selector docs' table lists them (developers.cloudflare.com/cloudflare-one/traffic-policies/
/// dns-policies/ "Resolved Continent"): AF Africa ... SA South America, T1 Tor network.
/// continent_name("NA") = "North America", continent_code("North America") = "NA"; both
/// exact (case-sensitive, as wirefilter string comparisons are) and "" for anything else.
std::string_view continent_name(std::string_view code);
std::string_view continent_code(std::string_view name);

/// Address -> country/continent for `dns.src.geo.*` and `dns.dst.geo.*`. The CSV
/// (`cidr,country,continent`, header required) is consulted first, longest prefix wins; then
/// the MaxMind DB when one is loaded (libmaxminddb, memory-mapped, read-only lookups).
class GeoDb {
public:
    GeoDb();
    ~GeoDb();
    GeoDb(GeoDb&&) noexcept;
    GeoDb& operator=(GeoDb&&) noexcept;

    Status add_csv(std::string_view csv);
    Status open_mmdb(const std::string& path);
    [[nodiscard]] GeoInfo lookup(const net::IpAddr& ip) const;
    [[nodiscard]] bool empty() const noexcept { return rows_.empty() && !mmdb_; }

private:
    struct Row {
        net::IpRange range;
        GeoInfo info;
    };
    std::vector<Row> rows_; // sorted longest prefix first
    struct MmdbDeleter {
        void operator()(MMDB_s* m) const;
    };
    std::unique_ptr<MMDB_s, MmdbDeleter> mmdb_;
};

} // namespace resolver::policy
