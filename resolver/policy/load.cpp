// SPDX-License-Identifier: MIT
// Loading a Gateway configuration export into a PolicySet. Runs at startup and reload only,
// so it may allocate freely and use nlohmann-json's exceptions internally; every failure
// leaves as a Result error naming the file, rule and column.
#include "resolver/policy/load.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "resolver/policy/domain_table.hpp"
#include "resolver/policy/lists_json.hpp"

namespace resolver::policy {

using nlohmann::json;

std::string_view action_name(Action a) {
    switch (a) {
    case Action::Allow:
        return "allow";
    case Action::Block:
        return "block";
    case Action::Override:
        return "override";
    case Action::SafeSearch:
        return "safesearch";
    case Action::YtRestricted:
        return "ytrestricted";
    case Action::Resolve:
        return "resolve";
    }
    return "?";
}

std::string ResolverAddress::to_string() const {
    return ip.v4 ? ip.to_string() + ":" + std::to_string(port)
                 : "[" + ip.to_string() + "]:" + std::to_string(port);
}

bool Schedule::active_at(std::int64_t now) const {
    const std::int64_t local = now + (tz ? tz->offset_at(now) : 0);
    std::int64_t days = local / 86400;
    std::int64_t secs = local % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    // 1970-01-01 was a Thursday (day 4 with Sunday = 0).
    auto wday = static_cast<std::size_t>(((days % 7) + 7 + 4) % 7);
    const int minute = static_cast<int>(secs / 60);
    for (const auto& [start, end] : this->days[wday]) {
        if (minute >= start && minute < end) {
            return true;
        }
    }
    return false;
}

const Identity* IdentityMap::find(std::string_view token,
                                  const std::optional<net::IpAddr>& src) const {
    if (!token.empty()) {
        for (const auto& e : entries) {
            if (!e.token.empty() && e.token == token) {
                return &e.identity;
            }
        }
    }
    if (src) {
        for (const auto& e : entries) {
            if (e.source && e.source->contains(*src)) {
                return &e.identity;
            }
        }
    }
    return nullptr;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
    auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
        if (at + n > s.size()) {
            return std::nullopt;
        }
        int v = 0;
        auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + n, v);
        if (ec != std::errc{} || p != s.data() + at + n) {
            return std::nullopt;
        }
        return v;
    };
    auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
         se = num(17, 2);
    if (!y || !mo || !d || !h || !mi || !se || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
        return std::nullopt;
    }
    std::size_t p = 19;
    if (p < s.size() && s[p] == '.') {
        ++p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
            ++p;
        }
    }
    std::int64_t offset = 0;
    if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
        ++p;
    } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
        auto oh = num(p + 1, 2), om = num(p + 4, 2);
        if (!oh || !om) {
            return std::nullopt;
        }
        offset = (*oh * 3600 + *om * 60) * (s[p] == '-' ? -1 : 1);
        p += 6;
    } else {
        return std::nullopt;
    }
    if (p != s.size()) {
        return std::nullopt;
    }
    // days_from_civil (H. Hinnant).
    int yy = *y - (*mo <= 2 ? 1 : 0);
    const int era = (yy >= 0 ? yy : yy - 399) / 400;
    const auto yoe = static_cast<unsigned>(yy - era * 400);
    const auto mp = static_cast<unsigned>(*mo + (*mo > 2 ? -3 : 9));
    const unsigned doy = (153 * mp + 2) / 5 + static_cast<unsigned>(*d) - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
    return days * 86400 + *h * 3600 + *mi * 60 + *se - offset;
}

namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(Errc::ConfigInvalid, path + ": cannot open");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Parses JSON; errors carry line and column computed from the byte offset.
Result<json> parse_json(std::string_view text, std::string_view what) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        return fail(Errc::ConfigInvalid, json_syntax_error(text, what, e.byte, e.what()));
    }
}

/// The API returns either a bare array or the `{"success":…, "result": [...]}` envelope.
const json* unwrap(const json& doc) {
    if (doc.is_array()) {
        return &doc;
    }
    if (doc.is_object() && doc.contains("result") && doc["result"].is_array()) {
        return &doc["result"];
    }
    return nullptr;
}

std::string str_or(const json& o, const char* key, std::string def = {}) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string()) {
        return def;
    }
    return it->get<std::string>();
}

