// SPDX-License-Identifier: MIT
#include "probes/compare/render.hpp"

#include "probes/common/present.hpp"
#include "resolver/wire/message.hpp"

namespace probes::compare {
namespace wire = resolver::wire;
using nlohmann::json;

namespace {
json rrsets_json(const std::vector<compare::RRset>& sets) {
    json arr = json::array();
    for (const auto& s : sets) {
        arr.push_back({{"name", s.name},
                       {"type", wire::type_name(s.type)},
                       {"ttl", s.ttl},
                       {"rdata", s.rdata}});
    }
    return arr;
}

} // namespace

std::string flags_text(const Flags& f) {
    std::string out;
    const std::pair<const char*, std::optional<bool>> bits[] = {
        {"aa", f.aa}, {"tc", f.tc}, {"rd", f.rd}, {"ra", f.ra}, {"ad", f.ad}, {"cd", f.cd}};
    for (const auto& [n, v] : bits) {
        if (v.value_or(false)) {
            out += (out.empty() ? "" : " ") + std::string(n);
        }
    }
    return out;
}
std::vector<std::string> record_lines(const Observation& o) {
    std::vector<std::string> out;
    if (o.error) {
        out.push_back(";; error: " + *o.error);
        return out;
    }
    if (!o.wire.empty()) {
        auto p = common::present(o.wire);
        out.push_back(p.header);
        for (const auto& l : p.answer) {
            out.push_back(l);
        }
        for (const auto& l : p.authority) {
            out.push_back(l + "   ; authority");
        }
        for (const auto& l : p.additional) {
            out.push_back(l + "   ; additional");
        }
        for (const auto& e : o.ede) {
            out.push_back(";; EDE " + std::to_string(e.code) +
                          (e.text.empty() ? "" : ": " + e.text));
        }
        return out;
    }
    out.push_back(";; status: " + wire::rcode_name(o.rcode) + ", flags: " + flags_text(o.flags) +
                  " (DoH JSON)");
    const std::pair<const std::vector<RRset>*, const char*> sections[] = {
        {&o.answer, ""}, {&o.authority, "   ; authority"}, {&o.additional, "   ; additional"}};
    for (const auto& [section, mark] : sections) {
        for (const auto& s : *section) {
            for (const auto& r : s.rdata) {
                out.push_back(s.name + "\t" + std::to_string(s.ttl) + "\tIN\t" +
                              wire::type_name(s.type) + "\t" + r + mark);
            }
        }
    }
    for (const auto& e : o.ede) {
        out.push_back(";; EDE " + std::to_string(e.code) + (e.text.empty() ? "" : ": " + e.text));
    }
    return out;
}

std::vector<std::string> short_lines(const Observation& o) {
    std::vector<std::string> out;
    for (const auto& s : o.answer) {
        out.insert(out.end(), s.rdata.begin(), s.rdata.end());
    }
    return out;
}

json observation_json(const Observation& o) {
    json j = {{"target", o.target}, {"transport", o.transport}};
    j["error"] = o.error ? json(*o.error) : json(nullptr);
    if (o.doh) {
        j["http"] = {{"status", o.http_status},
                     {"content_type", o.content_type},
                     {"content_type_ok", o.content_type_ok}};
    }
    if (!o.answered) {
        return j;
    }
    j["rcode"] = wire::rcode_name(o.rcode);
    json flags = json::object();
    const std::pair<const char*, std::optional<bool>> bits[] = {
        {"aa", o.flags.aa}, {"tc", o.flags.tc}, {"rd", o.flags.rd},
        {"ra", o.flags.ra}, {"ad", o.flags.ad}, {"cd", o.flags.cd}};
    for (const auto& [n, v] : bits) {
        flags[n] = v ? json(*v) : json(nullptr);
    }
    j["flags"] = flags;
    j["question"] = {{"name", o.qname_raw}, {"type", wire::type_name(o.qtype)}};
    j["answer"] = rrsets_json(o.answer);
    j["authority"] = rrsets_json(o.authority);
    j["additional"] = rrsets_json(o.additional);
    json ede = json::array();
    for (const auto& e : o.ede) {
        ede.push_back({{"code", e.code}, {"text", e.text}});
    }
    j["ede"] = ede;
    j["edns"] = o.edns ? (*o.edns ? json{{"udp_size", o.udp_size}} : json(false)) : json(nullptr);
    return j;
}

} // namespace probes::compare
