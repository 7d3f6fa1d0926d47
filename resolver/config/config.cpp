// SPDX-License-Identifier: MIT
#include "resolver/config/config.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>
#include <thread>

#include <toml++/toml.h>

#include "resolver/util/load_guard.hpp"

namespace resolver::config {
namespace {

std::string where(const toml::node& n) {
    const auto& s = n.source();
    return "line " + std::to_string(s.begin.line) + ", column " + std::to_string(s.begin.column);
}

struct Reader {
    const std::string& file;
    std::string error;

    template <typename T>
    void get(const toml::table& t, const std::string& prefix, const char* key, T& out) {
        const toml::node* n = t.get(key);
        if (n == nullptr || !error.empty()) {
            return;
        }
        const std::string name = prefix.empty() ? key : prefix + "." + key;
        if constexpr (std::is_same_v<T, std::optional<std::string>>) {
            std::string v;
            get(t, prefix, key, v);
            out = std::move(v);
        } else if constexpr (std::is_same_v<T, std::optional<std::int64_t>>) {
            std::int64_t v = 0;
            get(t, prefix, key, v);
            out = v;
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (auto v = n->value<std::string>()) {
                out = *v;
                return;
            }
            error = file + ": " + where(*n) + ": key '" + name + "' must be a string";
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            if (const auto* arr = n->as_array()) {
                out.clear();
                for (const auto& el : *arr) {
                    auto v = el.value<std::string>();
                    if (!v) {
                        error = file + ": " + where(el) + ": key '" + name +
                                "' must be a list of strings";
                        return;
                    }
                    out.push_back(*v);
                }
                return;
            }
            error = file + ": " + where(*n) + ": key '" + name + "' must be a list of strings";
        } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
            if (const auto* tab = n->as_table()) {
                out.clear();
                for (const auto& [k, el] : *tab) {
                    auto v = el.template value<std::string>();
                    if (!v) {
                        error = file + ": " + where(el) + ": key '" + name + "." +
                                std::string(k.str()) + "' must be a string";
                        return;
                    }
                    out.emplace(std::string(k.str()), *v);
                }
                return;
            }
            error = file + ": " + where(*n) + ": key '" + name +
                    "' must be a table of strings (id = \"URL\")";
        } else if constexpr (std::is_same_v<T, bool>) {
            if (auto v = n->value_exact<bool>()) {
                out = *v;
                return;
            }
            error = file + ": " + where(*n) + ": key '" + name + "' must be true or false";
        } else {
            // value_exact: value<int64_t>() casts an out-of-range float (undefined behaviour);
            // the upper bound keeps an absurd number from wrapping around in a narrower field.
            constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
            if (auto v = n->value_exact<std::int64_t>();
                v && *v >= 0 && static_cast<std::uint64_t>(*v) <= kMax) {
                out = static_cast<T>(*v);
                return;
            }
            error = file + ": " + where(*n) + ": key '" + name + "' must be an integer from 0 to " +
                    std::to_string(kMax);
        }
    }
};

const std::vector<std::pair<std::string, std::vector<std::string>>>& known_keys() {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> keys{
        {"",
         {"listen", "upstream", "log_json", "event_log", "ready_file", "state_dir", "resolver",
          "udp", "tcp", "tls", "doh", "policy", "behaviour", "telemetry", "log", "internal_dns",
          "private_networks"}},
        {"internal_dns", {"views", "zones"}},
        {"private_networks", {"default_vnet", "vnets"}},
        {"resolver",
         {"timeout_ms", "tries", "connect_timeout_ms", "idle_timeout_ms", "fail_threshold",
          "max_in_flight_per_upstream", "cache_size", "cache_max_ttl", "udp_payload",
          "shutdown_grace_ms", "max_waiting_queries", "workers"}},
        {"udp", {"receive_buffer_bytes"}},
        {"tcp",
         {"idle_timeout_ms", "handshake_timeout_ms", "request_timeout_ms", "max_connections",
          "max_message_size", "max_in_flight"}},
        {"tls", {"cert", "key", "gateway_domain"}},
        {"doh", {"max_streams", "max_header_bytes", "max_body_bytes"}},
        {"telemetry", {"metrics", "dnstap"}},
        {"policy",
         {"rules", "lists", "locations", "categories", "category_ids", "geo", "mmdb", "identities",
          "applications", "app_types", "indicator_feeds", "max_ttl_secs", "strict"}},
        {"log", {"account_id", "tenant_id", "colo_code", "colo_id", "team_name"}},
    };
    return keys;
}
} // namespace

std::string default_state_dir() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
        return std::string(x) + "/dnslab";
    }
    if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
        return std::string(h) + "/.cache/dnslab";
    }
    return "/tmp/dnslab";
}

unsigned usable_cpus() {
    // The CPUs this process may run on (its affinity mask, as nproc(1) counts): under taskset
    // or a container's cpuset, hardware_concurrency() still counts every online CPU, and two
    // loops sharing one CPU only add context switches.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        return static_cast<unsigned>(CPU_COUNT(&set));
    }
    return std::thread::hardware_concurrency();
}

