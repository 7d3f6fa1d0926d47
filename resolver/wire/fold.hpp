// SPDX-License-Identifier: MIT
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

// Case folding of DNS names eight octets at a time: names compare case-insensitively, and
// only the ASCII letters fold (RFC 4343 §3). The encoder and Name's comparison run for every
// answer, where an octet-by-octet loop was a large part of their cost.
namespace resolver::wire::fold {

/// Eight octets as one little-endian word: the first octet is the lowest byte.
inline std::uint64_t load8(const void* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) {
        v = __builtin_bswap64(v);
    }
    return v;
}

/// Lower-cases the ASCII letters among eight octets at once: 0x20 is set in every octet from
/// 'A' to 'Z' and nothing else changes. No octet's sum carries into the next.
inline std::uint64_t fold8(std::uint64_t x) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    const std::uint64_t low7 = x & ~kHigh;
    const std::uint64_t at_least_a = low7 + kOnes * (0x80 - 'A'); // high bit: >= 'A'
    const std::uint64_t above_z = low7 + kOnes * (0x7F - 'Z');    // high bit: > 'Z'
    const std::uint64_t upper = at_least_a & ~above_z & ~x & kHigh;
    return x | (upper >> 2);
}

/// Two words equal once folded; most are equal as they are (the same name in the same case).
inline bool same_word(std::uint64_t x, std::uint64_t y) noexcept {
    return x == y || fold8(x) == fold8(y);
}

/// The octets a[0..n) and b[0..n) equal once the letters of both are folded. Words overlap at
/// the end instead of a loop over the last octets.
inline bool equal(const char* a, const char* b, std::size_t n) noexcept {
    if (n >= 8) {
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            if (!same_word(load8(a + i), load8(b + i))) {
                return false;
            }
        }
        return i == n || same_word(load8(a + n - 8), load8(b + n - 8));
    }
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        if (x != y && (x | 0x20) != (y | 0x20)) {
            return false;
        }
        if (x != y && ((x | 0x20) < 'a' || (x | 0x20) > 'z')) {
            return false; // differ in 0x20 only, but not letters: '@' is not '`'
        }
    }
    return true;
}

} // namespace resolver::wire::fold
