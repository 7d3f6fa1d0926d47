// SPDX-License-Identifier: MIT
#include "resolver/wire/presentation.hpp"

#include <array>
#include <cctype>
#include <cstdlib>

#include "resolver/util/c_handles.hpp"
#include "resolver/util/ldns.hpp"

namespace resolver::wire {
namespace {

void put16(std::vector<std::uint8_t>& out, std::size_t v) {
    out.push_back(static_cast<std::uint8_t>((v >> 8) & 0xFF));
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

std::string rfc3597(const std::string& rdata) {
    static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                  '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    std::string out = "\\# " + std::to_string(rdata.size());
    if (!rdata.empty()) {
        out += ' ';
    }
    for (unsigned char c : rdata) {
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    return out;
}

/// True when every label is letters, digits, '-', '_' or '*': such a name reads the same in
/// every presentation convention (no escapes), so it needs no ldns round trip.
bool plain_name(const Name& n) {
    for (auto label : n.labels()) {
        for (unsigned char c : label) {
            if (std::isalnum(c) == 0 && c != '-' && c != '_' && c != '*') {
                return false;
            }
        }
    }
    return true;
}

/// The common types without ldns (the query log renders every answer record); "" when the
/// record needs the general path.
std::string fast_rdata_text(const ResourceRecord& rr) {
    switch (rr.type) {
    case rrtype::A:
    case rrtype::AAAA:
        return address_text(rr);
    case rrtype::CNAME:
    case rrtype::NS:
    case rrtype::PTR:
    case rrtype::DNAME:
    case rrtype::MX: {
        auto target = rdata_target(rr);
        const std::size_t offset = rr.type == rrtype::MX ? 2 : 0;
        // Exactly one uncompressed name after the preference: anything else goes to ldns.
        if (!target || target->wire().size() + offset != rr.rdata.size() || !plain_name(*target)) {
            return {};
        }
        if (rr.type != rrtype::MX) {
            return target->to_text();
        }
        const unsigned pref = (static_cast<unsigned char>(rr.rdata[0]) << 8) |
                              static_cast<unsigned char>(rr.rdata[1]);
        return std::to_string(pref) + " " + target->to_text();
    }
    default:
        return {};
    }
}

} // namespace

std::vector<std::uint8_t> record_wire(const ResourceRecord& rr) {
    if (rr.rdata.size() > 65535) {
        return {};
    }
    const std::string& owner = rr.name.wire();
    std::vector<std::uint8_t> out;
    out.reserve(owner.size() + 10 + rr.rdata.size());
    out.insert(out.end(), owner.begin(), owner.end());
    put16(out, rr.type);
    put16(out, rr.rclass);
    put16(out, rr.ttl >> 16);
    put16(out, rr.ttl & 0xFFFF);
    put16(out, rr.rdata.size());
    out.insert(out.end(), rr.rdata.begin(), rr.rdata.end());
    return out;
}

std::string rdata_text(const ResourceRecord& rr) {
    if (std::string fast = fast_rdata_text(rr); !fast.empty()) {
        return fast;
    }
    // ldns parses whole records, so wrap the RDATA in a minimal one (root owner, no
    // compression possible: our rdata is already uncompressed).
    ResourceRecord bare = rr;
    bare.name = Name();
    const std::vector<std::uint8_t> buf = record_wire(bare);
    // Empty RDATA (an RFC 2136 delete, or a broken upstream) has no field text: ldns would
    // print "", which reads as no data at all.
    if (buf.empty() || rr.rdata.empty()) {
        return rfc3597(rr.rdata);
    }
    ldns_rr* raw = nullptr;
    std::size_t pos = 0;
    if (ldns_wire2rr(&raw, buf.data(), buf.size(), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK ||
        raw == nullptr) {
        return rfc3597(rr.rdata);
    }
    util::LdnsRr parsed{raw};
    if (!util::ldns_rdata_is(parsed.get(), rr.rdata)) {
        return rfc3597(rr.rdata); // malformed for its type: show the bytes, not ldns's reading
    }
    std::string out;
    for (std::size_t i = 0; i < ldns_rr_rd_count(parsed.get()); ++i) {
        char* text = ldns_rdf2str(ldns_rr_rdf(parsed.get(), i));
        if (text == nullptr) {
            return rfc3597(rr.rdata);
        }
        if (!out.empty()) {
            out += ' ';
        }
        out += text;
        std::free(text); // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
    }
    return out;
}

} // namespace resolver::wire
