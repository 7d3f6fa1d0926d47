// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/net/ip.hpp"

namespace resolver::policy {

/// Domain -> item indices, looked up by string_view without building a string.
struct CatalogueHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
using DomainIndex =
    std::unordered_map<std::string, std::vector<std::size_t>, CatalogueHash, std::equal_to<>>;

/// The lab application catalogue: Cloudflare associates each application with domains and
/// matches `app.ids` / `app.type.ids` on them (developers.cloudflare.com/cloudflare-one/
/// traffic-policies/application-app-types/); the catalogue is that association as data.
///
/// JSON, the shape of the API's `GET /accounts/{id}/gateway/app_types` result (so the
/// `app_types.json` of `dnslab-probe gateway-export` loads as it is) plus `domains`:
///   {"result": [
///     {"id": 25, "name": "Artificial Intelligence"},                    // an application type
///     {"id": 505, "application_type_id": 25, "name": "ChatGPT",         // an application
///      "domains": ["chatgpt.com", "openai.com"]}]}
/// A bare array works too. An item with `application_type_id` is an application, one without
/// is a type. A domain matches itself and every subdomain.
struct ApplicationCatalogue {
    struct App {
        std::int64_t id = 0;
        std::string name;
        std::int64_t type_id = 0;
    };
    std::vector<App> apps;                                    // in file order
    std::unordered_map<std::int64_t, std::string> type_names; // type id -> name
    DomainIndex by_domain;                                    // normalised domain -> apps indices

    /// Adds the items of one file. Items whose id is already known replace its name and
    /// type (a later file, e.g. gateway-export's app_types.json, names what an earlier one
    /// lists) and add their domains. Errors name the file and the item.
    Status add_json(std::string_view text, std::string_view file);
    /// Applications of a normalised name: the apps of the name and of each parent, most
    /// specific first, each once.
    [[nodiscard]] std::vector<std::int64_t> lookup(std::string_view normal_name) const;
    [[nodiscard]] const App* find(std::int64_t id) const;
    [[nodiscard]] std::string name_of(std::int64_t id) const;
    [[nodiscard]] std::int64_t type_of(std::int64_t id) const;
    [[nodiscard]] bool empty() const noexcept { return apps.empty() && type_names.empty(); }

private:
    std::unordered_map<std::int64_t, std::size_t> index_; // app id -> apps index
};

/// Lab indicator feeds: what a custom or public indicator feed
/// (developers.cloudflare.com/security-center/indicator-feeds/) holds for the account, as
/// data. JSON:
///   {"feeds": [{"id": 1234, "name": "Lab threat feed",
///               "domains": ["bad.example"], "ips": ["203.0.113.0/24", "2001:db8::1"]}]}
/// (or a bare array). A domain matches itself and every subdomain. `dns.indicator_feed`
/// holds the IDs of the feeds the query name is in; with `rule_settings.ip_indicator_feeds`
/// a rule also sees the feeds of the resolved IPs.
struct IndicatorFeeds {
    struct Feed {
        std::int64_t id = 0;
        std::string name;
        std::vector<net::IpRange> ips;
    };
    std::vector<Feed> feeds;
    DomainIndex by_domain; // normalised domain -> feeds indices

    Status add_json(std::string_view text, std::string_view file);
    /// Feed IDs of a normalised name (the name or a parent listed), ascending, each once.
    [[nodiscard]] std::vector<std::int64_t> lookup(std::string_view normal_name) const;
    /// Feed IDs listing an address, ascending, each once.
    [[nodiscard]] std::vector<std::int64_t> lookup_ip(const net::IpAddr& ip) const;
    [[nodiscard]] std::string name_of(std::int64_t id) const;
    [[nodiscard]] bool empty() const noexcept { return feeds.empty(); }
};

} // namespace resolver::policy
