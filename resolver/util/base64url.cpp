// SPDX-License-Identifier: MIT
#include "resolver/util/base64url.hpp"

#include <array>

namespace resolver::util {
namespace {

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The value of each base64url character, -1 for every other byte.
constexpr std::array<std::int8_t, 256> kUrlValues = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) {
        t[static_cast<unsigned char>(kUrlAlphabet[i])] = static_cast<std::int8_t>(i);
    }
    return t;
}();

std::string encode(std::span<const std::uint8_t> bytes, const char (&alphabet)[65], bool pad) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        if (rest == 2) {
            v |= std::uint32_t{bytes[i + 1]} << 8;
        }
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        if (rest == 2) {
            out += alphabet[(v >> 6) & 63];
        }
        if (pad) {
            out.append(3 - rest, '=');
        }
    }
    return out;
}

} // namespace

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
    return encode(bytes, kUrlAlphabet, false); // RFC 8484 §6: no '=' padding
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    return encode(bytes, kStdAlphabet, true);
}

std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') {
        text.remove_suffix(1);
    }
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    // Every DoH GET is decoded here: one table lookup per character, the output sized once
    // (n characters carry exactly n * 6 / 8 whole bytes).
    std::vector<std::uint8_t> out(text.size() * 3 / 4);
    std::size_t n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = kUrlValues[static_cast<unsigned char>(c)];
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = static_cast<std::uint8_t>((acc >> bits) & 0xFF);
        }
    }
    if ((acc & ((1U << bits) - 1)) != 0) {
        return std::nullopt; // non-canonical: leftover bits must be zero (RFC 4648 §3.5)
    }
    return out;
}

} // namespace resolver::util
