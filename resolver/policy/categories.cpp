// SPDX-License-Identifier: MIT
#include "resolver/policy/categories.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "resolver/policy/csv.hpp"

namespace resolver::policy {

std::vector<std::string> split_csv_line(std::string_view line) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cur.push_back('"');
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cur.push_back(c);
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    out.push_back(std::move(cur));
    for (auto& f : out) {
        auto b = f.find_first_not_of(" \t");
        auto e = f.find_last_not_of(" \t");
        f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
    }
    return out;
}

std::vector<CategoryInfo> CategoryDb::builtin_ids() {
    struct Row {
        int id;
        int parent;
        const char* name;
    };
    static constexpr Row kRows[] = {
#include "resolver/policy/category_ids.inc"
    };
    std::vector<CategoryInfo> out;
    for (const auto& r : kRows) {
        out.push_back({r.id, r.parent, r.name});
    }
    return out;
}

Result<std::vector<CategoryInfo>> CategoryDb::parse_ids_csv(std::string_view csv) {
    std::vector<CategoryInfo> out;
    std::string err;
    bool header = true;
    for_each_line(csv, [&](std::size_t line_no, std::string_view line) {
        auto f = split_csv_line(line);
        if (header) {
            header = false;
            if (f.size() < 3 || f[0] != "id") {
                err = "line " + std::to_string(line_no) + ": expected header id,name,parent";
                return false;
            }
            return true;
        }
        CategoryInfo ci;
        // Whole fields only ("1x" is not 1); a parent is 0 (none) or an ID, as lookups add it.
        auto number = [](const std::string& field, int& value) {
            const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
            return ec == std::errc{} && p == field.data() + field.size();
        };
        if (f.size() < 3 || !number(f[0], ci.id) || !number(f[2], ci.parent) || ci.id <= 0 ||
            ci.id > 255 || ci.parent < 0 || ci.parent > 255) {
            err = "line " + std::to_string(line_no) +
                  ": expected id,name,parent with IDs 1-255 (parent 0 = none)";
            return false;
        }
        ci.name = f[1];
        out.push_back(std::move(ci));
        return true;
    });
    if (!err.empty()) {
        return fail(Errc::ConfigInvalid, err);
    }
    return out;
}

void CategoryDb::set_ids(std::vector<CategoryInfo> ids) {
    by_id_.assign(256, CategoryInfo{});
    for (auto& c : ids) {
        if (c.id > 0 && c.id < 256) {
            by_id_[static_cast<std::size_t>(c.id)] = std::move(c);
        }
    }
}

bool CategoryDb::add_domain(std::string_view domain, std::span<const std::uint8_t> ids) {
    return domains_.insert(normalize_domain(domain), ids);
}

namespace {

std::string_view trim_blanks(std::string_view f) {
    const auto b = f.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        return {};
    }
    return f.substr(b, f.find_last_not_of(" \t") - b + 1);
}

} // namespace

