// SPDX-License-Identifier: MIT
// The lab application catalogue and indicator feeds (catalogues.hpp). Loaded at startup and
// reload; every error names the file and the item.
#include "resolver/policy/catalogues.hpp"

#include <algorithm>
#include <exception>

#include "resolver/policy/domain_table.hpp"
#include "resolver/policy/export_json.hpp"

namespace resolver::policy {

using nlohmann::json;

namespace {

/// Runs `load(view, where)` on every item of an export, `where` naming the item and its id.
template <typename F>
Status each(const json& arr, std::string_view file, std::string_view noun, F&& load) {
    return each_item(arr, file, noun, [&](const json& element, std::size_t, std::string& where) {
        ObjectView o(element, "");
        if (auto id = o.integer("id")) {
            where += " (id " + std::to_string(*id) + ")";
        }
        return load(o, where);
    });
}

/// The normalised `domains` of one item, each checked.
Result<std::vector<std::string>> domains_of(const ObjectView& o, const std::string& where) {
    std::vector<std::string> out;
    const json* arr = o.array("domains");
    for (std::size_t i = 0; arr != nullptr && i < arr->size(); ++i) {
        std::string d = normalize_domain(string_element((*arr)[i], "domains", i));
        // "*.example.com" is how application domain lists are often written: the same as
        // "example.com" here, since a domain matches its subdomains anyway.
        if (d.rfind("*.", 0) == 0) {
            d.erase(0, 2);
        }
        if (d.empty() || d == "." || d.size() > 253 ||
            d.find_first_of(" */") != std::string::npos) {
            return fail(Errc::ConfigInvalid, where + ": domains[" + std::to_string(i) +
                                                 "]: not a domain name \"" + d + "\"");
        }
        out.push_back(std::move(d));
    }
    return out;
}

void add_unique(std::vector<std::size_t>& v, std::size_t i) {
    if (std::find(v.begin(), v.end(), i) == v.end()) {
        v.push_back(i);
    }
}

/// Calls f(suffix) for the name and each parent at a label boundary, longest first.
template <typename F>
void each_suffix(std::string_view name, F&& f) {
    while (!name.empty() && name != ".") {
        f(name);
        auto dot = name.find('.');
        if (dot == std::string_view::npos) {
            break;
        }
        name.remove_prefix(dot + 1);
    }
}

} // namespace

Status ApplicationCatalogue::add_json(std::string_view text, std::string_view file) {
    auto doc = parse_export_json(text, file, "application");
    if (!doc) {
        return doc.error();
    }
    const json* arr = unwrap(*doc, "result");
    if (arr == nullptr) {
        return fail(Errc::ConfigInvalid,
                    std::string(file) +
                        ": expected a JSON array of applications and "
                        "application types, or an API envelope {\"result\": [...]}");
    }
    return each(
        *arr, file, "application", [&](const ObjectView& o, const std::string& where) -> Status {
            const auto id = o.integer("id");
            if (!id) {
                return fail(Errc::ConfigInvalid, where + ": needs an integer \"id\"");
            }
            const std::string name = o.str("name");
            auto domains = domains_of(o, where);
            if (!domains) {
                return Status(domains.error());
            }
            const auto type_id = o.integer("application_type_id");
            if (!type_id) {
                if (!domains->empty()) {
                    return fail(Errc::ConfigInvalid,
                                where + ": has domains but no application_type_id (an item without "
                                        "one is an application type)");
                }
                type_names[*id] = name;
                return ok();
            }
            std::size_t at = apps.size();
            if (auto it = index_.find(*id); it != index_.end()) {
                at = it->second;
                if (!name.empty()) {
                    apps[at].name = name;
                }
                apps[at].type_id = *type_id;
            } else {
                index_[*id] = at;
                apps.push_back(App{*id, name, *type_id});
            }
            for (const auto& d : *domains) {
                add_unique(by_domain[d], at);
            }
            return ok();
        });
}

std::vector<std::int64_t> ApplicationCatalogue::lookup(std::string_view normal_name) const {
    std::vector<std::int64_t> out;
    if (by_domain.empty()) {
        return out;
    }
    each_suffix(normal_name, [&](std::string_view s) {
        auto it = by_domain.find(s);
        if (it == by_domain.end()) {
            return;
        }
        for (std::size_t i : it->second) {
            if (std::find(out.begin(), out.end(), apps[i].id) == out.end()) {
                out.push_back(apps[i].id);
            }
        }
    });
    return out;
}

const ApplicationCatalogue::App* ApplicationCatalogue::find(std::int64_t id) const {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &apps[it->second];
}

std::string ApplicationCatalogue::name_of(std::int64_t id) const {
    const App* a = find(id);
    return a != nullptr ? a->name : std::string();
}

std::int64_t ApplicationCatalogue::type_of(std::int64_t id) const {
    const App* a = find(id);
    return a != nullptr ? a->type_id : 0;
}

Status IndicatorFeeds::add_json(std::string_view text, std::string_view file) {
    auto doc = parse_export_json(text, file, "feed");
    if (!doc) {
        return doc.error();
    }
    const json* arr = unwrap(*doc, "feeds");
    if (arr == nullptr) {
        return fail(Errc::ConfigInvalid,
                    std::string(file) + ": expected {\"feeds\": [...]} or a JSON array of feeds");
    }
    return each(*arr, file, "feed", [&](const ObjectView& o, const std::string& where) -> Status {
        const auto id = o.integer("id");
        if (!id) {
            return fail(Errc::ConfigInvalid, where + ": needs an integer \"id\"");
        }
        for (const auto& f : feeds) {
            if (f.id == *id) {
                return fail(Errc::ConfigInvalid,
                            where + ": feed id " + std::to_string(*id) + " is given twice");
            }
        }
        auto domains = domains_of(o, where);
        if (!domains) {
            return Status(domains.error());
        }
        Feed feed{*id, o.str("name"), {}};
        if (const json* ips = o.array("ips")) {
            for (std::size_t i = 0; i < ips->size(); ++i) {
                const std::string t = string_element((*ips)[i], "ips", i);
                auto r = net::IpRange::parse_cidr(t);
                if (!r) {
                    return fail(Errc::ConfigInvalid, where + ": ips[" + std::to_string(i) +
                                                         "]: not an address or CIDR \"" + t + "\"");
                }
                feed.ips.push_back(*r);
            }
        }
        const std::size_t at = feeds.size();
        feeds.push_back(std::move(feed));
        for (const auto& d : *domains) {
            add_unique(by_domain[d], at);
        }
        return ok();
    });
}

std::vector<std::int64_t> IndicatorFeeds::lookup(std::string_view normal_name) const {
    std::vector<std::int64_t> out;
    if (by_domain.empty()) {
        return out;
    }
    each_suffix(normal_name, [&](std::string_view s) {
        auto it = by_domain.find(s);
        if (it != by_domain.end()) {
            for (std::size_t i : it->second) {
                out.push_back(feeds[i].id);
            }
        }
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::int64_t> IndicatorFeeds::lookup_ip(const net::IpAddr& ip) const {
    std::vector<std::int64_t> out;
    for (const auto& f : feeds) {
        if (std::any_of(f.ips.begin(), f.ips.end(),
                        [&](const net::IpRange& r) { return r.contains(ip); })) {
            out.push_back(f.id);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string IndicatorFeeds::name_of(std::int64_t id) const {
    for (const auto& f : feeds) {
        if (f.id == id) {
            return f.name;
        }
    }
    return {};
}

} // namespace resolver::policy
