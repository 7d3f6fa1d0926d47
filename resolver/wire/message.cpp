// SPDX-License-Identifier: MIT
#include "resolver/wire/message.hpp"

#include "resolver/wire/fold.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>

namespace resolver::wire {
namespace {

struct TypeEntry {
    std::uint16_t code;
    std::string_view name;
};
constexpr std::array kTypes{
    TypeEntry{1, "A"},      TypeEntry{2, "NS"},          TypeEntry{5, "CNAME"},
    TypeEntry{6, "SOA"},    TypeEntry{12, "PTR"},        TypeEntry{13, "HINFO"},
    TypeEntry{15, "MX"},    TypeEntry{16, "TXT"},        TypeEntry{17, "RP"},
    TypeEntry{18, "AFSDB"}, TypeEntry{28, "AAAA"},       TypeEntry{29, "LOC"},
    TypeEntry{33, "SRV"},   TypeEntry{35, "NAPTR"},      TypeEntry{39, "DNAME"},
    TypeEntry{41, "OPT"},   TypeEntry{43, "DS"},         TypeEntry{44, "SSHFP"},
    TypeEntry{46, "RRSIG"}, TypeEntry{47, "NSEC"},       TypeEntry{48, "DNSKEY"},
    TypeEntry{50, "NSEC3"}, TypeEntry{51, "NSEC3PARAM"}, TypeEntry{52, "TLSA"},
    TypeEntry{59, "CDS"},   TypeEntry{60, "CDNSKEY"},    TypeEntry{64, "SVCB"},
    TypeEntry{65, "HTTPS"}, TypeEntry{99, "SPF"},        TypeEntry{251, "IXFR"},
    TypeEntry{252, "AXFR"}, TypeEntry{255, "ANY"},       TypeEntry{256, "URI"},
    TypeEntry{257, "CAA"},
};

constexpr std::array<std::string_view, 24> kRcodes{
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",  "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",  "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14",  "RCODE15",
    "BADVERS", "BADKEY",  "BADTIME",  "BADMODE",   "BADNAME", "BADALG",  "BADTRUNC", "BADCOOKIE"};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// RDATA layouts whose embedded names may be compressed on the wire (RFC 3597 §4 lists the
// RFC 1035 types; SRV is added because real servers compress it and receivers must cope).
enum class RdataShape { Opaque, OneName, MxLike, Soa, Srv, Minfo };
RdataShape shape_of(std::uint16_t type) {
    switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME:
    case 3: // MD
    case 4: // MF
    case 7: // MB
    case 8: // MG
    case 9: // MR
        return RdataShape::OneName;
    case rrtype::MX:
    case 18: // AFSDB
    case 21: // RT
        return RdataShape::MxLike;
    case rrtype::SOA:
        return RdataShape::Soa;
    case rrtype::SRV:
        return RdataShape::Srv;
    case 14: // MINFO
    case 17: // RP
        return RdataShape::Minfo;
    default:
        return RdataShape::Opaque;
    }
}

/// Reads RDATA of `rdlen` bytes at the cursor, expanding compressed names.
std::string read_rdata(WireReader& r, std::uint16_t type, std::uint16_t rdlen) {
    const std::size_t end = r.pos() + rdlen;
    const auto shape = shape_of(type);
    std::string out;
    auto raw = [&](std::size_t n) {
        const auto b = r.bytes(n);
        out.append(reinterpret_cast<const char*>(b.data()), b.size());
    };
    switch (shape) {
    case RdataShape::Opaque:
        raw(rdlen);
        return out;
    case RdataShape::OneName:
        out = Name::read(r).wire();
        break;
    case RdataShape::MxLike:
        raw(2);
        out += Name::read(r).wire();
        break;
    case RdataShape::Soa:
        out = Name::read(r).wire();
        out += Name::read(r).wire();
        raw(20);
        break;
    case RdataShape::Srv:
        raw(6);
        out += Name::read(r).wire();
        break;
    case RdataShape::Minfo:
        out = Name::read(r).wire();
        out += Name::read(r).wire();
        break;
    }
    if (r.ok() && r.pos() != end) {
        r.set_failed(); // RDLENGTH disagrees with the RDATA's own structure
    }
    return out;
}

/// The output of serialize(): a buffer sized once, up front, for the whole message (see
/// serialize()), written by plain stores. Every writer asks for room once per record with
/// need(); only a message larger than the first estimate makes the buffer grow.
class WireOut {
public:
    /// `storage`: memory to write into (its contents are discarded), e.g. a sent answer's.
    WireOut(std::size_t initial, std::vector<std::uint8_t> storage)
        : buf_(std::move(storage)), p_(nullptr), cap_(initial) {
        buf_.clear();
        buf_.resize(initial);
        p_ = buf_.data();
    }

