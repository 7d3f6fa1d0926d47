// SPDX-License-Identifier: MIT
#include "probes/check/attribution.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "probes/common/strings.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/wire/message.hpp"

namespace probes::check {
namespace net = resolver::net;
using nlohmann::json;

using common::json_string;
using common::lower;

namespace {

std::uint64_t num(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0
               ? it->get<std::uint64_t>()
               : 0;
}

std::string bare_name(std::string name) {
    name = lower(std::move(name));
    while (!name.empty() && name.back() == '.') {
        name.pop_back();
    }
    return name.empty() ? "." : name;
}

// Whether `rec` is the lab's line for `res`: the same question over the same protocol with
// the same location hints (and source address, when one was set). Lines that match are
// interchangeable: attribution depends on nothing else (docs/policy.md "Attribution").
bool matches(const CheckReport& r, const CaseResult& res, const json& rec) {
    const auto& c = r.cases[res.case_index];
    if (bare_name(json_string(rec, "QueryName")) != bare_name(c.qname) ||
        num(rec, "QueryType") != c.qtype || json_string(rec, "Protocol") != res.url.scheme ||
        json_string(rec, "LabEdnsLocation") != res.edns_location) {
        return false;
    }
    if (!res.source.empty() && json_string(rec, "SrcIP") != res.source) {
        return false;
    }
    if (const auto sni = res.url.param("sni"); !sni.empty() && json_string(rec, "LabSNI") != sni) {
        return false;
    }
    if (res.url.scheme == net::transport_name(net::Transport::Https)) {
        const auto path = json_string(rec, "LabHttpPath");
        return path.substr(0, path.find('?')) == res.url.path &&
               lower(json_string(rec, "LabHttpLocationHeader")) ==
                   lower(res.url.param("header.cf-dns-location"));
    }
    return true;
}

// Pairs each asked result with an unused matching line (results sent from a given source
// address first, so a result without one cannot take their lines). Returns, per result, the
// index of its line or -1.
std::vector<long> pair_lines(const CheckReport& r, const std::vector<json>& records) {
    std::vector<long> line(r.results.size(), -1);
    std::vector<bool> used(records.size(), false);
    std::set<std::string> sources;
    for (const auto& res : r.results) {
        if (!res.source.empty()) {
            sources.insert(res.source);
        }
    }
    for (const bool with_source : {true, false}) {
        for (std::size_t i = 0; i < r.results.size(); ++i) {
            const auto& res = r.results[i];
            if (!res.asked || res.source.empty() != !with_source) {
                continue;
            }
            for (std::size_t j = 0; j < records.size(); ++j) {
                const bool others =
                    !with_source && sources.count(json_string(records[j], "SrcIP")) != 0U;
                if (!used[j] && !others && matches(r, res, records[j])) {
                    used[j] = true;
                    line[i] = static_cast<long>(j);
                    break;
                }
            }
        }
    }
    return line;
}

Attribution attribution_of(const json& rec, const LocationDirectory& locations) {
    Attribution a{json_string(rec, "Location"), json_string(rec, "LocationID"), "",
                  json_string(rec, "LabLocationReason"), json_string(rec, "SrcIP")};
    if (auto it = locations.by_id.find(a.location_id); it != locations.by_id.end()) {
        a.subdomain = it->second.subdomain;
    } else if (!json_string(rec, "DoHSubdomain").empty()) {
        a.subdomain = json_string(rec, "DoHSubdomain");
    } else if (!json_string(rec, "DoTSubdomain").empty()) {
        a.subdomain = json_string(rec, "DoTSubdomain");
    } else if (auto colon = a.reason.find(':'); !a.location.empty() && colon != std::string::npos) {
        // A hint that decided names the location's subdomain: edns-65011:SUB, doh-path:SUB ...
        const auto how = a.reason.substr(0, colon);
        if (how == "edns-65011" || how == "doh-host" || how == "doh-path" || how == "doh-header" ||
            how == "dot-sni") {
            a.subdomain = a.reason.substr(colon + 1);
        }
    }
    return a;
}

} // namespace

resolver::Result<LocationDirectory> parse_locations(const std::string& text) {
    auto doc = json::parse(text, nullptr, false);
    const json* arr = &doc;
    if (doc.is_object() && doc.contains("result")) {
        arr = &doc["result"];
    }
    if (!arr->is_array()) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "not a locations export (a JSON array or {\"result\": [...]})");
    }
    LocationDirectory d;
    for (const auto& l : *arr) {
        if (l.is_object() && !json_string(l, "id").empty()) {
            d.by_id[json_string(l, "id")] = {json_string(l, "name"),
                                             lower(json_string(l, "doh_subdomain"))};
        }
    }
    return d;
}

std::uint64_t log_offset(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<std::uint64_t>(size);
}

std::vector<json> read_log(const std::string& path, std::uint64_t offset) {
    std::vector<json> out;
    std::ifstream in(path);
    in.seekg(static_cast<std::streamoff>(offset));
    for (std::string line; std::getline(in, line);) {
        auto j = json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("QueryName")) {
            out.push_back(std::move(j));
        }
    }
    return out;
}

std::string attribution_text(const Attribution& a) {
    if (a.location.empty()) {
        return "no location (" + (a.reason.empty() ? std::string("no reason logged") : a.reason) +
               ")";
    }
    return a.location + " (" + a.reason + ")";
}

std::optional<std::string> location_failure(const Case& c, const CaseResult& r,
                                            const Attribution& a) {
    const std::string wanted = lower(c.location);
    if (wanted.empty()) {
        return std::nullopt;
    }
    if (!a.location.empty() &&
        (a.subdomain == wanted || lower(a.location) == wanted || lower(a.location_id) == wanted)) {
        return std::nullopt;
    }
    const auto kind = net::transport_from_name(r.url.scheme);
    const bool plain = kind && !net::row(*kind).encrypted;
    std::string why = plain ? "cannot set this location over " + r.transport + ": "
                            : "location " + c.location + " not applied over " + r.transport + ": ";
    why += "the lab attributed the query to " + attribution_text(a);
    if (plain && (a.reason.rfind("src-network", 0) == 0 || a.reason.rfind("dst-", 0) == 0)) {
        // docs/policy.md "Attribution": on plain DNS the destination and source network
        // come before EDNS 65011.
        why += ", which wins over EDNS 65011 on plain DNS; send from the location's network "
               "(source = ADDR)";
    }
    return why;
}

std::size_t count_matches(const CheckReport& r, const std::vector<json>& records) {
    const auto lines = pair_lines(r, records);
    return static_cast<std::size_t>(
        std::count_if(lines.begin(), lines.end(), [](long l) { return l >= 0; }));
}

std::size_t apply_lab_log(CheckReport& r, const std::vector<json>& records,
                          const LocationDirectory& locations) {
    const auto lines = pair_lines(r, records);
    std::size_t n = 0;
    r.lab_log = true;
    for (std::size_t i = 0; i < r.results.size(); ++i) {
        if (lines[i] < 0) {
            continue;
        }
        auto& res = r.results[i];
        res.attributed = attribution_of(records[static_cast<std::size_t>(lines[i])], locations);
        ++n;
        if (auto why = location_failure(r.cases[res.case_index], res, *res.attributed)) {
            res.failures.push_back(*why);
        }
    }
    return n;
}

} // namespace probes::check