Result<unsigned> parse_workers(const std::string& text) {
    constexpr unsigned kMaxWorkers = 64;
    if (text == "auto") {
        return std::clamp(usable_cpus(), 1U, kMaxWorkers);
    }
    unsigned n = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc() || p != end || n < 1 || n > kMaxWorkers) {
        return fail(Errc::ConfigInvalid, "workers must be an integer from 1 to " +
                                             std::to_string(kMaxWorkers) + " or \"auto\", not '" +
                                             text + "'");
    }
    return n;
}

namespace {
Result<Config> load_file_unguarded(const std::string& path) {
    if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
        return fail(Errc::ConfigInvalid, path + ": is a directory, not a TOML file");
    }
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        const auto& s = e.source();
        return fail(Errc::ConfigInvalid, path + ": line " + std::to_string(s.begin.line) +
                                             ", column " + std::to_string(s.begin.column) + ": " +
                                             std::string(e.description()));
    }
    // Unknown keys are errors: a typo must not silently fall back to a default.
    for (const auto& [section, keys] : known_keys()) {
        const toml::table* t = section.empty() ? &root : root[section].as_table();
        if (t == nullptr) {
            continue;
        }
        for (const auto& [k, v] : *t) {
            if (section == "behaviour") {
                continue;
            }
            if (std::find(keys.begin(), keys.end(), std::string(k.str())) == keys.end()) {
                return fail(Errc::ConfigInvalid, path + ": " + where(v) + ": unknown key '" +
                                                     (section.empty() ? "" : section + ".") +
                                                     std::string(k.str()) + "'");
            }
        }
    }
    Config c;
    c.config_dir = std::filesystem::absolute(path).parent_path().string();
    Reader r{path, {}};
    r.get(root, "", "listen", c.listen);
    r.get(root, "", "upstream", c.upstream);
    r.get(root, "", "log_json", c.log_json);
    r.get(root, "", "event_log", c.event_log);
    r.get(root, "", "ready_file", c.ready_file);
    r.get(root, "", "state_dir", c.state_dir);
    if (const auto* t = root["resolver"].as_table()) {
        r.get(*t, "resolver", "timeout_ms", c.upstream_options.timeout_ms);
        r.get(*t, "resolver", "tries", c.upstream_options.tries);
        r.get(*t, "resolver", "connect_timeout_ms", c.upstream_options.connect_timeout_ms);
        r.get(*t, "resolver", "idle_timeout_ms", c.upstream_options.idle_timeout_ms);
        r.get(*t, "resolver", "fail_threshold", c.fail_threshold);
        r.get(*t, "resolver", "max_in_flight_per_upstream", c.max_in_flight_per_upstream);
        r.get(*t, "resolver", "cache_size", c.cache_size);
        r.get(*t, "resolver", "cache_max_ttl", c.cache_max_ttl);
        r.get(*t, "resolver", "udp_payload", c.udp_payload);
        r.get(*t, "resolver", "shutdown_grace_ms", c.shutdown_grace_ms);
        r.get(*t, "resolver", "max_waiting_queries", c.max_waiting_queries);
        if (const toml::node* n = t->get("workers"); n != nullptr && r.error.empty()) {
            // An integer, or the string "auto" (the same text --workers takes).
            std::string text;
            if (auto v = n->value_exact<std::int64_t>()) {
                text = std::to_string(*v);
            } else if (auto sv = n->value<std::string>()) {
                text = *sv;
            }
            auto w = parse_workers(text);
            if (!w) {
                r.error = path + ": " + where(*n) + ": key 'resolver.workers': " + w.error().detail;
            } else {
                c.workers = *w;
            }
        }
    }
    if (const auto* t = root["udp"].as_table()) {
        r.get(*t, "udp", "receive_buffer_bytes", c.udp_options.receive_buffer_bytes);
    }
    if (const auto* t = root["tcp"].as_table()) {
        r.get(*t, "tcp", "idle_timeout_ms", c.stream_limits.idle_timeout_ms);
        r.get(*t, "tcp", "handshake_timeout_ms", c.stream_limits.handshake_timeout_ms);
        r.get(*t, "tcp", "request_timeout_ms", c.stream_limits.request_timeout_ms);
        r.get(*t, "tcp", "max_connections", c.stream_limits.max_connections);
        r.get(*t, "tcp", "max_message_size", c.stream_limits.max_message_size);
        r.get(*t, "tcp", "max_in_flight", c.stream_limits.max_in_flight);
    }
    if (const auto* t = root["tls"].as_table()) {
        r.get(*t, "tls", "cert", c.tls_cert);
        r.get(*t, "tls", "key", c.tls_key);
        r.get(*t, "tls", "gateway_domain", c.gateway_domain);
    }
    if (const auto* t = root["doh"].as_table()) {
        r.get(*t, "doh", "max_streams", c.doh_max_streams);
        r.get(*t, "doh", "max_header_bytes", c.doh_max_header_bytes);
        r.get(*t, "doh", "max_body_bytes", c.doh_max_body_bytes);
    }
    if (const auto* t = root["telemetry"].as_table()) {
        r.get(*t, "telemetry", "metrics", c.metrics);
        r.get(*t, "telemetry", "dnstap", c.dnstap);
    }
    if (const auto* t = root["policy"].as_table()) {
        r.get(*t, "policy", "rules", c.rules_file);
        r.get(*t, "policy", "lists", c.lists_file);
        r.get(*t, "policy", "locations", c.locations_file);
        r.get(*t, "policy", "categories", c.categories_file);
        r.get(*t, "policy", "geo", c.geo_file);
        r.get(*t, "policy", "mmdb", c.mmdb_file);
        r.get(*t, "policy", "identities", c.identities_file);
        r.get(*t, "policy", "applications", c.applications_file);
        r.get(*t, "policy", "app_types", c.app_types_file);
        r.get(*t, "policy", "indicator_feeds", c.indicator_feeds_file);
        r.get(*t, "policy", "category_ids", c.category_ids_file);
        r.get(*t, "policy", "max_ttl_secs", c.max_ttl_secs);
        r.get(*t, "policy", "strict", c.policy_strict);
    }
    if (const auto* t = root["log"].as_table()) {
        r.get(*t, "log", "account_id", c.log.account_id);
        r.get(*t, "log", "tenant_id", c.log.tenant_id);
        r.get(*t, "log", "colo_code", c.log.colo_code);
        r.get(*t, "log", "colo_id", c.log.colo_id);
        r.get(*t, "log", "team_name", c.log.team_name);
    }
    if (const auto* t = root["internal_dns"].as_table()) {
        r.get(*t, "internal_dns", "views", c.internal_views);
        r.get(*t, "internal_dns", "zones", c.internal_zones);
    }
    if (const auto* t = root["private_networks"].as_table()) {
        r.get(*t, "private_networks", "default_vnet", c.default_vnet);
        r.get(*t, "private_networks", "vnets", c.vnets);
    }
    if (const auto* t = root["behaviour"].as_table()) {
        std::ostringstream os;
        os << *t;
        c.behaviour_toml = os.str();
    }
    if (!r.error.empty()) {
        return fail(Errc::ConfigInvalid, r.error);
    }
    // A zero deadline would close every connection at once: refuse it by name.
    for (const auto& [key, value] :
         {std::pair{"idle_timeout_ms", c.stream_limits.idle_timeout_ms},
          std::pair{"handshake_timeout_ms", c.stream_limits.handshake_timeout_ms},
          std::pair{"request_timeout_ms", c.stream_limits.request_timeout_ms}}) {
        if (value == 0) {
            return fail(Errc::ConfigInvalid,
                        path + ": key 'tcp." + std::string(key) + "' must be at least 1");
        }
    }
    // Relative file paths in a config file are relative to the file, not to the cwd.
    auto rel = [&](std::string& p) {
        if (!p.empty() && p != "-" && std::filesystem::path(p).is_relative()) {
            p = (std::filesystem::path(c.config_dir) / p).lexically_normal().string();
        }
    };
    for (auto* p : {&c.log_json, &c.event_log, &c.ready_file, &c.state_dir, &c.tls_cert, &c.tls_key,
                    &c.rules_file, &c.lists_file, &c.locations_file, &c.categories_file,
                    &c.geo_file, &c.mmdb_file, &c.identities_file, &c.category_ids_file,
                    &c.applications_file, &c.app_types_file, &c.indicator_feeds_file}) {
        rel(*p);
    }
    for (const char* kind : {"file:", "unix:"}) {
        const std::size_t n = std::string_view(kind).size();
        if (c.dnstap.rfind(kind, 0) == 0 &&
            std::filesystem::path(c.dnstap.substr(n)).is_relative()) {
            c.dnstap = kind + (std::filesystem::path(c.config_dir) / c.dnstap.substr(n))
                                  .lexically_normal()
                                  .string();
        }
    }
    auto rel_fixture = [&](std::string& u) {
        if (u.rfind("fixture:", 0) == 0 && std::filesystem::path(u.substr(8)).is_relative()) {
            u = "fixture:" +
                (std::filesystem::path(c.config_dir) / u.substr(8)).lexically_normal().string();
        }
    };
    for (auto& u : c.upstream) {
        rel_fixture(u);
    }
    rel_fixture(c.default_vnet);
    for (auto* table : {&c.internal_views, &c.vnets}) {
        for (auto& [id, u] : *table) {
            rel_fixture(u);
        }
    }
    return c;
}

} // namespace

Result<Config> load_file(const std::string& path) {
    // toml++ throws parse_error; std::filesystem and allocations may throw too.
    return util::guard_load(path, [&] { return load_file_unguarded(path); });
}

} // namespace resolver::config