    /// Makes room for `n` more octets.
    void need(std::size_t n) {
        if (n > cap_ - len_) [[unlikely]] {
            buf_.resize(std::max(cap_ * 2, len_ + n));
            p_ = buf_.data();
            cap_ = buf_.size();
        }
    }
    // The writers below assume need() made room for what they write.
    void u8(std::uint8_t v) { p_[len_++] = v; }
    void u16(std::uint16_t v) {
        const std::uint16_t be = htons(v);
        std::memcpy(p_ + len_, &be, 2);
        len_ += 2;
    }
    void u32(std::uint32_t v) {
        const std::uint32_t be = htonl(v);
        std::memcpy(p_ + len_, &be, 4);
        len_ += 4;
    }
    void bytes(const void* data, std::size_t n) {
        // Most pieces are short (an address, a label, a name): copied inline, by two words
        // that may overlap, instead of a call.
        const auto* src = static_cast<const std::uint8_t*>(data);
        std::uint8_t* dst = p_ + len_;
        if (n > 16 && n <= 32) {
            copy_fixed<16>(dst, src);
            copy_fixed<16>(dst + n - 16, src + n - 16);
        } else if (n >= 8 && n <= 16) {
            copy_fixed<8>(dst, src);
            copy_fixed<8>(dst + n - 8, src + n - 8);
        } else if (n >= 4 && n < 8) {
            copy_fixed<4>(dst, src);
            copy_fixed<4>(dst + n - 4, src + n - 4);
        } else if (n != 0) {
            std::memcpy(dst, src, n);
        }
        len_ += n;
    }
    /// Overwrites two octets already written (header fields known only at the end).
    void set16(std::size_t at, std::uint16_t v) {
        const std::uint16_t be = htons(v);
        std::memcpy(p_ + at, &be, 2);
    }

    [[nodiscard]] std::size_t size() const noexcept { return len_; }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return p_; }

    template <std::size_t N>
    static void copy_fixed(std::uint8_t* dst, const std::uint8_t* src) {
        std::uint8_t word[N];
        std::memcpy(word, src, N);
        std::memcpy(dst, word, N);
    }
    [[nodiscard]] std::uint8_t operator[](std::size_t i) const noexcept { return p_[i]; }
    /// Forgets everything written after the first `n` octets.
    void cut(std::size_t n) noexcept { len_ = std::min(len_, n); }

    /// The message: the buffer shrunk to what was written (no reallocation).
    std::vector<std::uint8_t> take() && {
        buf_.resize(len_);
        return std::move(buf_);
    }

private:
    std::vector<std::uint8_t> buf_;
    std::uint8_t* p_;
    std::size_t cap_; // buf_.size()
    std::size_t len_ = 0;
};

/// The most octets a name takes on the wire as NameWriter writes it: its labels and the root
/// octet, or a pointer; never more than its own length plus one (a malformed wire form
/// without a root octet gets one), and 2 octets for a pointer.
std::size_t name_bound(const Name& n) {
    return n.wire().size() + 2;
}

/// The most octets a section's records take: see name_bound().
std::size_t records_bound(const std::vector<ResourceRecord>& rrs) {
    std::size_t n = 0;
    for (const auto& rr : rrs) {
        n += name_bound(rr.name) + 10 + rr.rdata.size();
    }
    return n;
}

