// SPDX-License-Identifier: MIT
#include "probes/compare/observation.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <tuple>

#include "resolver/util/hex.hpp"
#include "resolver/util/ldns.hpp"
#include <nlohmann/json.hpp>

#include "probes/common/strings.hpp"
#include "resolver/util/c_handles.hpp"

namespace probes::compare {
namespace wire = resolver::wire;
using common::lower;

namespace {

using CString = resolver::util::CHandle<char, std::free>;

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) {
        return "";
    }
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Types whose RDATA holds domain names, compared case-insensitively (RFC 4343 §2).
bool rdata_has_names(std::uint16_t type) {
    switch (type) {
    case wire::rrtype::NS:
    case wire::rrtype::CNAME:
    case wire::rrtype::PTR:
    case wire::rrtype::DNAME:
    case wire::rrtype::MX:
    case wire::rrtype::SOA:
    case wire::rrtype::SRV:
    case wire::rrtype::SVCB:
    case wire::rrtype::HTTPS:
        return true;
    default:
        return false;
    }
}

std::string rdata_of(const ldns_rr* rr, std::uint16_t type) {
    std::string out;
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        CString s(ldns_rdf2str(ldns_rr_rdf(rr, i)));
        if (!s) {
            continue;
        }
        if (!out.empty()) {
            out += ' ';
        }
        out += s.get();
    }
    return rdata_has_names(type) ? lower(out) : out;
}

std::string fqdn_lower(std::string name) {
    name = lower(trim(name));
    if (name.empty() || name.back() != '.') {
        name += '.';
    }
    return name;
}

using resolver::util::hex;

void sort_rrsets(std::vector<RRset>& sets) {
    for (auto& s : sets) {
        std::sort(s.rdata.begin(), s.rdata.end());
    }
    std::sort(sets.begin(), sets.end(), [](const RRset& a, const RRset& b) {
        return std::tie(a.name, a.type, a.rclass) < std::tie(b.name, b.type, b.rclass);
    });
}

// Adds one record to the RRset it belongs to (first-seen order, sorted later).
void add_record(std::vector<RRset>& sets, std::string name, std::uint16_t type,
                std::uint16_t rclass, std::uint32_t ttl, std::string rdata) {
    for (auto& s : sets) {
        if (s.name == name && s.type == type && s.rclass == rclass) {
            s.ttl = std::min(s.ttl, ttl);
            s.rdata.push_back(std::move(rdata));
            return;
        }
    }
    sets.push_back(RRset{std::move(name), type, rclass, ttl, {std::move(rdata)}});
}

std::vector<RRset> json_section(const nlohmann::json& doc, const char* key) {
    std::vector<RRset> sets;
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_array()) {
        return sets;
    }
    for (const auto& rec : *it) {
        if (!rec.is_object()) {
            continue;
        }
        const auto type = static_cast<std::uint16_t>(rec.value("type", 0));
        const auto ttl = static_cast<std::uint32_t>(rec.value("TTL", 0));
        std::string data = rec.value("data", std::string{});
        // Some servers (Google) leave TXT data unquoted; ldns wants the quoted form.
        if (type == wire::rrtype::TXT && (data.empty() || data.front() != '"')) {
            data = "\"" + data + "\"";
        }
        add_record(sets, fqdn_lower(rec.value("name", std::string{"."})), type, wire::rrclass::IN,
                   ttl, canonical_rdata_text(type, data));
    }
    sort_rrsets(sets);
    return sets;
}

} // namespace

std::string RRset::to_text(bool with_ttl) const {
    std::string out = name + " ";
    if (with_ttl) {
        out += std::to_string(ttl) + " ";
    }
    out += wire::class_name(rclass) + " " + wire::type_name(type);
    for (const auto& r : rdata) {
        out += " " + r;
    }
    return out;
}