bool bool_or(const json& o, const char* key, bool def) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_boolean()) {
        return def;
    }
    return it->get<bool>();
}

std::optional<int> parse_hhmm(std::string_view t) {
    auto colon = t.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    int h = 0;
    int m = 0;
    auto hs = t.substr(0, colon);
    auto ms = t.substr(colon + 1);
    if (std::from_chars(hs.data(), hs.data() + hs.size(), h).ec != std::errc{} ||
        std::from_chars(ms.data(), ms.data() + ms.size(), m).ec != std::errc{} || h < 0 || h > 24 ||
        m < 0 || m > 59 || (h == 24 && m != 0)) {
        return std::nullopt;
    }
    return h * 60 + m;
}

struct Loader {
    PolicySet& set;
    std::string zoneinfo_dir;
    std::unordered_map<std::string, std::shared_ptr<const TimeZone>> zones;

    Status load_lists(std::string_view text, std::string_view file) {
        // Streamed (SAX): the lists export is the one input that reaches a million items.
        auto lists = load_lists_json(text, file);
        if (!lists) {
            return lists.error();
        }
        for (auto& list : *lists) {
            std::string id = list->id;
            set.lists[id] = std::move(list);
        }
        return ok();
    }

    Status load_locations(std::string_view text, std::string_view file) {
        auto doc = parse_json(text, file);
        if (!doc) {
            return doc.error();
        }
        const json* arr = unwrap(*doc);
        if (arr == nullptr) {
            return fail(Errc::ConfigInvalid,
                        std::string(file) +
                            ": expected a JSON array of locations or an API envelope");
        }
        for (const auto& o : *arr) {
            attribution::Location loc;
            loc.id = str_or(o, "id");
            loc.name = str_or(o, "name");
            loc.client_default = bool_or(o, "client_default", false);
            loc.doh_subdomain = normalize_domain(str_or(o, "doh_subdomain"));
            if (loc.doh_subdomain == ".") {
                loc.doh_subdomain.clear();
            }
            loc.ecs_support = bool_or(o, "ecs_support", false);
            auto where = std::string(file) + ": location " + loc.id + " (\"" + loc.name + "\")";
            if (auto ip = str_or(o, "ip"); !ip.empty()) {
                loc.ipv6 = net::IpAddr::parse(ip);
                if (!loc.ipv6) {
                    return fail(Errc::ConfigInvalid, where + ": bad ip \"" + ip + "\"");
                }
            }
            for (const char* key : {"ipv4_destination", "ipv4_destination_backup"}) {
                if (auto ip = str_or(o, key); !ip.empty()) {
                    auto a = net::IpAddr::parse(ip);
                    if (!a) {
                        return fail(Errc::ConfigInvalid,
                                    where + ": bad " + key + " \"" + ip + "\"");
                    }
                    (std::string_view(key) == "ipv4_destination" ? loc.ipv4_destination
                                                                 : loc.ipv4_destination_backup) = a;
                }
            }
            if (auto it = o.find("networks"); it != o.end() && it->is_array()) {
                for (const auto& n : *it) {
                    std::string net = n.is_string() ? n.get<std::string>() : str_or(n, "network");
                    auto r = net::IpRange::parse_cidr(net);
                    if (!r) {
                        return fail(Errc::ConfigInvalid, where + ": bad network \"" + net + "\"");
                    }
                    loc.networks.push_back(*r);
                }
            }
            if (auto it = o.find("endpoints"); it != o.end() && it->is_object()) {
                auto en = [&](const char* k) {
                    auto e = it->find(k);
                    return e == it->end() || !e->is_object() || bool_or(*e, "enabled", true);
                };
                loc.ipv4_enabled = en("ipv4");
                loc.ipv6_enabled = en("ipv6");
                loc.dot_enabled = en("dot");
                loc.doh_enabled = en("doh");
                if (auto d = it->find("doh"); d != it->end() && d->is_object()) {
                    loc.doh_require_token = bool_or(*d, "require_token", false);
                }
            }
            if (auto it = o.find("max_ttl"); it != o.end() && it->is_object()) {
                using Mode = attribution::Location::MaxTtl::Mode;
                const std::string mode = str_or(*it, "mode", "inherit");
                if (mode == "inherit") {
                    loc.max_ttl.mode = Mode::Inherit;
                } else if (mode == "disabled") {
                    loc.max_ttl.mode = Mode::Disabled;
                } else if (mode == "override") {
                    loc.max_ttl.mode = Mode::Override;
                    const auto t = it->find("ttl_secs");
                    if (t == it->end() || !t->is_number_integer() || t->get<std::int64_t>() < 60 ||
                        t->get<std::int64_t>() > 36000) {
                        return fail(Errc::ConfigInvalid,
                                    where + ": max_ttl override needs ttl_secs 60..36000");
                    }
                    loc.max_ttl.ttl_secs = static_cast<std::uint32_t>(t->get<std::int64_t>());
                } else {
                    return fail(Errc::ConfigInvalid, where + ": max_ttl mode \"" + mode +
                                                         "\" (inherit, disabled, override)");
                }
            }
            set.locations.locations.push_back(std::move(loc));
        }
        set.locations.index();
        return ok();
    }

