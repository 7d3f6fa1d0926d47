// SPDX-License-Identifier: MIT
#include "resolver/log/event_log.hpp"

#include <cstdio>
#include <ctime>

namespace resolver::log {

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    // Floor division, so an instant before 1970 still gets a millisecond field in 0..999.
    const std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    const auto frac = static_cast<int>(ms - secs * 1000);
    const auto tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

JsonWriter& begin_event(JsonWriter& w, std::string_view name,
                        std::chrono::system_clock::time_point at) {
    return w.begin_object().field("Datetime", rfc3339_ms(at)).field("LabEvent", name);
}

} // namespace resolver::log