/// Writes names with compression. Remembers every suffix it wrote at an offset < 0x4000.
/// Owner-name compression (RFC 1035 §4.1.4). Every suffix written out literally is
/// remembered as (hash of its lowercased labels, offset); a later name points to the first
/// earlier suffix that equals its own, compared case-insensitively (RFC 4343 §3) against the
/// bytes already in `out`. Nothing is allocated per name: serialize() runs for every answer
/// on the hot path, and a map of suffix strings cost more than the rest of the encoding.
class NameWriter {
public:
    /// Writes `name`; the caller made room for name_bound() octets.
    void write(WireOut& out, const Name& name) {
        const std::string& w = name.wire();
        // The records of an RRset, and most answers' owners, repeat the name written just
        // before (usually the question's): one comparison instead of hashing every suffix.
        if (last_at_ != kNone && equal_nocase(w, last_)) {
            out.u16(static_cast<std::uint16_t>(0xC000 | last_at_));
            return;
        }
        const std::size_t at = out.size();
        if (count_ == 0 && pending_at_ == kNone && at < 0x4000) {
            // The first name (the question's): nothing earlier to point to, so it is written
            // as it is and its suffixes are hashed only if a later name needs them.
            pending_plain_ = write_plain(out, w);
            pending_ = w;
            pending_at_ = static_cast<std::uint16_t>(at);
        } else if (!point_into_pending(out, w)) {
            remember_pending();
            write_suffixes(out, w);
        }
        last_ = w;
        last_at_ = kNone;
        if (w.size() == 1) {
            return; // the root: one octet, shorter than any pointer to it
        }
        if (at < 0x4000 && (out[at] & 0xC0) == 0) {
            last_at_ = static_cast<std::uint16_t>(at); // written out: its first label is here
        } else if (out.size() == at + 2 && (out[at] & 0xC0) == 0xC0) {
            last_at_ = static_cast<std::uint16_t>(((out[at] & 0x3F) << 8) | out[at + 1]);
        }
    }

    /// The state to go back to when a section is cut for truncation: suffixes are only ever
    /// appended, so forgetting the ones written after a mark restores it exactly.
    [[nodiscard]] std::size_t mark() const { return count_; }
    /// `out_size`: the length of the output after the cut.
    void rewind(std::size_t mark, std::size_t out_size) {
        count_ = std::min(count_, mark);
        if (more_.size() > count_ - std::min(count_, kInline)) {
            more_.resize(count_ - std::min(count_, kInline));
        }
        if (last_at_ != kNone && last_at_ >= out_size) {
            last_at_ = kNone;
        }
        if (pending_at_ != kNone && pending_at_ >= out_size) {
            pending_at_ = kNone;
        }
    }

private:
    /// The uncompressed name, as far as its labels are well formed (as write_suffixes).
    /// Returns whether that was all of it: labels ending with the root octet at the end.
    static bool write_plain(WireOut& out, const std::string& w) {
        std::size_t i = 0;
        while (i < w.size() && w[i] != 0) {
            const std::size_t next = i + 1 + static_cast<std::uint8_t>(w[i]);
            if (next > w.size()) {
                break;
            }
            i = next;
        }
        out.bytes(w.data(), i);
        out.u8(0);
        return i + 1 == w.size() && w[i] == 0;
    }

    /// While the first name's suffixes are pending they are the only ones a name can point
    /// to, and one of them has the same length as `w`: when that one equals `w` (the zone
    /// apex of a negative answer's SOA, an answer below the question), write_suffixes() would
    /// point to it. The pointer is written without hashing and nothing is remembered (as
    /// write_suffixes() remembers nothing for a name found whole). False: nothing written.
    bool point_into_pending(WireOut& out, const std::string& w) const {
        // `w` need not be checked: equal to a suffix of the well-formed first name, it is one.
        if (pending_at_ == kNone || !pending_plain_ || w.size() < 2 || w.size() > pending_.size()) {
            return false;
        }
        const std::size_t from = pending_.size() - w.size(); // where the same length starts
        if (pending_at_ + from >= 0x4000) {
            return false; // not remembered there: no pointer possible
        }
        std::size_t i = 0; // `from` must be where one of the first name's labels starts
        while (i < from) {
            i += 1 + static_cast<std::uint8_t>(pending_[i]);
        }
        if (i != from || !equal_nocase(pending_.substr(from), w)) {
            return false;
        }
        out.u16(static_cast<std::uint16_t>(0xC000 | (pending_at_ + from)));
        return true;
    }

    /// Remembers the suffixes of the name write_plain() wrote first, as write_suffixes()
    /// would have when it was written: before any later name's.
    void remember_pending() {
        if (pending_at_ == kNone) {
            return;
        }
        const std::string_view w = pending_;
        const std::size_t base = pending_at_;
        pending_at_ = kNone;
        std::array<std::uint16_t, 128> starts;
        std::array<std::uint64_t, 128> hashes;
        const std::size_t n = suffix_hashes(w, starts, hashes);
        for (std::size_t k = 0; k < n; ++k) {
            if (base + starts[k] < 0x4000) {
                remember({hashes[k], static_cast<std::uint16_t>(base + starts[k])});
            }
        }
    }