Status CategoryDb::add_csv(std::string_view csv) {
    if (by_id_.empty()) {
        set_ids(builtin_ids());
    }
    // A million rows: size the table once (one row per line is an upper bound) and reuse
    // the per-row buffers, so the loop neither rehashes nor allocates per row.
    const auto lines = static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')) + 1;
    domains_.reserve_more(lines, csv.size() + lines);
    std::string err;
    bool header = true;
    std::vector<std::string> quoted; // fields of a row that uses quotes (rare)
    std::vector<std::uint8_t> ids;
    std::string name;
    struct Unknown {
        std::size_t first_line = 0;
        std::size_t rows = 0;
    };
    std::array<Unknown, 256> unknown{}; // per ID not in the table
    for_each_line(csv, [&](std::size_t line_no, std::string_view line) {
        if (header) {
            auto f = split_csv_line(line);
            header = false;
            if (f.size() < 2 || f[0] != "domain" || f[1] != "categories") {
                err = "line " + std::to_string(line_no) + ": expected header domain,categories";
                return false;
            }
            return true;
        }
        // Two fields as views into the text; rows with quotes take the RFC 4180 splitter.
        std::string_view domain;
        std::string_view cats;
        bool two_fields = false;
        if (line.find('"') == std::string_view::npos) {
            const auto c1 = line.find(',');
            two_fields =
                c1 != std::string_view::npos && line.find(',', c1 + 1) == std::string_view::npos;
            if (two_fields) {
                domain = trim_blanks(line.substr(0, c1));
                cats = trim_blanks(line.substr(c1 + 1));
            }
        } else {
            quoted = split_csv_line(line);
            two_fields = quoted.size() == 2;
            if (two_fields) {
                domain = quoted[0];
                cats = quoted[1];
            }
        }
        if (!two_fields || domain.empty()) {
            err = "line " + std::to_string(line_no) + ": expected domain,categories";
            return false;
        }
        ids.clear();
        std::string_view rest = cats;
        while (!rest.empty()) {
            auto sp = rest.find(' ');
            auto tok = rest.substr(0, sp);
            rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
            if (tok.empty()) {
                continue;
            }
            int id = 0;
            auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), id);
            if (ec != std::errc{} || p != tok.data() + tok.size() || id <= 0 || id > 255) {
                err = "line " + std::to_string(line_no) + ": bad category ID '" + std::string(tok) +
                      "'";
                return false;
            }
            if (auto& u = unknown[static_cast<std::size_t>(id)]; !known(id) && u.rows++ == 0) {
                u.first_line = line_no;
            }
            ids.push_back(static_cast<std::uint8_t>(id));
        }
        if (auto r = net::IpRange::parse_cidr(domain)) {
            ips_.emplace_back(*r, ids);
            return true;
        }
        normalize_domain(domain, name);
        if (!domains_.insert(name, ids)) {
            err = "line " + std::to_string(line_no) + ": bad domain '" + std::string(domain) + "'";
            return false;
        }
        return true;
    });
    if (!err.empty()) {
        return fail(Errc::ConfigInvalid, err);
    }
    for (std::size_t id = 1; id < unknown.size(); ++id) {
        if (const auto& u = unknown[id]; u.rows != 0) {
            warnings_.push_back("line " + std::to_string(u.first_line) + ": category ID " +
                                std::to_string(id) + " is not in the category table (" +
                                std::to_string(u.rows) +
                                " row(s)); kept: rules match it, the log names it \"\"");
        }
    }
    return ok();
}

void CategoryDb::expand_append(std::span<const std::uint8_t> ids,
                               std::vector<std::int64_t>& out) const {
    for (auto id : ids) {
        out.push_back(id);
        int parent = parent_of(id);
        if (parent != 0) {
            out.push_back(parent);
        }
    }
}

std::vector<std::int64_t> CategoryDb::expand(std::span<const std::uint8_t> ids) const {
    std::vector<std::int64_t> out;
    out.reserve(ids.size() * 2);
    expand_append(ids, out);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::int64_t> CategoryDb::lookup(std::string_view name) const {
    auto hit = domains_.find_closest(name);
    if (!hit) {
        return {};
    }
    return expand(hit->values);
}

void CategoryDb::lookup_append(std::string_view name, std::vector<std::int64_t>& out) const {
    if (auto hit = domains_.find_closest(name)) {
        expand_append(hit->values, out);
    }
}

void CategoryDb::lookup_ip_append(const net::IpAddr& ip, std::vector<std::int64_t>& out) const {
    for (const auto& [range, ids] : ips_) {
        if (range.contains(ip)) {
            expand_append(ids, out);
            return;
        }
    }
}

std::vector<std::int64_t> CategoryDb::lookup_ip(const net::IpAddr& ip) const {
    for (const auto& [range, ids] : ips_) {
        if (range.contains(ip)) {
            return expand(ids);
        }
    }
    return {};
}

int CategoryDb::parent_of(std::int64_t id) const {
    if (id <= 0 || static_cast<std::size_t>(id) >= by_id_.size()) {
        return 0;
    }
    return by_id_[static_cast<std::size_t>(id)].parent;
}

bool CategoryDb::known(std::int64_t id) const {
    return id > 0 && static_cast<std::size_t>(id) < by_id_.size() &&
           by_id_[static_cast<std::size_t>(id)].id != 0;
}

bool CategoryDb::is_security(std::int64_t id) const {
    const int top = parent_of(id) != 0 ? parent_of(id) : static_cast<int>(id);
    return top == 21 || top == 32;
}

std::string CategoryDb::name_of(std::int64_t id) const {
    if (id <= 0 || static_cast<std::size_t>(id) >= by_id_.size()) {
        return {};
    }
    return by_id_[static_cast<std::size_t>(id)].name;
}

} // namespace resolver::policy
