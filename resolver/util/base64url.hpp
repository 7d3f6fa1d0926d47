// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace resolver::util {

/// base64url without padding (RFC 4648 §5), as RFC 8484 §4.1 requires for `?dns=`.
std::string base64url_encode(std::span<const std::uint8_t> bytes);
/// Inverse of base64url_encode. Trailing '=' padding is tolerated (some clients send it);
/// other characters, an impossible length or non-zero leftover bits give nullopt.
std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text);

/// Standard base64 with '=' padding (RFC 4648 §4), e.g. for the record bytes of the
/// gateway_dns `ResourceRecords` field.
std::string base64_encode(std::span<const std::uint8_t> bytes);

} // namespace resolver::util