    /// Where each label of `w` starts and the hash of the suffix from there; returns the
    /// number of labels (at most 127 in 255 bytes, RFC 1035 §3.1; only the first n entries
    /// are written, so the arrays need no clearing).
    static std::size_t suffix_hashes(std::string_view w, std::array<std::uint16_t, 128>& starts,
                                     std::array<std::uint64_t, 128>& hashes) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < w.size() && w[i] != 0 && n < starts.size();) {
            const std::size_t next = i + 1 + static_cast<std::uint8_t>(w[i]);
            if (next > w.size()) {
                break;
            }
            starts[n++] = static_cast<std::uint16_t>(i);
            i = next;
        }
        // FNV-1a style, extended label by label from the root, over the label's octets eight
        // at a time with ASCII letters folded (so equal names in any case hash alike). Only a
        // hint: find() compares the octets of every candidate, so which earlier suffix a
        // name points to does not depend on the hash function.
        std::uint64_t h = 0xcbf29ce484222325ULL;
        for (std::size_t k = n; k-- > 0;) {
            const std::size_t i = starts[k];
            const std::size_t len = static_cast<std::uint8_t>(w[i]);
            h = (h ^ len) * kFnvPrime;
            const char* const p = w.data() + i + 1;
            std::size_t j = 0;
            for (; j + 8 <= len; j += 8) {
                h = (h ^ fold::fold8(fold::load8(p + j))) * kFnvPrime;
            }
            if (j < len) {
                const std::size_t rest = len - j; // 1..7 octets
                std::uint64_t v = 0;
                if (i + 1 + j + 8 <= w.size()) {
                    // The eight octets from here all lie in `w`: the ones past the label
                    // are masked off.
                    v = fold::load8(p + j) & (~std::uint64_t{0} >> (8 * (8 - rest)));
                } else if (i + 1 + len >= 8) {
                    // The eight octets ending with the label's last one all lie in `w`.
                    v = fold::load8(p + len - 8) >> (8 * (8 - rest));
                } else {
                    for (std::size_t b = 0; b < rest; ++b) {
                        v |= std::uint64_t{static_cast<std::uint8_t>(p[j + b])} << (8 * b);
                    }
                }
                h = (h ^ fold::fold8(v)) * kFnvPrime;
            }
            hashes[k] = h;
        }
        return n;
    }

    static constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

    void write_suffixes(WireOut& out, const std::string& w) {
        std::array<std::uint16_t, 128> starts;
        std::array<std::uint64_t, 128> hashes;
        const std::size_t n = suffix_hashes(w, starts, hashes);
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t i = starts[k];
            if (const auto at = find(out, w, i, hashes[k])) {
                out.u16(static_cast<std::uint16_t>(0xC000 | *at));
                return;
            }
            if (out.size() < 0x4000) {
                remember({hashes[k], static_cast<std::uint16_t>(out.size())});
            }
            const std::size_t len = static_cast<std::uint8_t>(w[i]);
            out.bytes(w.data() + i, 1 + len);
        }
        out.u8(0);
    }

    static bool equal_nocase(std::string_view a, std::string_view b) {
        return a.size() == b.size() && fold::equal(a.data(), b.data(), a.size());
    }

    struct Suffix {
        std::uint64_t hash;
        std::uint16_t offset;
    };
    /// Suffixes kept inline: an ordinary answer writes a few dozen, so only a large one
    /// allocates (the rest go to more_).
    static constexpr std::size_t kInline = 64;

    void remember(Suffix s) {
        if (count_ < kInline) {
            inline_[count_] = s;
        } else {
            more_.push_back(s);
        }
        ++count_;
    }

    std::optional<std::uint16_t> find(const WireOut& out, const std::string& w, std::size_t i,
                                      std::uint64_t hash) const {
        for (std::size_t k = 0; k < count_; ++k) {
            const Suffix& s = k < kInline ? inline_[k] : more_[k - kInline];
            if (s.hash == hash && same(out, s.offset, w, i)) {
                return s.offset;
            }
        }
        return std::nullopt;
    }

    /// Whether the (possibly compressed) name at `off` in `out` equals the suffix of `w` at
    /// `i`. Bounds-checked, and pointers in `out` only go backwards, so it always ends.
    static bool same(const WireOut& out, std::size_t off, const std::string& w, std::size_t i) {
        for (std::size_t hops = 0; hops < 256; ++hops) {
            if (off >= out.size() || i >= w.size()) {
                return false;
            }
            if ((out[off] & 0xC0) == 0xC0) {
                if (off + 1 >= out.size()) {
                    return false;
                }
                off = (std::size_t{out[off] & 0x3Fu} << 8) | out[off + 1];
                continue;
            }
            const std::size_t len = out[off];
            if (len != static_cast<std::uint8_t>(w[i])) {
                return false;
            }
            if (len == 0) {
                return true;
            }
            if (off + 1 + len > out.size() || i + 1 + len > w.size()) {
                return false;
            }
            if (!fold::equal(reinterpret_cast<const char*>(out.data()) + off + 1, w.data() + i + 1,
                             len)) {
                return false;
            }
            off += 1 + len;
            i += 1 + len;
        }
        return false;
    }

    static constexpr std::uint16_t kNone = 0xFFFF;

    std::array<Suffix, kInline> inline_; // the first kInline suffixes, in order
    std::vector<Suffix> more_;           // the ones after
    std::size_t count_ = 0;
    std::string_view last_;         // the name written last (its Name outlives the serialize call)
    std::uint16_t last_at_ = kNone; // where that whole name can be pointed to; kNone: nowhere
    std::string_view pending_;      // the first name, written plain, suffixes not hashed yet
    std::uint16_t pending_at_ = kNone; // where it starts; kNone: none pending
    bool pending_plain_ = false;       // it is well formed (write_plain wrote all of it)
};

