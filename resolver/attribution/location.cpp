// SPDX-License-Identifier: MIT
#include "resolver/attribution/location.hpp"

#include <algorithm>

namespace resolver::attribution {

const Location* LocationMap::find_by_id(std::string_view id) const {
    for (const auto& l : locations) {
        if (l.id == id) {
            return &l;
        }
    }
    return nullptr;
}

const Location* LocationMap::find_by_subdomain(std::string_view sub) const {
    std::string key(sub);
    for (auto& c : key) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    auto it = by_subdomain.find(key);
    return it == by_subdomain.end() ? nullptr : &locations[it->second];
}

void LocationMap::index() {
    by_subdomain.clear();
    networks.clear();
    client_default = nullptr;
    for (std::size_t i = 0; i < locations.size(); ++i) {
        const auto& l = locations[i];
        if (!l.doh_subdomain.empty()) {
            by_subdomain.emplace(l.doh_subdomain, i);
        }
        for (const auto& n : l.networks) {
            networks.emplace_back(n, i);
        }
        if (l.client_default && client_default == nullptr) {
            client_default = &l;
        }
    }
    // Longest prefix first so the first containing network is the most specific.
    std::stable_sort(networks.begin(), networks.end(), [](const auto& a, const auto& b) {
        auto la = a.first.lo.v4 ? a.first.prefix_len + 96 : a.first.prefix_len;
        auto lb = b.first.lo.v4 ? b.first.prefix_len + 96 : b.first.prefix_len;
        return la > lb;
    });
    // Formatted once here: attribution names the network on every query (LabLocationReason).
    network_reasons.clear();
    for (const auto& [range, idx] : networks) {
        network_reasons.push_back("src-network:" + range.lo.to_string() + "/" +
                                  std::to_string(range.prefix_len));
    }
}

} // namespace resolver::attribution
