// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resolver::net {

/// An IPv4 or IPv6 address. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so
/// that ordering, ranges and CIDRs work on one 128-bit representation; `v4` remembers the family.
struct IpAddr {
    std::array<std::uint8_t, 16> bytes{};
    bool v4 = false;

    /// Parses "192.0.2.1" or "2001:db8::1" (no brackets, no zone). nullopt when not an address.
    static std::optional<IpAddr> parse(std::string_view text);
    /// From 4 or 16 raw bytes (A/AAAA RDATA); nullopt on any other length.
    static std::optional<IpAddr> from_bytes(std::string_view raw) {
        IpAddr a;
        if (raw.size() == 4) { // IPv4 held as ::ffff:a.b.c.d
            a.bytes[10] = 0xff;
            a.bytes[11] = 0xff;
            std::memcpy(a.bytes.data() + 12, raw.data(), 4);
            a.v4 = true;
            return a;
        }
        if (raw.size() == 16) {
            std::memcpy(a.bytes.data(), raw.data(), 16);
            return a;
        }
        return std::nullopt;
    }
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const IpAddr& a, const IpAddr& b) noexcept { return a.bytes == b.bytes; }
    friend auto operator<=>(const IpAddr& a, const IpAddr& b) noexcept {
        return a.bytes <=> b.bytes;
    }
};

/// An inclusive address range; a CIDR is one too. IPv4 prefixes count from bit 96.
struct IpRange {
    IpAddr lo;
    IpAddr hi;
    /// Parses "a.b.c.d", "a.b.c.d/nn", "x::/nn". Host bits set in a CIDR are ignored (masked).
    static std::optional<IpRange> parse_cidr(std::string_view text);
    [[nodiscard]] bool contains(const IpAddr& a) const noexcept { return lo <= a && a <= hi; }
    /// Prefix length in the address's own family (32 for a single IPv4), for longest-prefix ties.
    int prefix_len = 128;
};

/// An immutable set of addresses built from ranges: sorted, merged, binary-searched.
class IpSet {
public:
    void add(const IpRange& r) { ranges_.push_back(r); }
    /// Sorts and merges; call once after the last add().
    void seal();
    [[nodiscard]] bool contains(const IpAddr& a) const noexcept;
    [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return ranges_.size(); }
    /// The ranges, sorted by `lo` and without overlaps once sealed (the rule index reads them).
    [[nodiscard]] std::span<const IpRange> ranges() const noexcept { return ranges_; }

private:
    std::vector<IpRange> ranges_;
};

} // namespace resolver::net
