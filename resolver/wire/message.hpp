// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/wire/name.hpp"

namespace resolver::wire {

// RFC 1035 §4.1.1 header flag bits.
inline constexpr std::uint16_t kFlagQr = 0x8000;
inline constexpr std::uint16_t kFlagAa = 0x0400;
inline constexpr std::uint16_t kFlagTc = 0x0200;
inline constexpr std::uint16_t kFlagRd = 0x0100;
inline constexpr std::uint16_t kFlagRa = 0x0080;
inline constexpr std::uint16_t kFlagAd = 0x0020; // RFC 4035 §3.2.3
inline constexpr std::uint16_t kFlagCd = 0x0010;

namespace rcode {
inline constexpr std::uint16_t NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4,
                               Refused = 5, BadVers = 16; // BadVers is 12 bits: needs OPT
}
namespace rrtype {
inline constexpr std::uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16,
                               AAAA = 28, SRV = 33, NAPTR = 35, DNAME = 39, OPT = 41, DS = 43,
                               RRSIG = 46, NSEC = 47, DNSKEY = 48, SVCB = 64, HTTPS = 65, ANY = 255,
                               CAA = 257;
}
namespace rrclass {
inline constexpr std::uint16_t IN = 1, CH = 3, ANY = 255;
}
namespace edns_opt {
inline constexpr std::uint16_t Nsid = 3, Ecs = 8, Cookie = 10, Padding = 12, Ede = 15,
                               Location = 65011, // Gateway location subdomain
    RequestCategories = 65050;                   // Gateway request-context categories
}

/// Mnemonic for a type ("A", "HTTPS", or "TYPE65280" per RFC 3597).
std::string type_name(std::uint16_t type);
/// Parses a mnemonic or "TYPEnnn" (case-insensitive), or a decimal number.
std::optional<std::uint16_t> type_from_name(std::string_view name);
std::string class_name(std::uint16_t cls);
std::string rcode_name(std::uint16_t rcode);
std::optional<std::uint16_t> rcode_from_name(std::string_view name);

struct Question {
    Name qname;
    std::uint16_t qtype = rrtype::A;
    std::uint16_t qclass = rrclass::IN;
};

/// One resource record. `rdata` is uncompressed wire format: names inside the RDATA of the
/// RFC 1035 types (and SRV, which some servers compress) are expanded on parse.
struct ResourceRecord {
    Name name;
    std::uint16_t type = 0;
    std::uint16_t rclass = rrclass::IN;
    std::uint32_t ttl = 0;
    std::string rdata;
};

struct EdnsOption {
    std::uint16_t code = 0;
    std::string data;
};

/// The OPT pseudo-record (RFC 6891 §6.1).
struct Edns {
    std::uint16_t udp_size = 1232;
    std::uint8_t ext_rcode = 0; // upper 8 bits of the 12-bit RCODE
    std::uint8_t version = 0;
    bool dnssec_ok = false;
    std::vector<EdnsOption> options;

    [[nodiscard]] const EdnsOption* find(std::uint16_t code) const;
};

/// An Extended DNS Error (RFC 8914).
struct Ede {
    std::uint16_t code = 0;
    std::string text;
};

/// A whole DNS message, owned. Built by parse() or by hand; written by serialize().
struct Message {
    std::uint16_t id = 0;
    std::uint16_t flags = 0; // QR, opcode, AA, TC, RD, RA, Z, AD, CD and the low 4 bits of RCODE
    std::vector<Question> question;
    std::vector<ResourceRecord> answer;
    std::vector<ResourceRecord> authority;
    std::vector<ResourceRecord> additional; // never holds the OPT record: see `edns`
    std::optional<Edns> edns;

    [[nodiscard]] std::uint8_t opcode() const noexcept {
        return static_cast<std::uint8_t>((flags >> 11) & 0xF);
    }
    [[nodiscard]] bool flag(std::uint16_t f) const noexcept { return (flags & f) != 0; }
    void set_flag(std::uint16_t f, bool on) noexcept {
        flags = static_cast<std::uint16_t>(on ? (flags | f) : (flags & ~f));
    }
    /// The full 12-bit RCODE (header bits plus the OPT extension).
    [[nodiscard]] std::uint16_t rcode() const noexcept;
    /// Sets the RCODE; values above 15 need (and create) an OPT record.
    void set_rcode(std::uint16_t rc);
    /// EDE options carried in the OPT record.
    [[nodiscard]] std::vector<Ede> edes() const;
    /// Appends an EDE option, creating the OPT record when missing.
    void add_ede(std::uint16_t code, std::string_view text);
};

/// Why a message could not be parsed, and how much of it was readable.
struct ParseFailure {
    enum class Kind : std::uint8_t {
        ShortHeader, // not even 12 bytes: nothing to answer, drop
        Malformed,   // header readable: answer FORMERR with this ID
    };
    Kind kind = Kind::ShortHeader;
    std::uint16_t id = 0;
    std::uint16_t flags = 0;
    std::string reason;
};

struct ParseOptions {
    /// Bytes after the last record are ignored (counted in ParseResult::trailing) instead of
    /// making the message malformed: what resolvers do with client queries.
    bool allow_trailing = false;
};

/// Parses untrusted bytes. Every read is bounds-checked; trailing garbage is an error unless
/// allowed. Returns the message or a ParseFailure that says whether a FORMERR can be sent.
struct ParseResult {
    std::optional<Message> message;
    ParseFailure failure;
    std::size_t trailing = 0; // bytes ignored after the message (allow_trailing)
    explicit operator bool() const noexcept { return message.has_value(); }
};
ParseResult parse(std::span<const std::uint8_t> wire, ParseOptions options = {});
/// The same, reusing the storage of `storage` (a message no longer needed): every field of
/// the result is what `wire` says, nothing of `storage` is left but its capacity.
ParseResult parse(std::span<const std::uint8_t> wire, ParseOptions options, Message storage);

/// Writes `msg` with name compression on owner names. When the message does not fit in
/// `max_size`, whole RRsets are left out from the end (additional, then authority, then
/// answer) and TC is set when any answer or authority RRset had to go (RFC 2181 §9; an
/// additional-only cut does not set TC). The OPT record is always kept (RFC 6891 §7).
std::vector<std::uint8_t> serialize(const Message& msg, std::size_t max_size = 65535);
/// The same, written into `storage`'s memory (its contents are discarded): a server that gets
/// its sent answers' buffers back serializes without allocating.
std::vector<std::uint8_t> serialize(const Message& msg, std::size_t max_size,
                                    std::vector<std::uint8_t> storage);

/// Convenience: the decoded RDATA of an A/AAAA record as text, or "" when not an address.
std::string address_text(const ResourceRecord& rr);
/// Names in RDATA (CNAME/NS/PTR/DNAME target, MX exchange), or nullopt.
std::optional<Name> rdata_target(const ResourceRecord& rr);
/// TXT RDATA as the concatenation of its character-strings.
std::string txt_text(const ResourceRecord& rr);

/// Builds a response skeleton for `query`: same ID, question (with its case), opcode, RD and
/// CD; QR set; OPT echoed (RFC 6891 §7) with our payload size when the query had one.
/// `question_storage`: a vector whose capacity (and names' storage) the copied question reuses.
Message make_response(const Message& query, std::uint16_t rcode, std::uint16_t our_udp_size = 1232,
                      std::vector<Question> question_storage = {});

} // namespace resolver::wire
