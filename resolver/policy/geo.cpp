// SPDX-License-Identifier: MIT
#include "resolver/policy/geo.hpp"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "resolver/policy/csv.hpp"

namespace resolver::policy {

namespace {

struct Continent {
    std::string_view code;
    std::string_view name;
};
constexpr Continent kContinents[] = {
    {"AF", "Africa"},        {"AN", "Antarctica"}, {"AS", "Asia"},          {"EU", "Europe"},
    {"NA", "North America"}, {"OC", "Oceania"},    {"SA", "South America"}, {"T1", "Tor network"},
};

} // namespace

std::string_view continent_name(std::string_view code) {
    for (const auto& c : kContinents) {
        if (c.code == code) {
            return c.name;
        }
    }
    return {};
}

std::string_view continent_code(std::string_view name) {
    for (const auto& c : kContinents) {
        if (c.name == name) {
            return c.code;
        }
    }
    return {};
}

void GeoDb::MmdbDeleter::operator()(MMDB_s* m) const {
    MMDB_close(m);
    delete m;
}

GeoDb::GeoDb() = default;
GeoDb::~GeoDb() = default;
GeoDb::GeoDb(GeoDb&&) noexcept = default;
GeoDb& GeoDb::operator=(GeoDb&&) noexcept = default;

Status GeoDb::add_csv(std::string_view csv) {
    std::string err;
    bool header = true;
    for_each_line(csv, [&](std::size_t line_no, std::string_view line) {
        auto f = split_csv_line(line);
        if (header) {
            header = false;
            if (f.size() < 3 || f[0] != "cidr") {
                err =
                    "line " + std::to_string(line_no) + ": expected header cidr,country,continent";
                return false;
            }
            return true;
        }
        auto r = f.size() == 3 ? net::IpRange::parse_cidr(f[0]) : std::nullopt;
        if (!r) {
            err = "line " + std::to_string(line_no) + ": expected cidr,country,continent";
            return false;
        }
        rows_.push_back({*r, {f[1], f[2]}});
        return true;
    });
    if (!err.empty()) {
        return fail(Errc::ConfigInvalid, err);
    }
    std::stable_sort(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
        auto la = a.range.lo.v4 ? a.range.prefix_len + 96 : a.range.prefix_len;
        auto lb = b.range.lo.v4 ? b.range.prefix_len + 96 : b.range.prefix_len;
        return la > lb;
    });
    return ok();
}

Status GeoDb::open_mmdb(const std::string& path) {
    auto m = std::unique_ptr<MMDB_s, MmdbDeleter>(new MMDB_s{});
    int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, m.get());
    if (rc != MMDB_SUCCESS) {
        // MMDB_open leaves nothing to close on failure.
        delete m.release();
        return fail(Errc::ConfigInvalid, path + ": " + MMDB_strerror(rc));
    }
    mmdb_ = std::move(m);
    return ok();
}

GeoInfo GeoDb::lookup(const net::IpAddr& ip) const {
    for (const auto& r : rows_) {
        if (r.range.contains(ip)) {
            return r.info;
        }
    }
    GeoInfo out;
    if (!mmdb_) {
        return out;
    }
    sockaddr_storage ss{};
    if (ip.v4) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, ip.bytes.data() + 12, 4);
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
    }
    int mmdb_error = 0;
    MMDB_lookup_result_s res =
        MMDB_lookup_sockaddr(mmdb_.get(), reinterpret_cast<sockaddr*>(&ss), &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !res.found_entry) {
        return out;
    }
    MMDB_entry_data_s data{};
    if (MMDB_get_value(&res.entry, &data, "country", "iso_code", nullptr) == MMDB_SUCCESS &&
        data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING) {
        out.country.assign(data.utf8_string, data.data_size);
    }
    if (MMDB_get_value(&res.entry, &data, "continent", "code", nullptr) == MMDB_SUCCESS &&
        data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING) {
        out.continent.assign(data.utf8_string, data.data_size);
    }
    return out;
}

} // namespace resolver::policy