std::string canonical_rdata(const wire::ResourceRecord& rr) {
    // ldns wants a whole RR: rebuild owner, type, class, TTL and RDLENGTH around the
    // (already decompressed) RDATA and let ldns_wire2rr parse it.
    std::vector<std::uint8_t> buf(rr.name.wire().begin(), rr.name.wire().end());
    auto put16 = [&](std::uint16_t v) {
        buf.push_back(static_cast<std::uint8_t>(v >> 8));
        buf.push_back(static_cast<std::uint8_t>(v & 0xFF));
    };
    put16(rr.type);
    put16(rr.rclass);
    put16(static_cast<std::uint16_t>(rr.ttl >> 16));
    put16(static_cast<std::uint16_t>(rr.ttl & 0xFFFF));
    put16(static_cast<std::uint16_t>(rr.rdata.size()));
    buf.insert(buf.end(), rr.rdata.begin(), rr.rdata.end());
    ldns_rr* raw = nullptr;
    std::size_t pos = 0;
    if (ldns_wire2rr(&raw, buf.data(), buf.size(), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK ||
        raw == nullptr) {
        // RFC 3597 §5 generic form, so that undecodable data still compares byte for byte.
        return "\\# " + std::to_string(rr.rdata.size()) + " " + hex(rr.rdata);
    }
    resolver::util::LdnsRr owned(raw);
    if (!resolver::util::ldns_rdata_is(owned.get(), rr.rdata)) {
        // Malformed for its type (ldns read a prefix): compare the bytes that were sent.
        return "\\# " + std::to_string(rr.rdata.size()) + " " + hex(rr.rdata);
    }
    return rdata_of(owned.get(), rr.type);
}

std::string canonical_rdata_text(std::uint16_t type, const std::string& text) {
    const std::string line = ". 0 IN " + wire::type_name(type) + " " + trim(text);
    ldns_rr* raw = nullptr;
    if (ldns_rr_new_frm_str(&raw, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK ||
        raw == nullptr) {
        return rdata_has_names(type) ? lower(trim(text)) : trim(text);
    }
    resolver::util::LdnsRr owned(raw);
    return rdata_of(owned.get(), type);
}

std::vector<RRset> make_rrsets(const std::vector<wire::ResourceRecord>& rrs) {
    std::vector<RRset> sets;
    for (const auto& rr : rrs) {
        add_record(sets, rr.name.lowered().to_text(), rr.type, rr.rclass, rr.ttl,
                   canonical_rdata(rr));
    }
    sort_rrsets(sets);
    return sets;
}

Observation normalize_wire(const wire::Message& msg) {
    Observation o;
    o.answered = true;
    o.opcode = msg.opcode();
    o.rcode = msg.rcode();
    o.flags = Flags{msg.flag(wire::kFlagAa), msg.flag(wire::kFlagTc), msg.flag(wire::kFlagRd),
                    msg.flag(wire::kFlagRa), msg.flag(wire::kFlagAd), msg.flag(wire::kFlagCd)};
    if (!msg.question.empty()) {
        const auto& q = msg.question.front();
        o.has_question = true;
        o.qname = q.qname.lowered().to_text();
        o.qname_raw = q.qname.to_text();
        o.qtype = q.qtype;
        o.qclass = q.qclass;
    }
    o.answer = make_rrsets(msg.answer);
    o.authority = make_rrsets(msg.authority);
    o.additional = make_rrsets(msg.additional);
    o.edns = msg.edns.has_value();
    if (msg.edns) {
        o.udp_size = msg.edns->udp_size;
        if (const auto* nsid = msg.edns->find(wire::edns_opt::Nsid)) {
            o.nsid = nsid->data;
        }
    }
    for (const auto& e : msg.edes()) {
        o.ede.push_back(Ede{e.code, e.text});
    }
    std::sort(o.ede.begin(), o.ede.end(), [](const Ede& a, const Ede& b) {
        return std::tie(a.code, a.text) < std::tie(b.code, b.text);
    });
    return o;
}

Observation normalize_json(const std::string& body) {
    Observation o;
    auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("Status") || !doc["Status"].is_number_integer()) {
        o.error = "DoH JSON answer is not a JSON object with a numeric Status";
        return o;
    }
    o.answered = true;
    o.rcode = static_cast<std::uint16_t>(doc["Status"].get<int>());
    auto flag = [&](const char* key) -> std::optional<bool> {
        auto it = doc.find(key);
        if (it == doc.end() || !it->is_boolean()) {
            return std::nullopt;
        }
        return it->get<bool>();
    };
    // The JSON API has no AA bit and no opcode: left unknown, never a difference.
    o.flags = Flags{std::nullopt, flag("TC"), flag("RD"), flag("RA"), flag("AD"), flag("CD")};
    if (auto q = doc.find("Question");
        q != doc.end() && q->is_array() && !q->empty() && (*q)[0].is_object()) {
        o.has_question = true;
        o.qname_raw = (*q)[0].value("name", std::string{"."});
        if (o.qname_raw.empty() || o.qname_raw.back() != '.') {
            o.qname_raw += '.';
        }
        o.qname = fqdn_lower(o.qname_raw);
        o.qtype = static_cast<std::uint16_t>((*q)[0].value("type", 0));
    }
    o.answer = json_section(doc, "Answer");
    o.authority = json_section(doc, "Authority");
    o.additional = json_section(doc, "Additional");
    if (auto e = doc.find("extended_dns_errors"); e != doc.end() && e->is_array()) {
        for (const auto& item : *e) {
            if (item.is_object()) {
                o.ede.push_back(Ede{static_cast<std::uint16_t>(item.value("info_code", 0)),
                                    item.value("extra_text", std::string{})});
            }
        }
    }
    std::sort(o.ede.begin(), o.ede.end(), [](const Ede& a, const Ede& b) {
        return std::tie(a.code, a.text) < std::tie(b.code, b.text);
    });
    return o;
}

} // namespace probes::compare