/// `Room`: false when the buffer was sized for the whole message up front.
template <bool Room = true>
void write_rr(WireOut& out, NameWriter& names, const ResourceRecord& rr) {
    const auto rdlen = std::min<std::size_t>(rr.rdata.size(), 0xFFFF);
    if constexpr (Room) {
        out.need(name_bound(rr.name) + 10 + rr.rdata.size());
    }
    names.write(out, rr.name);
    out.u16(rr.type);
    out.u16(rr.rclass);
    out.u32(rr.ttl);
    out.u16(static_cast<std::uint16_t>(rdlen));
    out.bytes(rr.rdata.data(), rr.rdata.size());
}

/// The OPT record's length on the wire: root owner, TYPE, CLASS, TTL, RDLENGTH, options.
std::size_t opt_length(const Edns& e) {
    std::size_t size = 11;
    for (const auto& o : e.options) {
        size += 4 + o.data.size();
    }
    return size;
}

/// Appends the OPT record (RFC 6891 §6.1.2) of `opt_size` octets (opt_length()).
void write_opt(WireOut& out, const Edns& e, std::uint16_t rcode, std::size_t opt_size) {
    out.need(opt_size);
    out.u8(0); // root owner
    out.u16(rrtype::OPT);
    out.u16(e.udp_size);
    out.u8(static_cast<std::uint8_t>(rcode >> 4));
    out.u8(e.version);
    out.u16(e.dnssec_ok ? 0x8000 : 0);
    out.u16(static_cast<std::uint16_t>(opt_size - 11));
    for (const auto& o : e.options) {
        out.u16(o.code);
        out.u16(static_cast<std::uint16_t>(o.data.size()));
        out.bytes(o.data.data(), o.data.size());
    }
}

/// Where the RRset that starts at `start` ends (one past its last record): records of one
/// name, type and class in a row (a new set starts when one of them changes).
std::size_t rrset_end(const std::vector<ResourceRecord>& rrs, std::size_t start) {
    std::size_t i = start + 1;
    while (i < rrs.size() && rrs[i].type == rrs[i - 1].type && rrs[i].rclass == rrs[i - 1].rclass &&
           rrs[i].name == rrs[i - 1].name) {
        ++i;
    }
    return i;
}

} // namespace

std::string type_name(std::uint16_t type) {
    for (const auto& t : kTypes) {
        if (t.code == type) {
            return std::string(t.name);
        }
    }
    return "TYPE" + std::to_string(type);
}

std::optional<std::uint16_t> type_from_name(std::string_view name) {
    for (const auto& t : kTypes) {
        if (iequals(t.name, name)) {
            return t.code;
        }
    }
    std::string_view digits = name;
    if (name.size() > 4 && iequals(name.substr(0, 4), "TYPE")) {
        digits = name.substr(4);
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || p != digits.data() + digits.size() || v > 0xFFFF || digits.empty()) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
}

std::string class_name(std::uint16_t cls) {
    switch (cls) {
    case rrclass::IN:
        return "IN";
    case rrclass::CH:
        return "CH";
    case 4:
        return "HS";
    case 254:
        return "NONE";
    case rrclass::ANY:
        return "ANY";
    default:
        return "CLASS" + std::to_string(cls);
    }
}

