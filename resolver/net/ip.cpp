// SPDX-License-Identifier: MIT
#include "resolver/net/ip.hpp"

#include "resolver/net/transport.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace resolver::net {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
    if (text.empty() || text.size() > 45) {
        return std::nullopt;
    }
    char buf[64];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddr a;
    if (text.find(':') == std::string_view::npos) {
        std::uint8_t v4[4];
        if (inet_pton(AF_INET, buf, v4) != 1) {
            return std::nullopt;
        }
        a.bytes[10] = 0xff;
        a.bytes[11] = 0xff;
        std::memcpy(a.bytes.data() + 12, v4, 4);
        a.v4 = true;
        return a;
    }
    if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) {
        return std::nullopt;
    }
    return a;
}

std::string_view format_ip(const IpAddr& ip, IpText& buf) noexcept {
    static_assert(sizeof(IpText) >= INET6_ADDRSTRLEN);
    const char* out = ip.v4 ? inet_ntop(AF_INET, ip.bytes.data() + 12, buf.data(), buf.size())
                            : inet_ntop(AF_INET6, ip.bytes.data(), buf.data(), buf.size());
    return out == nullptr ? std::string_view() : std::string_view(out);
}

std::string IpAddr::to_string() const {
    IpText buf;
    return std::string(format_ip(*this, buf));
}

std::optional<IpRange> IpRange::parse_cidr(std::string_view text) {
    auto slash = text.find('/');
    auto addr = IpAddr::parse(text.substr(0, slash));
    if (!addr) {
        return std::nullopt;
    }
    int family_bits = addr->v4 ? 32 : 128;
    int len = family_bits;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
        if (ec != std::errc{} || p != digits.data() + digits.size() || len < 0 ||
            len > family_bits) {
            return std::nullopt;
        }
    }
    IpRange r;
    r.prefix_len = len;
    int bits = addr->v4 ? len + 96 : len;
    r.lo = *addr;
    r.hi = *addr;
    for (int i = 0; i < 128; ++i) {
        if (i < bits) {
            continue;
        }
        auto byte = static_cast<std::size_t>(i / 8);
        auto mask = static_cast<std::uint8_t>(0x80U >> (i % 8));
        r.lo.bytes[byte] = static_cast<std::uint8_t>(r.lo.bytes[byte] & ~mask);
        r.hi.bytes[byte] = static_cast<std::uint8_t>(r.hi.bytes[byte] | mask);
    }
    return r;
}

void IpSet::seal() {
    std::sort(ranges_.begin(), ranges_.end(),
              [](const IpRange& a, const IpRange& b) { return a.lo < b.lo; });
    std::vector<IpRange> merged;
    for (const auto& r : ranges_) {
        if (!merged.empty() && r.lo <= merged.back().hi) {
            merged.back().hi = std::max(merged.back().hi, r.hi);
        } else {
            merged.push_back(r);
        }
    }
    ranges_ = std::move(merged);
}

bool IpSet::contains(const IpAddr& a) const noexcept {
    // First range whose lo is greater than `a`; the candidate is the one before it.
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), a,
                               [](const IpAddr& x, const IpRange& r) { return x < r.lo; });
    if (it == ranges_.begin()) {
        return false;
    }
    return std::prev(it)->contains(a);
}

} // namespace resolver::net
