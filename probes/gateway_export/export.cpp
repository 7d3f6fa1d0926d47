// SPDX-License-Identifier: MIT
// `dnslab-probe gateway-export`: a customer's Gateway configuration from the Cloudflare API
// into a folder the lab loads as it is.
#include "probes/gateway_export/export.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <ostream>
#include <regex>

#include "probes/gateway_export/https_client.hpp"
#include "resolver/util/url.hpp"

namespace probes::gateway_export {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json; // keeps the API's key order in the files written
using resolver::Errc;
using resolver::fail;

namespace {

constexpr int kExitWritten = 0;
constexpr int kExitApi = 1;
constexpr int kExitUsage = 2;
constexpr const char* kVersion = "dnslab-probe 0.1.0";

/// Account and list IDs go into URL paths: only the characters Cloudflare's IDs use (hex
/// account tags, UUIDs), so no ID can change the path or the query.
bool safe_id(const std::string& id) {
    static const std::regex kId("[A-Za-z0-9_-]{1,64}");
    return std::regex_match(id, kId);
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/// The file shape the resolver's loaders read: the API's own envelope around `result`.
std::string envelope(const json& result) {
    json env = {{"success", true},
                {"errors", json::array()},
                {"messages", json::array()},
                {"result", result}};
    return env.dump(2) + "\n";
}

std::string csv_field(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    if (s.find_first_of(",\"") == std::string::npos) {
        return s;
    }
    std::string out = "\"";
    for (char c : s) {
        out += c == '"' ? "\"\"" : std::string(1, c); // RFC 4180 §2.7
    }
    return out + "\"";
}

/// A TOML basic string (TOML 1.0: quote, backslash and control characters escaped).
std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::int64_t id_of(const json& o) {
    auto it = o.find("id");
    if (it == o.end()) {
        return -1;
    }
    if (it->is_number_integer()) {
        return it->get<std::int64_t>();
    }
    if (it->is_string()) {
        char* end = nullptr;
        const std::string s = it->get<std::string>();
        const long long v = std::strtoll(s.c_str(), &end, 10);
        return (end != nullptr && *end == '\0' && !s.empty()) ? v : -1;
    }
    return -1;
}

struct CategoryCounts {
    std::size_t parents = 0, subcategories = 0;
};

/// `id,name,parent` rows (the resolver's `[policy] category_ids`) from the categories call:
/// parents with their `subcategories[]`.
std::string category_csv(const json& cats, CategoryCounts& counts,
                         std::vector<std::string>& warnings) {
    std::map<std::int64_t, std::pair<std::string, std::int64_t>> rows; // id -> name, parent
    auto add = [&](const json& c, std::int64_t parent) {
        const std::int64_t id = id_of(c);
        const std::string name = c.value("name", std::string());
        if (id < 1 || id > 255) { // the lab's category table holds IDs 1-255
            warnings.push_back("category " + std::to_string(id) + " \"" + name +
                               "\" is outside the lab's ID range 1-255: not in category_ids.csv");
            return false;
        }
        rows[id] = {name, parent};
        return true;
    };
    for (const auto& c : cats) {
        if (!c.is_object() || !add(c, 0)) {
            continue;
        }
        ++counts.parents;
        if (auto subs = c.find("subcategories"); subs != c.end() && subs->is_array()) {
            for (const auto& s : *subs) {
                if (s.is_object() && add(s, id_of(c))) {
                    ++counts.subcategories;
                }
            }
        }
    }
    std::string out = "id,name,parent\n";
    for (const auto& [id, row] : rows) {
        out += std::to_string(id) + "," + csv_field(row.first) + "," + std::to_string(row.second) +
               "\n";
    }
    return out;
}

std::string policy_toml(const ExportMeta& meta, const std::string& table_prefix) {
    return "[" + table_prefix +
           "policy]\n"
           "rules = \"rules.json\"\n"
           "lists = \"lists.json\"\n"
           "locations = \"locations.json\"\n"
           "category_ids = \"category_ids.csv\"\n"
           // Application names and IDs for the log; the domains app.ids match on come from a
           // lab catalogue (`applications`, fixtures/applications/README.md).
           "app_types = \"app_types.json\"\n\n"
           "[" +
           table_prefix +
           "log]\n"
           "account_id = " +
           toml_string(meta.account) + "\n";
}

std::string resolver_toml(const ExportMeta& meta) {
    return "# dnslab-resolver --config resolver.toml --upstream URL: the exported account's "
           "policy.\n"
           "# Written by dnslab-probe gateway-export (docs/gateway-export.md).\n" +
           policy_toml(meta, "");
}

std::string scenario_toml(const ExportMeta& meta) {
    return "# A scenario around the export (docs/scenarios.md): add fixture zones to zones/ and "
           "an\n"
           "# expect.toml for `scenario run`, or replay the account's Logpush files through it:\n"
           "#   dnslab-probe replay gateway_dns.log.gz --scenario .\n"
           "description = " +
           toml_string("Gateway export of account " + meta.account + " taken " +
                       rfc3339(meta.created)) +
           "\n\n[lab]\nupstream = [\"fixture:zones?ra=1\"]\n\n" + policy_toml(meta, "lab.");
}

json manifest(const Fetched& f, const ExportMeta& meta, const CategoryCounts& cats,
              const std::vector<OutputFile>& files, const std::vector<std::string>& warnings) {
    std::size_t dns = 0, resolver = 0;
    for (const auto& r : f.rules.items) {
        const auto filters = r.value("filters", json::array());
        const auto has = [&](const char* x) {
            return std::find(filters.begin(), filters.end(), x) != filters.end();
        };
        dns += has("dns") ? 1 : 0;
        resolver += has("dns_resolver") ? 1 : 0;
    }
    std::size_t apps = 0;
    for (const auto& a : f.app_types.items) {
        apps += a.contains("application_type_id") ? 1 : 0;
    }
    std::vector<std::string> versions;
    if (!meta.api_path_version.empty()) {
        versions.push_back(meta.api_path_version);
    }
    versions.insert(versions.end(), f.api_versions.begin(), f.api_versions.end());
    json list = json::array();
    for (const auto& file : files) {
        list.push_back({{"path", file.path}, {"size", file.content.size()}});
    }
    return {{"schema", "dnslab.gateway-export.v1"},
            {"created", rfc3339(meta.created)},
            {"tool", kVersion},
            {"account_id", meta.account},
            {"api_base", meta.api_base},
            {"api_versions_seen", versions},
            {"counts",
             {{"rules", f.rules.items.size()},
              {"dns_rules", dns},
              {"resolver_rules", resolver},
              {"locations", f.locations.items.size()},
              {"lists", f.lists.items.size()},
              {"list_items", f.list_items},
              {"categories", cats.parents},
              {"subcategories", cats.subcategories},
              {"applications", apps},
              {"application_types", f.app_types.items.size() - apps}}},
            {"requests", f.requests},
            {"pages",
             {{"rules", f.rules.pages},
              {"locations", f.locations.pages},
              {"lists", f.lists.pages},
              {"list_items", f.item_pages},
              {"categories", f.categories.pages},
              {"app_types", f.app_types.pages}}},
            {"files", list},
            {"warnings", warnings}};
}

/// "v4" from a base path such as "/client/v4".
std::string path_version(const std::string& path) {
    static const std::regex kV("(^|/)(v[0-9]+)(/|$)");
    std::smatch m;
    return std::regex_search(path, m, kV) ? m[2].str() : "";
}

struct Base {
    std::string host;
    std::uint16_t port = 443;
    std::string path; // without a trailing '/'
};

resolver::Result<Base> parse_base(const std::string& text) {
    auto url = resolver::util::parse_url(text);
    if (!url) {
        return fail(Errc::ConfigInvalid, "--api-base: " + url.error().detail);
    }
    if (url->scheme != "https") {
        // The token is a bearer credential: it never travels in clear text.
        return fail(Errc::ConfigInvalid, "--api-base must be an https:// URL, not " + text);
    }
    if (!url->params.empty() || url->host.empty()) {
        return fail(Errc::ConfigInvalid, "--api-base takes scheme, host, port and path only");
    }
    Base b{url->host, url->port_or(443), url->path};
    while (!b.path.empty() && b.path.back() == '/') {
        b.path.pop_back();
    }
    return b;
}

/// Why the output folder cannot be used, or "".
std::string out_problem(const fs::path& out) {
    std::error_code ec;
    if (!fs::exists(out, ec)) {
        return fs::exists(out.parent_path().empty() ? fs::path(".") : out.parent_path(), ec)
                   ? ""
                   : out.parent_path().string() + " does not exist";
    }
    if (!fs::is_directory(out, ec) || !fs::is_empty(out, ec)) {
        return out.string() + " exists and is not an empty folder";
    }
    return "";
}

} // namespace

resolver::Result<Fetched> fetch_export(const Getter& get_raw, const std::string& base_path,
                                       const std::string& account) {
    Fetched f;
    const Getter get = [&](const std::string& target) {
        ++f.requests;
        auto r = get_raw(target);
        if (r) {
            if (const std::string* v = r->header("api-version")) {
                f.api_versions.insert(*v);
            }
        }
        return r;
    };
    const std::string acct = base_path + "/accounts/" + account;
    auto fetch = [&](const std::string& path, Collection& into, bool flatten = false) {
        auto c = fetch_collection(get, acct + path, flatten);
        if (c) {
            into = std::move(c).value();
            return resolver::ok();
        }
        return resolver::Status(c.error());
    };
    for (auto [path, into] :
         {std::pair{"/gateway/rules", &f.rules}, std::pair{"/gateway/locations", &f.locations},
          std::pair{"/gateway/lists", &f.lists}}) {
        if (auto st = fetch(path, *into); !st) {
            return st.error();
        }
    }
    for (auto& list : f.lists.items) {
        const std::string id = list.is_object() ? list.value("id", std::string()) : "";
        if (!safe_id(id)) {
            return fail(Errc::UpstreamFailure, "GET " + acct +
                                                   "/gateway/lists: a list without a usable id: " +
                                                   list.dump().substr(0, 200));
        }
        Collection items;
        if (auto st = fetch("/gateway/lists/" + id + "/items", items, true); !st) {
            return st.error();
        }
        if (auto count = list.find("count"); count != list.end() && count->is_number() &&
                                             count->get<double>() != items.items.size()) {
            return fail(Errc::UpstreamFailure,
                        "list " + id + " (\"" + list.value("name", std::string()) +
                            "\"): the lists call says " + count->dump() +
                            " items, its items call returned " +
                            std::to_string(items.items.size()) +
                            " (the list changed during the export? run it again)");
        }
        f.list_items += items.items.size();
        f.item_pages += items.pages;
        list["items"] = std::move(items.items);
    }
    for (auto [path, into] : {std::pair{"/gateway/categories", &f.categories},
                              std::pair{"/gateway/app_types", &f.app_types}}) {
        if (auto st = fetch(path, *into); !st) {
            return st.error();
        }
    }
    return f;
}

std::vector<OutputFile> build_files(const Fetched& f, const ExportMeta& meta,
                                    std::vector<std::string>& warnings) {
    CategoryCounts cats;
    std::vector<OutputFile> files = {
        {"rules.json", envelope(f.rules.items)},
        {"lists.json", envelope(f.lists.items)},
        {"locations.json", envelope(f.locations.items)},
        {"categories.json", envelope(f.categories.items)},
        {"category_ids.csv", category_csv(f.categories.items, cats, warnings)},
        {"app_types.json", envelope(f.app_types.items)},
        {"resolver.toml", resolver_toml(meta)},
        {"scenario.toml", scenario_toml(meta)},
        {"zones/README.md",
         "Fixture zones (`*.zone`) for `scenario run`; `replay` adds zones built from the log.\n"},
        {"README.md", "Gateway export of account " + meta.account + ", taken " +
                          rfc3339(meta.created) + " by `dnslab-probe gateway-export` from " +
                          meta.api_base + ".\n\nReproduces: (the customer's symptom)\n"},
    };
    files.push_back({"manifest.json", manifest(f, meta, cats, files, warnings).dump(2) + "\n"});
    return files;
}

resolver::Status write_folder(const fs::path& out, const std::vector<OutputFile>& files) {
    const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    std::string tmpl = (parent / (out.filename().string() + ".partial-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        return fail(Errc::ConfigInvalid, "cannot create a folder next to " + out.string());
    }
    const fs::path tmp = tmpl;
    auto abandon = [&](const std::string& why) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        return fail(Errc::ConfigInvalid, why);
    };
    for (const auto& file : files) {
        const fs::path p = tmp / file.path;
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        std::ofstream o(p, std::ios::binary);
        o << file.content;
        o.close();
        if (!o) {
            return abandon("cannot write " + p.string());
        }
    }
    std::error_code ec;
    fs::rename(tmp, out, ec); // atomic on one file system; replaces an empty folder
    if (ec) {
        return abandon("cannot move the export to " + out.string() + ": " + ec.message());
    }
    return resolver::ok();
}

int run_export(const ExportOptions& o, std::ostream& out, std::ostream& err) {
    auto usage = [&](const std::string& why) {
        err << "dnslab-probe gateway-export: " << why << "\n";
        return kExitUsage;
    };
    if (o.token.empty()) {
        return usage("CLOUDFLARE_API_TOKEN is not set (an API token with Zero Trust read "
                     "permission)");
    }
    if (std::any_of(o.token.begin(), o.token.end(),
                    [](unsigned char c) { return c < 0x21 || c > 0x7e; })) {
        return usage("CLOUDFLARE_API_TOKEN holds spaces or control characters");
    }
    if (!safe_id(o.account)) {
        return usage("--account must be an account ID (letters, digits, '-', '_')");
    }
    auto base = parse_base(o.api_base);
    if (!base) {
        return usage(base.error().detail);
    }
    if (auto why = out_problem(o.out); !why.empty()) {
        return usage(why + "; nothing was written");
    }
    auto client = HttpsClient::create({base->host, base->port, o.ca_file, o.timeout_ms});
    if (!client) {
        return usage(client.error().detail);
    }
    const HttpHeaders headers = {{"Authorization", "Bearer " + o.token},
                                 {"Accept", "application/json"},
                                 {"User-Agent", std::string(kVersion) + " gateway-export"}};
    const Getter get = [&](const std::string& target) { return (*client)->get(target, headers); };
    auto fetched = fetch_export(get, base->path, o.account);
    if (!fetched) {
        err << "dnslab-probe gateway-export: " << fetched.error().detail
            << "\ndnslab-probe gateway-export: nothing was written to " << o.out.string() << "\n";
        return kExitApi;
    }
    std::vector<std::string> warnings;
    const ExportMeta meta{o.account, o.api_base, path_version(base->path),
                          std::chrono::system_clock::now()};
    const auto files = build_files(*fetched, meta, warnings);
    if (auto st = write_folder(o.out, files); !st) {
        err << "dnslab-probe gateway-export: " << st.error().detail << "\n";
        return kExitApi;
    }
    for (const auto& w : warnings) {
        err << "dnslab-probe gateway-export: warning: " << w << "\n";
    }
    const Fetched& f = *fetched;
    out << "gateway-export: account " << o.account << ": " << f.rules.items.size() << " rules, "
        << f.locations.items.size() << " locations, " << f.lists.items.size() << " lists ("
        << f.list_items << " items), " << f.categories.items.size() << " categories, "
        << f.app_types.items.size() << " application entries; " << f.requests << " requests -> "
        << o.out.string() << "\n";
    return kExitWritten;
}

} // namespace probes::gateway_export