std::string rcode_name(std::uint16_t rc) {
    if (rc < kRcodes.size()) {
        return std::string(kRcodes[rc]);
    }
    return "RCODE" + std::to_string(rc);
}

std::optional<std::uint16_t> rcode_from_name(std::string_view name) {
    for (std::size_t i = 0; i < kRcodes.size(); ++i) {
        if (iequals(kRcodes[i], name)) {
            return static_cast<std::uint16_t>(i);
        }
    }
    if (iequals(name, "NOTIMPL")) {
        return rcode::NotImp;
    }
    // "RCODEnnn": what rcode_name() prints for codes without a mnemonic.
    if (name.size() > 5 && iequals(name.substr(0, 5), "RCODE")) {
        name.remove_prefix(5);
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
    if (ec != std::errc{} || p != name.data() + name.size() || v > 4095 || name.empty()) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
}

const EdnsOption* Edns::find(std::uint16_t code) const {
    for (const auto& o : options) {
        if (o.code == code) {
            return &o;
        }
    }
    return nullptr;
}

std::uint16_t Message::rcode() const noexcept {
    const std::uint16_t hi = edns ? edns->ext_rcode : 0;
    return static_cast<std::uint16_t>((hi << 4) | (flags & 0xF));
}

void Message::set_rcode(std::uint16_t rc) {
    flags = static_cast<std::uint16_t>((flags & ~0xFu) | (rc & 0xF));
    if (rc > 15 && !edns) {
        edns.emplace();
    }
    if (edns) {
        edns->ext_rcode = static_cast<std::uint8_t>(rc >> 4);
    }
}

std::vector<Ede> Message::edes() const {
    std::vector<Ede> out;
    if (!edns) {
        return out;
    }
    for (const auto& o : edns->options) {
        if (o.code == edns_opt::Ede && o.data.size() >= 2) {
            out.push_back(
                Ede{static_cast<std::uint16_t>((static_cast<std::uint8_t>(o.data[0]) << 8) |
                                               static_cast<std::uint8_t>(o.data[1])),
                    o.data.substr(2)});
        }
    }
    return out;
}

void Message::add_ede(std::uint16_t code, std::string_view text) {
    if (!edns) {
        edns.emplace();
    }
    std::string data;
    data.push_back(static_cast<char>(code >> 8));
    data.push_back(static_cast<char>(code & 0xFF));
    data.append(text);
    edns->options.push_back(EdnsOption{edns_opt::Ede, std::move(data)});
}

ParseResult parse(std::span<const std::uint8_t> wire, ParseOptions options) {
    return parse(wire, options, Message{});
}

ParseResult parse(std::span<const std::uint8_t> wire, ParseOptions options, Message storage) {
    // Every return hands back this one object (so it is built in the caller's place), and
    // the message is parsed where it is returned: nothing is moved on the way out.
    ParseResult res;
    if (wire.size() < 12) {
        res.failure = {ParseFailure::Kind::ShortHeader, 0, 0, "message shorter than a header"};
        return res;
    }
    // Every field is read or emptied below: only the storage of `storage` is kept (its
    // question vector and names are assigned over, element by element).
    Message& m = res.message.emplace(std::move(storage));
    m.answer.clear();
    m.authority.clear();
    m.additional.clear();
    m.edns.reset();
    const auto header = [&](std::size_t at) {
        return static_cast<std::uint16_t>((wire[at] << 8) | wire[at + 1]);
    };
    m.id = header(0);
    m.flags = header(2);
    const std::uint16_t qd = header(4);
    const std::uint16_t an = header(6);
    const std::uint16_t ns = header(8);
    const std::uint16_t ar = header(10);
    WireReader r(wire);
    r.skip(12);
    auto malformed = [&](const char* why) {
        res.failure = {ParseFailure::Kind::Malformed, m.id, m.flags, why};
        res.message.reset();
    };
    std::size_t questions = 0;
    for (std::uint16_t i = 0; i < qd; ++i) {
        if (questions == m.question.size()) {
            m.question.emplace_back(); // grows with what was read, never with QDCOUNT alone
        }
        Question& q = m.question[questions];
        Name::read_into(r, q.qname);
        q.qtype = r.u16();
        q.qclass = r.u16();
        if (!r.ok()) {
            malformed("malformed question");
            return res;
        }
        ++questions;
    }
    m.question.resize(questions);
    auto read_section = [&](std::uint16_t count, std::vector<ResourceRecord>& into,
                            bool additional) -> bool {
        for (std::uint16_t i = 0; i < count; ++i) {
            ResourceRecord rr;
            rr.name = Name::read(r);
            rr.type = r.u16();
            rr.rclass = r.u16();
            rr.ttl = r.u32();
            const std::uint16_t rdlen = r.u16();
            if (!r.ok() || rdlen > r.remaining()) {
                return false;
            }
            if (rr.type == rrtype::OPT) {
                // RFC 6891 §6.1.1: exactly one OPT, root owner, additional section only.
                if (!additional || m.edns || !rr.name.is_root()) {
                    return false;
                }
                Edns e;
                e.udp_size = rr.rclass;
                e.ext_rcode = static_cast<std::uint8_t>(rr.ttl >> 24);
                e.version = static_cast<std::uint8_t>((rr.ttl >> 16) & 0xFF);
                e.dnssec_ok = (rr.ttl & 0x8000) != 0;
                WireReader opts(r.bytes(rdlen));
                while (opts.ok() && opts.remaining() > 0) {
                    EdnsOption o;
                    o.code = opts.u16();
                    const std::uint16_t len = opts.u16();
                    const auto data = opts.bytes(len);
                    o.data.assign(reinterpret_cast<const char*>(data.data()), data.size());
                    e.options.push_back(std::move(o));
                }
                if (!opts.ok()) {
                    return false;
                }
                m.edns = std::move(e);
                continue;
            }
            rr.rdata = read_rdata(r, rr.type, rdlen);
            if (!r.ok()) {
                return false;
            }
            into.push_back(std::move(rr));
        }
        return true;
    };
    // A query has no records: the section reader is not entered at all.
    if ((an | ns | ar) != 0) {
        if (!read_section(an, m.answer, false)) {
            malformed("malformed answer section");
            return res;
        }
        if (!read_section(ns, m.authority, false)) {
            malformed("malformed authority section");
            return res;
        }
        if (!read_section(ar, m.additional, true)) {
            malformed("malformed additional section");
            return res;
        }
    }
    if (r.remaining() != 0 && !options.allow_trailing) {
        malformed("trailing bytes after the last record");
        return res;
    }
    res.trailing = r.remaining();
    return res;
}

namespace {
/// serialize() of a message whose upper bound `bound` fits in the size limit (nearly every
/// answer): nothing can be cut, so the sections are written record after record without the
/// RRset bookkeeping truncation needs, into a buffer that holds all of it, and the header's
/// counts are known from the start. The bytes are what the general path writes.
std::vector<std::uint8_t> serialize_whole(const Message& msg, std::size_t bound,
                                          std::vector<std::uint8_t> storage) {
    WireOut out(bound, std::move(storage));
    NameWriter names;
    out.u16(msg.id);
    out.u16(msg.flags);
    out.u16(static_cast<std::uint16_t>(msg.question.size()));
    out.u16(static_cast<std::uint16_t>(msg.answer.size()));
    out.u16(static_cast<std::uint16_t>(msg.authority.size()));
    out.u16(static_cast<std::uint16_t>(msg.additional.size() + (msg.edns ? 1 : 0)));
    for (const auto& q : msg.question) {
        names.write(out, q.qname);
        out.u16(q.qtype);
        out.u16(q.qclass);
    }
    for (const auto& rr : msg.answer) {
        write_rr<false>(out, names, rr);
    }
    for (const auto& rr : msg.authority) {
        write_rr<false>(out, names, rr);
    }
    for (const auto& rr : msg.additional) {
        write_rr<false>(out, names, rr);
    }
    if (msg.edns) {
        write_opt(out, *msg.edns, msg.rcode(), opt_length(*msg.edns));
    }
    return std::move(out).take();
}
} // namespace

std::vector<std::uint8_t> serialize(const Message& msg, std::size_t max_size) {
    return serialize(msg, max_size, {});
}

std::vector<std::uint8_t> serialize(const Message& msg, std::size_t max_size,
                                    std::vector<std::uint8_t> storage) {
    max_size = std::clamp<std::size_t>(max_size, 12, 65535);
    const std::size_t opt_size = msg.edns ? opt_length(*msg.edns) : 0;
    // The buffer is sized once: compression only shortens names, so the sum of the parts is
    // an upper bound of the whole; it is capped for messages far past the size limit (those
    // are cut anyway), where WireOut::need() grows it.
    std::size_t bound = 12 + opt_size + records_bound(msg.answer) + records_bound(msg.authority) +
                        records_bound(msg.additional);
    for (const auto& q : msg.question) {
        bound += name_bound(q.qname) + 4;
    }
    if (bound <= max_size) {
        return serialize_whole(msg, bound, std::move(storage));
    }
    WireOut out(std::min(bound, max_size + 1024), std::move(storage));
    NameWriter names;
    std::uint16_t flags = msg.flags;
    out.need(12);
    out.u16(msg.id);
    out.u16(flags);
    out.u16(static_cast<std::uint16_t>(msg.question.size()));
    out.u16(0);
    out.u32(0);
    for (const auto& q : msg.question) {
        out.need(name_bound(q.qname) + 4);
        names.write(out, q.qname);
        out.u16(q.qtype);
        out.u16(q.qclass);
    }
    const std::size_t budget = max_size > opt_size ? max_size - opt_size : 0;
    std::array<std::uint16_t, 3> counts{0, 0, 0};
    bool truncated = false;
    const std::array<const std::vector<ResourceRecord>*, 3> sections{&msg.answer, &msg.authority,
                                                                     &msg.additional};
    for (std::size_t s = 0; s < sections.size() && !truncated; ++s) {
        const auto& rrs = *sections[s];
        for (std::size_t start = 0, end = 0; start < rrs.size(); start = end) {
            end = rrset_end(rrs, start);
            const std::size_t mark = out.size();
            const std::size_t saved = names.mark();
            for (std::size_t i = start; i < end; ++i) {
                write_rr(out, names, rrs[i]);
            }
            if (out.size() > budget) {
                out.cut(mark);
                names.rewind(saved, out.size());
                if (s < 2) {
                    flags |= kFlagTc;
                }
                truncated = true;
                break;
            }
            counts[s] = static_cast<std::uint16_t>(counts[s] + (end - start));
        }
    }
    std::uint16_t arcount = counts[2];
    if (msg.edns) {
        write_opt(out, *msg.edns, msg.rcode(), opt_size);
        ++arcount;
    }
    out.set16(2, flags);
    out.set16(6, counts[0]);
    out.set16(8, counts[1]);
    out.set16(10, arcount);
    return std::move(out).take();
}

std::string address_text(const ResourceRecord& rr) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (rr.type == rrtype::A && rr.rdata.size() == 4) {
        inet_ntop(AF_INET, rr.rdata.data(), buf, sizeof buf);
        return buf;
    }
    if (rr.type == rrtype::AAAA && rr.rdata.size() == 16) {
        inet_ntop(AF_INET6, rr.rdata.data(), buf, sizeof buf);
        return buf;
    }
    return {};
}