    Status load_identities(std::string_view text, std::string_view file) {
        auto doc = parse_json(text, file);
        if (!doc) {
            return doc.error();
        }
        const json* arr = doc->is_array() ? &*doc
                          : (doc->is_object() && doc->contains("identities"))
                              ? &(*doc)["identities"]
                              : nullptr;
        if (arr == nullptr || !arr->is_array()) {
            return fail(Errc::ConfigInvalid,
                        std::string(file) + ": expected an array of identities");
        }
        for (const auto& o : *arr) {
            IdentityMap::Entry e;
            e.token = str_or(o, "token");
            if (auto src = str_or(o, "source_ip"); !src.empty()) {
                e.source = net::IpRange::parse_cidr(src);
                if (!e.source) {
                    return fail(Errc::ConfigInvalid,
                                std::string(file) + ": bad source_ip \"" + src + "\"");
                }
            }
            e.identity.email = str_or(o, "email");
            e.identity.name = str_or(o, "name");
            e.identity.user_id = str_or(o, "user_id");
            e.identity.device_id = str_or(o, "device_id");
            e.identity.device_name = str_or(o, "device_name");
            e.identity.registration_id = str_or(o, "registration_id");
            if (auto it = o.find("groups"); it != o.end() && it->is_array()) {
                for (const auto& g : *it) {
                    if (g.is_string()) {
                        e.identity.groups.push_back({"", g.get<std::string>(), ""});
                    } else {
                        e.identity.groups.push_back(
                            {str_or(g, "id"), str_or(g, "name"), str_or(g, "email")});
                    }
                }
            }
            if (auto it = o.find("saml_attributes"); it != o.end() && it->is_object()) {
                for (const auto& [k, v] : it->items()) {
                    auto& vals = e.identity.saml_attributes[k];
                    if (v.is_string()) {
                        vals.push_back(v.get<std::string>());
                    } else if (v.is_array()) {
                        for (const auto& x : v) {
                            if (x.is_string()) {
                                vals.push_back(x.get<std::string>());
                            }
                        }
                    }
                }
            }
            set.identities.entries.push_back(std::move(e));
        }
        return ok();
    }

    Result<std::shared_ptr<const TimeZone>> zone(const std::string& name) {
        if (auto it = zones.find(name); it != zones.end()) {
            return it->second;
        }
        auto tz = TimeZone::load(name, zoneinfo_dir);
        if (!tz) {
            return tz.error();
        }
        auto p = std::make_shared<const TimeZone>(std::move(*tz));
        zones[name] = p;
        return p;
    }

