// SPDX-License-Identifier: MIT
// `replay`: re-ask every query of a customer's gateway_dns export through a scenario and
// report, per record, whether the lab's decision, policy and answer agree with the log.
#include "probes/replay/replay.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "probes/common/strings.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/wire/message.hpp"

namespace probes::replay {
namespace fs = std::filesystem;
namespace wire = resolver::wire;
using nlohmann::json;

using common::json_string;
using common::lower;

std::string normalise_protocol(std::string p) {
    p = lower(p);
    if (p == "http") {
        p = "https"; // some exports spell DoH's Protocol so
    }
    const auto t = resolver::net::transport_from_name(p);
    return std::string(resolver::net::transport_name(t.value_or(resolver::net::Transport::Udp)));
}

std::vector<std::string> zone_origins(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".zone") {
            continue;
        }
        std::string origin = e.path().stem().string();
        std::ifstream in(e.path());
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("$ORIGIN", 0) == 0) {
                std::istringstream ls(line.substr(7));
                ls >> origin;
                break;
            }
        }
        while (!origin.empty() && origin.back() == '.') {
            origin.pop_back();
        }
        out.push_back(lower(origin));
    }
    return out;
}

namespace {

bool under(const std::string& name, const std::string& origin) {
    return name == origin ||
           (name.size() > origin.size() &&
            name.compare(name.size() - origin.size(), origin.size(), origin) == 0 &&
            name[name.size() - origin.size() - 1] == '.');
}

} // namespace

std::optional<LogRecord> parse_record(const std::string& line, std::size_t line_no,
                                      std::string& error) {
    error.clear();
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        error = "line " + std::to_string(line_no) + ": not a JSON object";
        return std::nullopt;
    }
    // LabEvent lines: query logs of dnslab before its events got their own stream.
    if (j.contains("LabEvent") || !j.contains("QueryName")) {
        return std::nullopt;
    }
    LogRecord r;
    r.line = line_no;
    r.qname = lower(json_string(j, "QueryName"));
    while (!r.qname.empty() && r.qname.back() == '.') {
        r.qname.pop_back();
    }
    if (r.qname.empty()) {
        return std::nullopt;
    }
    if (j.contains("QueryType") && j["QueryType"].is_number_unsigned()) {
        r.qtype = j["QueryType"].get<std::uint16_t>();
    } else if (auto t = wire::type_from_name(json_string(j, "QueryTypeName"))) {
        r.qtype = *t;
    }
    r.protocol = normalise_protocol(json_string(j, "Protocol"));
    r.src_ip = json_string(j, "SrcIP");
    r.doh_subdomain = json_string(j, "DoHSubdomain");
    r.dot_subdomain = json_string(j, "DoTSubdomain");
    r.location = json_string(j, "Location");
    r.location_id = json_string(j, "LocationID");
    r.decision = json_string(j, "ResolverDecision");
    r.policy_id = json_string(j, "PolicyID");
    if (j.contains("RCode") && j["RCode"].is_number_integer()) {
        r.rcode = j["RCode"].get<int>();
    }
    if (j.contains("ResolvedIPs") && j["ResolvedIPs"].is_array()) {
        for (const auto& ip : j["ResolvedIPs"]) {
            if (ip.is_string()) {
                r.resolved_ips.push_back(ip.get<std::string>());
            }
        }
    }
    if (j.contains("QueryCategoryIDs") && j["QueryCategoryIDs"].is_array()) {
        for (const auto& c : j["QueryCategoryIDs"]) {
            if (c.is_number_unsigned()) {
                r.categories.push_back(c.get<std::uint32_t>());
            }
        }
    }
    return r;
}

Synthesised synthesise(const std::vector<LogRecord>& recs, const std::string& scenario_csv,
                       const std::vector<std::string>& origins) {
    Synthesised out;
    out.categories_csv = scenario_csv.empty() ? "domain,categories\n" : scenario_csv;
    if (!out.categories_csv.empty() && out.categories_csv.back() != '\n') {
        out.categories_csv += '\n';
    }
    std::set<std::string> known; // names the scenario already categorises
    {
        std::istringstream s(scenario_csv);
        for (std::string line; std::getline(s, line);) {
            known.insert(lower(line.substr(0, line.find(','))));
        }
    }
    std::map<std::string, std::set<std::string>> a, aaaa; // name -> addresses
    std::set<std::string> done;
    for (const auto& r : recs) {
        if (!r.categories.empty() && known.insert(r.qname).second) {
            out.categories_csv += r.qname + ",";
            for (std::size_t i = 0; i < r.categories.size(); ++i) {
                out.categories_csv += (i ? " " : "") + std::to_string(r.categories[i]);
            }
            out.categories_csv += "\n";
            ++out.categorised_names;
        }
        const bool lab_has_it = std::any_of(origins.begin(), origins.end(),
                                            [&](const auto& o) { return under(r.qname, o); });
        if (lab_has_it || r.resolved_ips.empty()) {
            continue;
        }
        for (const auto& ip : r.resolved_ips) {
            // A blocked record logs the sinkhole it answered, not the real address.
            if (ip == "0.0.0.0" || ip == "::") {
                continue;
            }
            (ip.find(':') != std::string::npos ? aaaa : a)[r.qname].insert(ip);
        }
    }
    // One zone per registrable-looking suffix (the last two labels) of the answered names.
    std::map<std::string, std::string> zones; // origin -> records
    auto add = [&](const std::map<std::string, std::set<std::string>>& m, const char* type) {
        for (const auto& [name, ips] : m) {
            auto dot = name.rfind('.');
            auto dot2 =
                dot == std::string::npos || dot == 0 ? std::string::npos : name.rfind('.', dot - 1);
            const std::string origin = dot2 == std::string::npos ? name : name.substr(dot2 + 1);
            for (const auto& ip : ips) {
                zones[origin] += name + ". 300 IN " + type + " " + ip + "\n";
            }
        }
    };
    add(a, "A");
    add(aaaa, "AAAA");
    for (const auto& [origin, rrs] : zones) {
        out.zone_files["replay-" + origin + ".zone"] =
            "$ORIGIN " + origin +
            ".\n$TTL 300\n@ IN SOA ns.replay.invalid. hostmaster.replay.invalid. 1 3600 600 86400 "
            "60\n" +
            rrs;
        out.answered_names += std::count(rrs.begin(), rrs.end(), '\n');
    }
    return out;
}

std::string location_hint(const LogRecord& r,
                          const std::map<std::string, std::string>& by_location) {
    if (!r.doh_subdomain.empty()) {
        return r.doh_subdomain;
    }
    if (!r.dot_subdomain.empty()) {
        return r.dot_subdomain;
    }
    for (const auto* k : {&r.location_id, &r.location}) {
        if (auto it = by_location.find(*k); !k->empty() && it != by_location.end()) {
            return it->second;
        }
    }
    return "";
}

std::string match_key(const std::string& qname, std::uint16_t qtype, const std::string& protocol,
                      const std::string& loc) {
    return qname + "|" + std::to_string(qtype) + "|" + protocol + "|" + loc;
}

} // namespace probes::replay
