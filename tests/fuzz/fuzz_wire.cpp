// SPDX-License-Identifier: MIT
// The DNS wire parser (resolver/wire) on untrusted bytes: parse, render every presentation
// form the lab prints (dig-style explain text, the DoH JSON API, the probe's ldns view), then
// serialize and parse again. Asserted: what parses serializes to something that parses to
// the same message, a second serialization is byte-identical (the round trip is stable), and
// names and record data survive their presentation form.
#include <cstdint>
#include <string>

#include "resolver/util/ldns.hpp"

#include "probes/common/present.hpp"
#include "resolver/io/doh_json.hpp"
#include "resolver/policy/explain.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/hex.hpp"
#include "resolver/wire/message.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
using namespace resolver::wire;

std::string hex_of(const std::vector<std::uint8_t>& v) {
    return resolver::util::hex(v.data(), v.size());
}

// Case-insensitive names: the serializer compresses a name onto an earlier suffix that
// differs only in case (RFC 4343 §3), so the case of a compressed suffix is the first one's.
bool same_rr(const ResourceRecord& a, const ResourceRecord& b) {
    return a.name == b.name && a.type == b.type && a.rclass == b.rclass && a.ttl == b.ttl &&
           a.rdata == b.rdata;
}

bool same_rrs(const std::vector<ResourceRecord>& a, const std::vector<ResourceRecord>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!same_rr(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

bool same_edns(const std::optional<Edns>& a, const std::optional<Edns>& b) {
    if (a.has_value() != b.has_value()) {
        return false;
    }
    if (!a) {
        return true;
    }
    if (a->udp_size != b->udp_size || a->ext_rcode != b->ext_rcode || a->version != b->version ||
        a->dnssec_ok != b->dnssec_ok || a->options.size() != b->options.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a->options.size(); ++i) {
        if (a->options[i].code != b->options[i].code || a->options[i].data != b->options[i].data) {
            return false;
        }
    }
    return true;
}

bool same_message(const Message& a, const Message& b) {
    if (a.id != b.id || a.flags != b.flags || a.question.size() != b.question.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.question.size(); ++i) {
        const auto& x = a.question[i];
        const auto& y = b.question[i];
        if (!(x.qname == y.qname) || x.qtype != y.qtype || x.qclass != y.qclass) {
            return false;
        }
    }
    return same_rrs(a.answer, b.answer) && same_rrs(a.authority, b.authority) &&
           same_rrs(a.additional, b.additional) && same_edns(a.edns, b.edns);
}

/// A name's presentation form parses back to exactly the same wire bytes, case included.
void check_name(const Name& n) {
    const std::string text = n.to_text();
    const auto back = Name::from_text(text);
    FUZZ_CHECK(back.has_value(), "to_text() gave an unparsable name: " + text);
    FUZZ_CHECK(back->wire() == n.wire(), "name changed through its text form: " + text);
    (void)n.to_gateway_text();
}

// Types whose ldns text form is a complete, re-readable description of the RDATA: the ones
// a DoH JSON client reads back ("data") and a zone file holds.
bool text_round_trips(std::uint16_t type) {
    switch (type) {
    case rrtype::A:
    case rrtype::AAAA:
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME:
    case rrtype::MX:
    case rrtype::TXT:
    case rrtype::SOA:
    case rrtype::SRV:
        return true;
    default:
        return false;
    }
}

/// The DoH JSON "data" of a record, read back by ldns's zone-file parser (the one the fixture
/// loads zones with), gives the same RDATA.
void check_rdata_text(const ResourceRecord& rr) {
    const std::string data = resolver::io::rdata_text(rr);
    if (!text_round_trips(rr.type) || data.rfind("\\#", 0) == 0) {
        return; // RFC 3597 generic form: what ldns could not decode
    }
    const std::string line = ". 0 IN " + type_name(rr.type) + " " + data;
    ldns_rr* raw = nullptr;
    const ldns_status st = ldns_rr_new_frm_str(&raw, line.c_str(), 0, nullptr, nullptr);
    resolver::util::LdnsRr parsed{raw};
    FUZZ_CHECK(st == LDNS_STATUS_OK && raw != nullptr,
               "rdata_text() not readable by ldns: " + line + " (" + ldns_get_errorstr_by_id(st) +
                   ")");
    std::string back;
    for (std::size_t i = 0; i < ldns_rr_rd_count(raw); ++i) {
        const ldns_rdf* rdf = ldns_rr_rdf(raw, i);
        back.append(reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf));
    }
    FUZZ_CHECK(back == rr.rdata, "RDATA changed through its text form: " + line);
}

void check_presentation(const Message& m) {
    for (const auto& q : m.question) {
        check_name(q.qname);
        FUZZ_CHECK(type_from_name(type_name(q.qtype)) == q.qtype, type_name(q.qtype));
    }
    for (const auto* section : {&m.answer, &m.authority, &m.additional}) {
        for (const auto& rr : *section) {
            check_name(rr.name);
            FUZZ_CHECK(type_from_name(type_name(rr.type)) == rr.type, type_name(rr.type));
            (void)address_text(rr);
            if (auto target = rdata_target(rr)) {
                check_name(*target);
            }
            (void)txt_text(rr);
            check_rdata_text(rr);
        }
    }
    FUZZ_CHECK(rcode_from_name(rcode_name(m.rcode())) == m.rcode(), rcode_name(m.rcode()));
    (void)resolver::io::render_json(m); // DoH JSON API answers
    // `explain` shows the answer dig-style in its text and JSON reports.
    const resolver::policy::Evaluation ev;
    resolver::policy::ExplainInput in;
    in.ev = &ev;
    in.upstream = &m;
    in.answer = &m;
    (void)resolver::policy::render_explain_text(in);
    (void)resolver::policy::render_explain_json(in);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    (void)probes::common::present(input); // the probe prints upstream answers through ldns
    const ParseResult first = parse(input);
    if (!first) {
        const bool short_header = first.failure.kind == ParseFailure::Kind::ShortHeader;
        FUZZ_CHECK(short_header == (size < 12), "ShortHeader for a " + std::to_string(size) +
                                                    "-byte message: " + first.failure.reason);
        return 0;
    }
    const Message& m = *first.message;
    check_presentation(m);

    const std::vector<std::uint8_t> once = serialize(m);
    const ParseResult second = parse(once);
    FUZZ_CHECK(second.message.has_value(), "serialize() wrote an unparsable message (" +
                                               second.failure.reason + "): " + hex_of(once));
    // Truncation (TC newly set, RRsets left out) only happens past 65535 bytes: the parsed
    // RDATA holds expanded names, so the serialized message can be longer than the input.
    const bool truncated = second.message->answer.size() + second.message->authority.size() +
                               second.message->additional.size() <
                           m.answer.size() + m.authority.size() + m.additional.size();
    if (!truncated) {
        FUZZ_CHECK(same_message(m, *second.message),
                   "parse(serialize(m)) differs from m: " + hex_of(once));
    }
    const std::vector<std::uint8_t> twice = serialize(*second.message);
    FUZZ_CHECK(twice == once, "serialize() is not stable:\n" + hex_of(once) + "\n" + hex_of(twice));
    // What the resolver sends on UDP: the truncated form must parse too.
    const ParseResult cut = parse(serialize(m, 512));
    FUZZ_CHECK(cut.message.has_value(), "serialize(m, 512) is unparsable: " + cut.failure.reason);
    return 0;
}