    Status load_rules(std::string_view text, std::string_view file) {
        auto doc = parse_json(text, file);
        if (!doc) {
            return doc.error();
        }
        const json* arr = unwrap(*doc);
        if (arr == nullptr) {
            return fail(Errc::ConfigInvalid,
                        std::string(file) + ": expected a JSON array of rules or an API envelope "
                                            "{\"result\": [...]}");
        }
        ListLookup lookup = [this](std::string_view id) { return set.find_list(id); };
        std::size_t index = 0;
        for (const auto& o : *arr) {
            ++index;
            if (!o.is_object()) {
                return fail(Errc::ConfigInvalid, std::string(file) + ": rule #" +
                                                     std::to_string(index) + " is not an object");
            }
            Rule r;
            r.id = str_or(o, "id", "#" + std::to_string(index));
            r.name = str_or(o, "name");
            r.description = str_or(o, "description");
            const std::string where =
                std::string(file) + ": rule " + r.id + " (\"" + r.name + "\")";
            bool dns = false;
            bool resolver = false;
            std::string filters;
            if (auto it = o.find("filters"); it != o.end() && it->is_array()) {
                for (const auto& f : *it) {
                    std::string v = f.is_string() ? f.get<std::string>() : "";
                    filters += (filters.empty() ? "" : ",") + v;
                    dns = dns || v == "dns";
                    resolver = resolver || v == "dns_resolver";
                }
            }
            if (!dns && !resolver) {
                set.warnings.push_back(where + ": skipped: filters [" + filters +
                                       "] are not dns or dns_resolver");
                continue;
            }
            r.resolver_policy = resolver && !dns;
            if (auto it = o.find("precedence"); it != o.end() && it->is_number_integer()) {
                r.precedence = it->get<std::int64_t>();
            }
            r.enabled = bool_or(o, "enabled", true);
            const std::string action = str_or(o, "action");
            static const std::pair<const char*, Action> kActions[] = {
                {"allow", Action::Allow},
                {"block", Action::Block},
                {"override", Action::Override},
                {"safesearch", Action::SafeSearch},
                {"ytrestricted", Action::YtRestricted},
                {"resolve", Action::Resolve}};
            bool known = false;
            for (const auto& [n, a] : kActions) {
                if (action == n) {
                    r.action = a;
                    known = true;
                }
            }
            if (!known) {
                return fail(Errc::ConfigInvalid,
                            where + ": action \"" + action + "\" is not valid for DNS rules");
            }
            if ((r.action == Action::Resolve) != r.resolver_policy) {
                return fail(Errc::ConfigInvalid, where + ": action \"" + action +
                                                     "\" does not match filters [" + filters +
                                                     "] (resolve needs dns_resolver)");
            }
            for (const char* key : {"traffic", "identity"}) {
                std::string src = str_or(o, key);
                auto c = compile_expr(src, lookup);
                if (!c) {
                    return fail(Errc::ConfigInvalid, where + " " + key + " column " +
                                                         std::to_string(c.error.column) + ": " +
                                                         c.error.message + "\n  in: " + src);
                }
                (std::string_view(key) == "traffic" ? r.traffic : r.identity) = std::move(*c.expr);
            }
            r.device_posture = str_or(o, "device_posture");
            if (!r.device_posture.empty()) {
                set.warnings.push_back(
                    where + ": device_posture is not evaluated in the lab (treated as true)");
            }
            Phase p = std::max(r.traffic.phase(), r.identity.phase());
            r.phase = p == Phase::Pre ? Phase::Pre : Phase::Post;
            if (r.phase != Phase::Pre &&
                (r.action == Action::Override || r.action == Action::SafeSearch ||
                 r.action == Action::YtRestricted)) {
                // Reference §1.6 item 6: these actions may only use pre-resolution selectors.
                return fail(Errc::ConfigInvalid,
                            where + ": action \"" + action +
                                "\" cannot use during- or post-resolution selectors");
            }
            if (r.resolver_policy && r.phase != Phase::Pre) {
                return fail(Errc::ConfigInvalid,
                            where + ": resolver policies can only use pre-resolution selectors");
            }
            if (auto st = load_settings(o, r, where); !st) {
                return st;
            }
            if (auto it = o.find("schedule"); it != o.end() && it->is_object()) {
                Schedule s;
                static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
                for (std::size_t d = 0; d < 7; ++d) {
                    std::string spec = str_or(*it, kDays[d]);
                    std::string_view rest = spec;
                    while (!rest.empty()) {
                        auto comma = rest.find(',');
                        auto part = rest.substr(0, comma);
                        rest = comma == std::string_view::npos ? std::string_view{}
                                                               : rest.substr(comma + 1);
                        auto dash = part.find('-');
                        auto a = dash == std::string_view::npos ? std::nullopt
                                                                : parse_hhmm(part.substr(0, dash));
                        auto b = dash == std::string_view::npos ? std::nullopt
                                                                : parse_hhmm(part.substr(dash + 1));
                        if (!a || !b || *b <= *a) {
                            return fail(Errc::ConfigInvalid,
                                        where + ": schedule." + kDays[d] + ": bad interval \"" +
                                            std::string(part) + "\" (want HH:MM-HH:MM)");
                        }
                        s.days[d].emplace_back(*a, *b);
                    }
                }
                s.time_zone = str_or(*it, "time_zone");
                auto tz = zone(s.time_zone);
                if (!tz) {
                    return fail(Errc::ConfigInvalid, where + ": schedule: " + tz.error().detail);
                }
                s.tz = *tz;
                r.schedule = std::move(s);
            }
            if (auto it = o.find("expiration"); it != o.end() && it->is_object()) {
                if (auto at = str_or(*it, "expires_at"); !at.empty()) {
                    r.expires_at = parse_rfc3339(at);
                    if (!r.expires_at) {
                        return fail(Errc::ConfigInvalid, where + ": expiration.expires_at \"" + at +
                                                             "\" is not an RFC 3339 timestamp");
                    }
                }
                r.expired = bool_or(*it, "expired", false);
            }
            (r.resolver_policy ? set.resolver_rules : set.dns_rules).push_back(std::move(r));
        }
        auto by_precedence = [](const Rule& a, const Rule& b) {
            return a.precedence < b.precedence;
        };
        std::stable_sort(set.dns_rules.begin(), set.dns_rules.end(), by_precedence);
        std::stable_sort(set.resolver_rules.begin(), set.resolver_rules.end(), by_precedence);
        return ok();
    }

