// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

// One hash for the hot path's short keys (a lowered name, a route, a decision key): wyhash-
// style mixing (github.com/wangyi-fudan/wyhash), 16 bytes per 64x64->128 multiply folded to 64
// bits. The tables it feeds compare every key in full, so a collision costs a comparison,
// never a wrong answer, and no keyed hash is needed.
namespace resolver::util {

inline constexpr std::uint64_t kHashSeed = 0xa0761d6478bd642fULL;

/// Folds two words into one.
inline std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b) noexcept {
    __extension__ using U128 = unsigned __int128;
    constexpr std::uint64_t kSecret1 = 0xe7037ed1a0b428dbULL;
    constexpr std::uint64_t kSecret2 = 0x8ebc6af09c88c6e3ULL;
    const U128 p = static_cast<U128>(a ^ kSecret1) * (b ^ kSecret2);
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

/// sizeof(T) octets at `p`, unaligned.
template <typename T>
std::uint64_t hash_load(const void* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

/// `h` extended by the octets of `s` in one pass; the caller hashes the length (a key with
/// several texts folds their lengths into one word). Short tails are read as overlapping
/// words, as wyhash does, so no octet is copied.
inline std::uint64_t hash_text(std::uint64_t h, std::string_view s) noexcept {
    const char* p = s.data();
    std::size_t n = s.size();
    for (; n > 16; n -= 16, p += 16) {
        h = hash_mix(hash_load<std::uint64_t>(p) ^ h, hash_load<std::uint64_t>(p + 8));
    }
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n >= 8) {
        a = hash_load<std::uint64_t>(p);
        b = hash_load<std::uint64_t>(p + n - 8);
    } else if (n >= 4) {
        a = hash_load<std::uint32_t>(p);
        b = hash_load<std::uint32_t>(p + n - 4);
    } else if (n > 0) {
        a = static_cast<std::uint64_t>(static_cast<std::uint8_t>(p[0])) << 16 |
            static_cast<std::uint64_t>(static_cast<std::uint8_t>(p[n / 2])) << 8 |
            static_cast<std::uint8_t>(p[n - 1]);
    } else {
        return h;
    }
    return hash_mix(a ^ h, b ^ n);
}

/// Whether two key parts without padding hold the same bytes: word by word without a branch,
/// cheaper than a memcmp call for the fixed parts of the hot path's keys.
template <typename T>
bool same_bytes(const T& a, const T& b) noexcept {
    static_assert(std::has_unique_object_representations_v<T> && sizeof(T) % 8 == 0,
                  "padding would make a byte comparison wrong; words are read whole");
    const auto* pa = reinterpret_cast<const unsigned char*>(&a);
    const auto* pb = reinterpret_cast<const unsigned char*>(&b);
    std::uint64_t diff = 0;
    for (std::size_t i = 0; i < sizeof a; i += 8) {
        diff |= hash_load<std::uint64_t>(pa + i) ^ hash_load<std::uint64_t>(pb + i);
    }
    return diff == 0;
}

} // namespace resolver::util