std::optional<Name> rdata_target(const ResourceRecord& rr) {
    std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(rr.rdata.data()),
                                        rr.rdata.size());
    WireReader r(bytes);
    switch (rr.type) {
    case rrtype::CNAME:
    case rrtype::NS:
    case rrtype::PTR:
    case rrtype::DNAME:
        break;
    case rrtype::MX:
        r.skip(2);
        break;
    default:
        return std::nullopt;
    }
    Name n = Name::read(r);
    if (!r.ok()) {
        return std::nullopt;
    }
    return n;
}

std::string txt_text(const ResourceRecord& rr) {
    std::string out;
    std::size_t i = 0;
    while (i < rr.rdata.size()) {
        const auto len = static_cast<std::uint8_t>(rr.rdata[i]);
        out.append(rr.rdata, i + 1, std::min<std::size_t>(len, rr.rdata.size() - i - 1));
        i += 1 + len;
    }
    return out;
}

Message make_response(const Message& query, std::uint16_t rc, std::uint16_t our_udp_size,
                      std::vector<Question> question_storage) {
    Message m;
    m.id = query.id;
    m.flags = static_cast<std::uint16_t>(kFlagQr | (query.flags & (0x7800 | kFlagRd | kFlagCd)));
    m.question = std::move(question_storage);
    m.question = query.question; // assigned over: element by element, storage reused
    if (query.edns) {
        Edns e;
        e.udp_size = our_udp_size;
        e.dnssec_ok = query.edns->dnssec_ok; // RFC 3225 §3: DO is copied into the response
        m.edns = std::move(e);
    }
    m.set_rcode(rc);
    return m;
}

} // namespace resolver::wire