    Status load_settings(const json& o, Rule& r, const std::string& where) {
        static const json kEmpty = json::object();
        auto it = o.find("rule_settings");
        const json& s = (it == o.end() || !it->is_object()) ? kEmpty : *it;
        auto& rs = r.settings;
        rs.block_page_enabled = bool_or(s, "block_page_enabled", false);
        rs.block_reason = str_or(s, "block_reason");
        if (auto bp = s.find("block_page"); bp != s.end() && bp->is_object()) {
            rs.block_page_target_uri = str_or(*bp, "target_uri");
        }
        if (auto ips = s.find("override_ips"); ips != s.end() && ips->is_array()) {
            for (const auto& v : *ips) {
                auto a = v.is_string() ? net::IpAddr::parse(v.get<std::string>()) : std::nullopt;
                if (!a) {
                    return fail(Errc::ConfigInvalid,
                                where + ": rule_settings.override_ips: bad address " + v.dump());
                }
                rs.override_ips.push_back(*a);
            }
        }
        rs.override_host = str_or(s, "override_host");
        if (r.action == Action::Override && rs.override_ips.empty() && rs.override_host.empty()) {
            return fail(Errc::ConfigInvalid,
                        where + ": override needs rule_settings.override_ips or override_host");
        }
        rs.insecure_disable_dnssec_validation =
            bool_or(s, "insecure_disable_dnssec_validation", false);
        rs.ip_categories = bool_or(s, "ip_categories", false);
        rs.ignore_cname_category_matches = bool_or(s, "ignore_cname_category_matches", false);
        rs.resolve_dns_through_cloudflare = bool_or(s, "resolve_dns_through_cloudflare", false);
        if (auto d = s.find("dns_resolvers"); d != s.end() && d->is_object()) {
            for (const char* fam : {"ipv4", "ipv6"}) {
                auto f = d->find(fam);
                if (f == d->end() || !f->is_array()) {
                    continue;
                }
                for (const auto& e : *f) {
                    ResolverAddress ra;
                    auto ip = net::IpAddr::parse(str_or(e, "ip"));
                    if (!ip) {
                        return fail(Errc::ConfigInvalid, where + ": rule_settings.dns_resolvers." +
                                                             fam + ": bad ip " + e.dump());
                    }
                    ra.ip = *ip;
                    if (auto p = e.find("port"); p != e.end() && p->is_number_integer()) {
                        auto port = p->get<std::int64_t>();
                        if (port <= 0 || port > 65535) {
                            return fail(Errc::ConfigInvalid,
                                        where + ": rule_settings.dns_resolvers: bad port");
                        }
                        ra.port = static_cast<std::uint16_t>(port);
                    }
                    ra.route_through_private_network =
                        bool_or(e, "route_through_private_network", false);
                    ra.vnet_id = str_or(e, "vnet_id");
                    rs.dns_resolvers.push_back(std::move(ra));
                }
            }
        }
        if (auto d = s.find("resolve_dns_internally"); d != s.end() && d->is_object()) {
            rs.resolve_dns_internally = true;
            rs.internal_view_id = str_or(*d, "view_id");
            rs.internal_fallback = str_or(*d, "fallback", "none");
        }
        const int routes = (rs.resolve_dns_through_cloudflare ? 1 : 0) +
                           (rs.dns_resolvers.empty() ? 0 : 1) + (rs.resolve_dns_internally ? 1 : 0);
        if (r.action == Action::Resolve && routes != 1) {
            return fail(Errc::ConfigInvalid,
                        where + ": a resolve rule needs exactly one of dns_resolvers, "
                                "resolve_dns_through_cloudflare, resolve_dns_internally");
        }
        return ok();
    }
};

