// SPDX-License-Identifier: MIT
#include "resolver/policy/tz.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

namespace resolver::policy {
namespace {

std::int64_t be(std::string_view s, std::size_t off, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v = (v << 8) | static_cast<unsigned char>(s[off + i]);
    }
    if (n == 4) {
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    }
    return static_cast<std::int64_t>(v);
}

} // namespace

Result<TimeZone> TimeZone::load(std::string_view name, std::string_view zoneinfo_dir) {
    TimeZone tz;
    tz.name_ = std::string(name);
    if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "GMT") {
        return tz;
    }
    if (name.find("..") != std::string_view::npos || name.front() == '/') {
        return fail(Errc::ConfigInvalid, "invalid time zone '" + std::string(name) + "'");
    }
    std::ifstream in(std::string(zoneinfo_dir) + "/" + std::string(name), std::ios::binary);
    if (!in) {
        return fail(Errc::ConfigInvalid, "unknown time zone '" + std::string(name) + "'");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(name, ss.str());
}

std::string TimeZone::underscored(std::string_view name) {
    if (name.find(' ') == std::string_view::npos) {
        return {};
    }
    std::string out(name);
    std::replace(out.begin(), out.end(), ' ', '_');
    return out;
}

Result<TimeZone> TimeZone::parse(std::string_view name, std::string_view s) {
    auto bad = [&] {
        return fail(Errc::ConfigInvalid, "time zone '" + std::string(name) + "': not a TZif file");
    };
    if (s.size() < 44 || s.substr(0, 4) != "TZif") {
        return bad();
    }
    auto header = [&](std::size_t at, std::size_t tsize, std::size_t& data_len,
                      std::array<std::int64_t, 6>& c) -> bool {
        if (s.size() < at + 44) {
            return false;
        }
        for (std::size_t i = 0; i < 6; ++i) {
            c[i] = be(s, at + 20 + i * 4, 4);
        }
        // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt (RFC 8536 §3.1)
        data_len = static_cast<std::size_t>(c[3]) * tsize + static_cast<std::size_t>(c[3]) +
                   static_cast<std::size_t>(c[4]) * 6 + static_cast<std::size_t>(c[5]) +
                   static_cast<std::size_t>(c[2]) * (tsize + 4) + static_cast<std::size_t>(c[1]) +
                   static_cast<std::size_t>(c[0]);
        return s.size() >= at + 44 + data_len;
    };
    std::array<std::int64_t, 6> c{};
    std::size_t len = 0;
    if (!header(0, 4, len, c)) {
        return bad();
    }
    std::size_t at = 0;
    std::size_t tsize = 4;
    if (s[4] >= '2') {
        at = 44 + len; // skip the v1 block; use the 64-bit data (RFC 8536 §3.2)
        tsize = 8;
        if (!header(at, 8, len, c)) {
            return bad();
        }
    }
    const auto timecnt = static_cast<std::size_t>(c[3]);
    const auto typecnt = static_cast<std::size_t>(c[4]);
    if (typecnt == 0) {
        return bad();
    }
    std::size_t p = at + 44;
    TimeZone tz;
    tz.name_ = std::string(name);
    std::vector<std::int64_t> times(timecnt);
    for (std::size_t i = 0; i < timecnt; ++i) {
        times[i] = be(s, p + i * tsize, tsize);
    }
    p += timecnt * tsize;
    std::vector<std::size_t> idx(timecnt);
    for (std::size_t i = 0; i < timecnt; ++i) {
        idx[i] = static_cast<unsigned char>(s[p + i]);
    }
    p += timecnt;
    std::vector<std::int32_t> utoff(typecnt);
    std::vector<bool> isdst(typecnt);
    for (std::size_t i = 0; i < typecnt; ++i) {
        utoff[i] = static_cast<std::int32_t>(be(s, p + i * 6, 4));
        isdst[i] = s[p + i * 6 + 4] != 0;
    }
    tz.initial_ = utoff[0];
    for (std::size_t i = 0; i < typecnt; ++i) {
        if (!isdst[i]) {
            tz.initial_ = utoff[i];
            break;
        }
    }
    for (std::size_t i = 0; i < timecnt; ++i) {
        if (idx[i] >= typecnt) {
            return bad();
        }
        tz.transitions_.push_back(times[i]);
        tz.offsets_.push_back(utoff[idx[i]]);
    }
    return tz;
}

std::int32_t TimeZone::offset_at(std::int64_t t) const {
    auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
    if (it == transitions_.begin()) {
        return initial_;
    }
    return offsets_[static_cast<std::size_t>(std::prev(it) - transitions_.begin())];
}

} // namespace resolver::policy
