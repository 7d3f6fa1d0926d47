// SPDX-License-Identifier: MIT
#include "resolver/io/doh_json.hpp"

#include <nlohmann/json.hpp>

namespace resolver::io {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// 1.1.1.1's flag parameter syntax: empty, 0, false, 1, true. A present but empty flag
/// (`?do` or `?do=`) reads as set, like an HTML boolean attribute.
std::optional<bool> parse_flag(const std::string& v) {
    if (v.empty() || v == "1" || v == "true") {
        return true;
    }
    if (v == "0" || v == "false") {
        return false;
    }
    return std::nullopt;
}

std::string name_text(const wire::Name& n) {
    std::string t = n.to_text();
    if (t.size() > 1 && t.back() == '.') {
        t.pop_back();
    }
    return t;
}

nlohmann::ordered_json records(const std::vector<wire::ResourceRecord>& rrs) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& rr : rrs) {
        arr.push_back({{"name", name_text(rr.name)},
                       {"type", rr.type},
                       {"TTL", rr.ttl},
                       {"data", rdata_text(rr)}});
    }
    return arr;
}

} // namespace

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>((hi << 4) | lo);
        i += 2;
    }
    return out;
}

std::map<std::string, std::string> parse_query_string(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        const std::size_t eq = part.find('=');
        auto key = percent_decode(part.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
        if (key && value) {
            out.emplace(std::move(*key), std::move(*value)); // emplace keeps the first
        }
    }
    return out;
}

Result<wire::Message> json_query_from_params(const std::map<std::string, std::string>& params) {
    const auto name_it = params.find("name");
    if (name_it == params.end() || name_it->second.empty()) {
        return fail(Errc::MalformedQuery, "Missing 'name' parameter.");
    }
    auto name = wire::Name::from_text(name_it->second);
    if (!name) {
        return fail(Errc::MalformedQuery, "Invalid name `" + name_it->second + "`.");
    }
    std::uint16_t type = wire::rrtype::A;
    if (auto it = params.find("type"); it != params.end() && !it->second.empty()) {
        auto t = wire::type_from_name(it->second);
        if (!t) {
            return fail(Errc::MalformedQuery, "Invalid type `" + it->second + "`.");
        }
        type = *t;
    }
    bool dnssec_ok = false;
    bool checking_disabled = false;
    for (auto [key, flag, label] :
         {std::tuple{"do", &dnssec_ok, "DO"}, std::tuple{"cd", &checking_disabled, "CD"}}) {
        if (auto it = params.find(key); it != params.end()) {
            auto v = parse_flag(it->second);
            if (!v) {
                return fail(Errc::MalformedQuery,
                            std::string("Invalid ") + label + " flag `" + it->second +
                                "`. Expected to be empty or one of `0`, `false`, `1`, or `true`.");
            }
            *flag = *v;
        }
    }
    wire::Message q;
    q.id = 0; // RFC 8484 §4.1: 0 keeps the HTTP response cache-friendly
    q.set_flag(wire::kFlagRd, true);
    q.set_flag(wire::kFlagCd, checking_disabled);
    q.question.push_back(wire::Question{std::move(*name), type, wire::rrclass::IN});
    if (dnssec_ok) {
        q.edns.emplace();
        q.edns->dnssec_ok = true;
    }
    return q;
}

std::string render_json(const wire::Message& m) {
    nlohmann::ordered_json j;
    j["Status"] = m.rcode();
    j["TC"] = m.flag(wire::kFlagTc);
    j["RD"] = m.flag(wire::kFlagRd);
    j["RA"] = m.flag(wire::kFlagRa);
    j["AD"] = m.flag(wire::kFlagAd);
    j["CD"] = m.flag(wire::kFlagCd);
    auto question = nlohmann::ordered_json::array();
    for (const auto& q : m.question) {
        question.push_back({{"name", name_text(q.qname)}, {"type", q.qtype}});
    }
    j["Question"] = std::move(question);
    if (!m.answer.empty()) {
        j["Answer"] = records(m.answer);
    }
    if (!m.authority.empty()) {
        j["Authority"] = records(m.authority);
    }
    if (!m.additional.empty()) {
        j["Additional"] = records(m.additional);
    }
    auto comments = nlohmann::ordered_json::array();
    for (const auto& ede : m.edes()) {
        comments.push_back("EDE(" + std::to_string(ede.code) + ")" +
                           (ede.text.empty() ? "" : ": " + ede.text));
    }
    if (!comments.empty()) {
        j["Comment"] = std::move(comments);
    }
    // Replace invalid UTF-8 (names and TXT may hold any byte) rather than throwing.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace resolver::io
