// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"

namespace resolver::policy {

/// UTC offsets of one IANA zone, read from a TZif file (RFC 8536) at load time so that
/// evaluation stays pure. g++ 12's libstdc++ has no std::chrono::locate_zone (checked), and
/// localtime_r with a TZ environment variable is process-global state, so we parse the
/// system tz database ourselves. Times after the last transition use the last offset: the
/// Debian tzdata files are "fat" (transitions listed to 2037), so this is exact until then.
class TimeZone {
public:
    /// Loads `<zoneinfo_dir>/<name>` ("Europe/Paris"); "UTC"/"" need no file.
    static Result<TimeZone> load(std::string_view name,
                                 std::string_view zoneinfo_dir = "/usr/share/zoneinfo");
    /// The tz database name a `time_zone` written with spaces means: every space an
    /// underscore ("America/New York", the Terraform provider's own example, is
    /// "America/New_York"). "" when `name` has no space.
    static std::string underscored(std::string_view name);
    /// Parses TZif bytes (v1, v2 or v3).
    static Result<TimeZone> parse(std::string_view name, std::string_view tzif);
    /// Offset from UTC in seconds at unix time `t`.
    [[nodiscard]] std::int32_t offset_at(std::int64_t t) const;
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
    std::vector<std::int64_t> transitions_;
    std::vector<std::int32_t> offsets_; // offset in force from transitions_[i]
    std::int32_t initial_ = 0;          // before the first transition
};

} // namespace resolver::policy
