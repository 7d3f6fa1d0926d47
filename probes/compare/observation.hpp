// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "resolver/wire/message.hpp"

namespace probes::compare {

/// One RRset in the normalised model: owner, type and class identify it; the record data
/// is kept as canonical presentation text (through ldns) so that wire answers and DoH JSON
/// answers compare equal when they carry the same data.
struct RRset {
    std::string name; // lower-case presentation with trailing dot (RFC 4343)
    std::uint16_t type = 0;
    std::uint16_t rclass = 1;
    std::uint32_t ttl = 0;          // smallest TTL of the records (RFC 2181 §5.2 wants them equal)
    std::vector<std::string> rdata; // canonical rdata, sorted; duplicates kept (they are a finding)

    /// "www.example. 300 IN A 192.0.2.1 192.0.2.2": the set on one line, for diff output.
    [[nodiscard]] std::string to_text(bool with_ttl = true) const;
};

/// Header flags. nullopt means "this answer format cannot say" (DoH JSON has no AA bit);
/// unknown values never cause a difference.
struct Flags {
    std::optional<bool> aa, tc, rd, ra, ad, cd;
};

struct Ede {
    std::uint16_t code = 0;
    std::string text;
};

/// How one target answered one question, normalised. Built by normalize_wire() or
/// normalize_json(); compared by diff.hpp. Pure data, no I/O.
struct Observation {
    std::string target;               // the target's name, as the user sees it
    std::string transport;            // udp, tcp, tls, https-get, https-post, https-json
    std::optional<std::string> error; // the exchange failed (timeout, refused, TLS, HTTP ...)

    // DoH only (doh == false for the others): HTTP status and whether the content type is
    // the one RFC 8484 §6 (or the JSON API) requires for the method used.
    bool doh = false;
    int http_status = 0;
    std::string content_type;
    bool content_type_ok = true;

    bool answered = false; // a DNS answer was parsed (wire or JSON)
    std::optional<std::uint8_t> opcode;
    std::uint16_t rcode = 0;
    Flags flags;
    bool has_question = false;
    std::string qname;     // lower-case, trailing dot
    std::string qname_raw; // as the server sent it, for 0x20 / case reporting
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 1;
    std::vector<RRset> answer, authority, additional; // sorted by (name, type, class)
    std::optional<bool> edns;                         // OPT present; nullopt for JSON
    std::uint16_t udp_size = 0;
    std::vector<Ede> ede;           // sorted by code
    std::string nsid;               // informational only
    std::vector<std::uint8_t> wire; // the raw answer, kept for dig-like presentation
};

/// Canonical presentation of one record's RDATA (via ldns: ldns_wire2rr + ldns_rdf2str).
/// Names inside RDATA are lower-cased; TXT and other opaque data keep their case.
std::string canonical_rdata(const resolver::wire::ResourceRecord& rr);
/// Canonicalises user- or JSON-supplied presentation RDATA for `type` (e.g. "2001:DB8::1"
/// becomes "2001:db8::1"); returns the input trimmed when ldns cannot parse it.
std::string canonical_rdata_text(std::uint16_t type, const std::string& text);

/// Groups records into RRsets, canonicalises them and sorts the result.
std::vector<RRset> make_rrsets(const std::vector<resolver::wire::ResourceRecord>& rrs);

/// Normalises a parsed wire answer.
Observation normalize_wire(const resolver::wire::Message& msg);
/// Normalises an answer from the DoH JSON API (application/dns-json, as served by
/// Cloudflare and Google: Status, TC, RD, RA, AD, CD, Question, Answer, Authority,
/// Additional, optional extended_dns_errors). Returns an Observation with `error` set
/// when the body is not such a document.
Observation normalize_json(const std::string& body);

} // namespace probes::compare
