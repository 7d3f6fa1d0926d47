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
    // Every DoH GET is decoded here: four characters (one table lookup each) into three bytes
    // per step, the output sized once (n characters carry exactly n * 6 / 8 whole bytes).
    std::vector<std::uint8_t> out(text.size() * 3 / 4);
    const auto value = [&](std::size_t i) {
        return std::int32_t{kUrlValues[static_cast<unsigned char>(text[i])]};
    };
    std::size_t i = 0;
    std::size_t n = 0;
    for (; i + 4 <= text.size(); i += 4) {
        const std::int32_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
        if ((a | b | c | d) < 0) {
            return std::nullopt;
        }
        const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
        out[n++] = static_cast<std::uint8_t>(v >> 16);
        out[n++] = static_cast<std::uint8_t>(v >> 8);
        out[n++] = static_cast<std::uint8_t>(v);
    }
    if (const std::size_t rest = text.size() - i; rest > 0) { // 2 or 3 characters
        const std::int32_t a = value(i), b = value(i + 1), c = rest == 3 ? value(i + 2) : 0;
        if ((a | b | c) < 0) {
            return std::nullopt;
        }
        // Non-canonical: the bits after the last whole byte must be zero (RFC 4648 §3.5).
        if ((rest == 2 ? (b & 0x0F) : (c & 0x03)) != 0) {
            return std::nullopt;
        }
        const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6));
        out[n++] = static_cast<std::uint8_t>(v >> 16);
        if (rest == 3) {
            out[n++] = static_cast<std::uint8_t>(v >> 8);
        }
    }
    return out;
}

} // namespace resolver::util