Result<PolicySetPtr> load_impl(const PolicyTexts& t, const PolicyFiles& names) {
    auto set = std::make_shared<PolicySet>();
    Loader l{*set, t.zoneinfo_dir, {}};
    auto name = [](const std::string& n, const char* def) {
        return n.empty() ? std::string(def) : n;
    };
    auto with = [](const std::string& file, Status st) -> Status {
        if (!st) {
            return fail(Errc::ConfigInvalid, st.error().detail.rfind(file, 0) == 0
                                                 ? st.error().detail
                                                 : file + ": " + st.error().detail);
        }
        return ok();
    };
    if (!t.category_ids.empty()) {
        auto ids = CategoryDb::parse_ids_csv(t.category_ids);
        if (!ids) {
            return with(name(names.category_ids, "category ids"), ids.error()).error();
        }
        set->categories.set_ids(std::move(*ids));
    } else {
        set->categories.set_ids(CategoryDb::builtin_ids());
    }
    if (!t.lists.empty()) {
        if (auto st =
                with(name(names.lists, "lists"), l.load_lists(t.lists, name(names.lists, "lists")));
            !st) {
            return st.error();
        }
    }
    if (!t.locations.empty()) {
        if (auto st = l.load_locations(t.locations, name(names.locations, "locations")); !st) {
            return st.error();
        }
    }
    if (!t.categories.empty()) {
        if (auto st =
                with(name(names.categories, "categories"), set->categories.add_csv(t.categories));
            !st) {
            return st.error();
        }
        set->categories.shrink();
    }
    if (!t.geo.empty()) {
        if (auto st = with(name(names.geo, "geo"), set->geo.add_csv(t.geo)); !st) {
            return st.error();
        }
    }
    if (!t.mmdb_path.empty()) {
        if (auto st = set->geo.open_mmdb(t.mmdb_path); !st) {
            return st.error();
        }
    }
    if (!t.identities.empty()) {
        if (auto st = l.load_identities(t.identities, name(names.identities, "identities")); !st) {
            return st.error();
        }
    }
    if (!t.rules.empty()) {
        if (auto st = l.load_rules(t.rules, name(names.rules, "rules")); !st) {
            return st.error();
        }
    }
    build_rule_index(*set);
    return PolicySetPtr(std::move(set));
}

} // namespace

Result<PolicySetPtr> load_policy_texts(const PolicyTexts& texts) {
    return load_impl(texts, PolicyFiles{});
}

Result<PolicySetPtr> load_policy(const PolicyFiles& files) {
    PolicyTexts t;
    auto read = [](const std::string& path, std::string& out) -> Status {
        if (path.empty()) {
            return ok();
        }
        auto r = read_file(path);
        if (!r) {
            return r.error();
        }
        out = std::move(*r);
        return ok();
    };
    for (auto [path, out] :
         {std::pair{&files.rules, &t.rules}, std::pair{&files.lists, &t.lists},
          std::pair{&files.locations, &t.locations}, std::pair{&files.categories, &t.categories},
          std::pair{&files.category_ids, &t.category_ids}, std::pair{&files.geo, &t.geo},
          std::pair{&files.identities, &t.identities}}) {
        if (auto st = read(*path, *out); !st) {
            return st.error();
        }
    }
    t.mmdb_path = files.mmdb;
    t.zoneinfo_dir = files.zoneinfo_dir;
    auto set = load_impl(t, files);
    t = PolicyTexts{};
#if defined(__GLIBC__)
    // The JSON DOM of a large list export (~250 B per item) is freed by now, but glibc keeps
    // freed heap pages mapped, so the resolver's RSS stayed at the load peak for good: 341 B
    // per list name with a 1M-name list (bench/policy_qps.sh) for tables of ~40 B per name.
    // Give the pages back (all arenas: reloads run on another thread).
    malloc_trim(0);
#endif
    return set;
}

} // namespace resolver::policy
