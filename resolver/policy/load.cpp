// SPDX-License-Identifier: MIT
// Loading a Gateway configuration export into a PolicySet. Runs at startup and reload only,
// so it may allocate freely and use nlohmann-json's exceptions internally; every failure
// leaves as a Result error naming the file, rule and column.
#include "resolver/policy/load.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "resolver/policy/domain_table.hpp"
#include "resolver/policy/export_json.hpp"
#include "resolver/policy/lists_json.hpp"
#include "resolver/util/load_guard.hpp"

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

/// Reads a policy input of at most `max_bytes` (PolicyFiles::max_input_bytes).
Result<std::string> read_file(const std::string& path, std::uintmax_t max_bytes) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec); // fails for pipes and devices
    if (!ec && size > max_bytes) {
        return fail(Errc::ConfigInvalid, path + ": " + std::to_string(size) +
                                             " bytes, more than the " + std::to_string(max_bytes) +
                                             " a policy input may have");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(Errc::ConfigInvalid, path + ": cannot open");
    }
    // Read in chunks with the same cap, so a FIFO or /dev/zero cannot grow the string forever.
    std::string out;
    std::vector<char> chunk(1 << 16);
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
        out.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (out.size() > max_bytes) {
            return fail(Errc::ConfigInvalid, path + ": more than the " + std::to_string(max_bytes) +
                                                 " bytes a policy input may have");
        }
    }
    if (in.bad()) {
        return fail(Errc::ConfigInvalid, path + ": read error");
    }
    return out;
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

/// A JSON document given where a CSV is expected (gateway-export's categories.json as the
/// categories), named as what it is instead of the CSV parser's complaint about line 1; ""
/// when `text` is not JSON.
std::string json_instead_of_csv(std::string_view text, std::string_view file,
                                std::string_view expected) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || (text[first] != '[' && text[first] != '{')) {
        return "";
    }
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return "";
    }
    ExportShape shape;
    if (const json* arr = unwrap(doc)) {
        for (const auto& item : *arr) {
            shape.add_item(item);
        }
    }
    const ExportKind kind = shape.most_common();
    return std::string(file) + " looks like " +
           (kind == ExportKind::Unknown
                ? std::string("JSON")
                : "a Gateway " + std::string(export_kind_name(kind)) + " export (JSON)") +
           ", expected " + std::string(expected);
}

struct Loader {
    PolicySet& set;
    std::string zoneinfo_dir;
    std::unordered_map<std::string, std::shared_ptr<const TimeZone>> zones;
    /// How expressions compile ([behaviour] via PolicyTexts::expressions).
    ExprOptions expr_options{};
    /// Warnings of the rule being loaded; they reach PolicySet::warnings and rule_warnings
    /// once it has loaded (a skipped rule has its skip line instead).
    std::vector<RuleWarning> rule_warnings{};
    /// The rule being loaded: what `reject` fills in when the rule cannot be read.
    SkippedRule* skip = nullptr;
    /// The lists export's name, for the rules that reference a list it has without items.
    std::string lists_file{};
    /// The locations export's name, or "" when none was given (then no location-ID check).
    std::string locations_file{};

    /// A rule the lab cannot read: records the field (and expression and column) for the
    /// skip warning and returns the error that ends loading this rule.
    Error reject(const std::string& where, std::string field, std::string reason,
                 std::string expression = {}, std::size_t column = 0) {
        std::string detail = where + ": " + field;
        if (column != 0) {
            detail += " column " + std::to_string(column);
        }
        detail += ": " + reason;
        if (!expression.empty()) {
            detail += "\n  in: " + expression;
        }
        if (skip != nullptr) {
            skip->field = std::move(field);
            skip->reason = std::move(reason);
            skip->expression = std::move(expression);
            skip->column = column;
        }
        return fail(Errc::ConfigInvalid, std::move(detail));
    }

    /// A rule that loads, with something worth a look: one warning line
    /// (`where: field column N: message`).
    void note(const std::string& where, const std::string& field, const std::string& message,
              std::size_t column = 0, std::string expression = {}) {
        RuleWarning w;
        if (skip != nullptr) {
            w.file = skip->file;
            w.id = skip->id;
            w.name = skip->name;
        }
        w.field = field;
        w.expression = std::move(expression);
        w.column = column;
        w.message = message;
        w.warning = where + ": " + field +
                    (column != 0 ? " column " + std::to_string(column) : std::string()) + ": " +
                    message;
        rule_warnings.push_back(std::move(w));
    }

    Status load_lists(std::string_view text, std::string_view file) {
        // Streamed (SAX): the lists export is the one input that reaches a million items.
        auto lists = load_lists_json(text, file);
        if (!lists) {
            return lists.error();
        }
        lists_file = std::string(file);
        for (auto& list : *lists) {
            std::string id = list->id;
            set.lists[id] = std::move(list);
        }
        return ok();
    }

    Status load_locations(std::string_view text, std::string_view file) {
        auto doc = parse_export_json(text, file, "location");
        if (!doc) {
            return doc.error();
        }
        const json* arr = unwrap(*doc);
        if (arr == nullptr) {
            return fail(Errc::ConfigInvalid,
                        std::string(file) +
                            ": expected a JSON array of locations or an API envelope");
        }
        if (auto st = check_shape(*arr, file, ExportKind::Locations); !st) {
            return st;
        }
        locations_file = std::string(file);
        auto st = each_item(*arr, file, "location",
                            [&](const json& j, std::size_t, std::string& where) -> Status {
                                return load_location(ObjectView(j, ""), file, where);
                            });
        if (!st) {
            return st;
        }
        set.locations.index();
        return ok();
    }

    Status load_location(const ObjectView& o, std::string_view file, std::string& where) {
        attribution::Location loc;
        loc.id = o.str("id");
        loc.name = o.str("name");
        where = std::string(file) + ": location " + loc.id + " (\"" + loc.name + "\")";
        loc.client_default = o.boolean("client_default", false);
        loc.doh_subdomain = normalize_domain(o.str("doh_subdomain"));
        if (loc.doh_subdomain == ".") {
            loc.doh_subdomain.clear();
        }
        loc.ecs_support = o.boolean("ecs_support", false);
        if (auto ip = o.str("ip"); !ip.empty()) {
            loc.ipv6 = net::IpAddr::parse(ip);
            if (!loc.ipv6) {
                return fail(Errc::ConfigInvalid, where + ": bad ip \"" + ip + "\"");
            }
        }
        for (const char* key : {"ipv4_destination", "ipv4_destination_backup"}) {
            if (auto ip = o.str(key); !ip.empty()) {
                auto a = net::IpAddr::parse(ip);
                if (!a) {
                    return fail(Errc::ConfigInvalid, where + ": bad " + key + " \"" + ip + "\"");
                }
                (std::string_view(key) == "ipv4_destination" ? loc.ipv4_destination
                                                             : loc.ipv4_destination_backup) = a;
            }
        }
        if (const json* nets = o.array("networks")) {
            for (std::size_t i = 0; i < nets->size(); ++i) {
                const json& n = (*nets)[i];
                const std::string net =
                    n.is_string()
                        ? n.get<std::string>()
                        : ObjectView(n, "networks[" + std::to_string(i) + "]").str("network");
                auto r = net::IpRange::parse_cidr(net);
                if (!r) {
                    return fail(Errc::ConfigInvalid, where + ": bad network \"" + net + "\"");
                }
                loc.networks.push_back(*r);
            }
        }
        if (auto endpoints = o.object("endpoints")) {
            auto enabled = [&](const char* k) {
                auto e = endpoints->object(k);
                return !e || e->boolean("enabled", true);
            };
            loc.ipv4_enabled = enabled("ipv4");
            loc.ipv6_enabled = enabled("ipv6");
            loc.dot_enabled = enabled("dot");
            loc.doh_enabled = enabled("doh");
            if (auto d = endpoints->object("doh")) {
                loc.doh_require_token = d->boolean("require_token", false);
            }
        }
        if (auto m = o.object("max_ttl")) {
            using Mode = attribution::Location::MaxTtl::Mode;
            const std::string mode = m->str("mode", "inherit");
            if (mode == "inherit") {
                loc.max_ttl.mode = Mode::Inherit;
            } else if (mode == "disabled") {
                loc.max_ttl.mode = Mode::Disabled;
            } else if (mode == "override") {
                loc.max_ttl.mode = Mode::Override;
                const auto t = m->integer("ttl_secs");
                if (!t || *t < 60 || *t > 36000) {
                    return fail(Errc::ConfigInvalid,
                                where + ": max_ttl override needs ttl_secs 60..36000");
                }
                loc.max_ttl.ttl_secs = static_cast<std::uint32_t>(*t);
            } else {
                return fail(Errc::ConfigInvalid, where + ": max_ttl mode \"" + mode +
                                                     "\" (inherit, disabled, override)");
            }
        }
        set.locations.locations.push_back(std::move(loc));
        return ok();
    }

    Status load_identities(std::string_view text, std::string_view file) {
        auto doc = parse_export_json(text, file, "identity");
        if (!doc) {
            return doc.error();
        }
        const json* arr = unwrap(*doc, "identities");
        if (arr == nullptr) {
            return fail(Errc::ConfigInvalid,
                        std::string(file) + ": expected an array of identities");
        }
        return each_item(*arr, file, "identity",
                         [&](const json& j, std::size_t, std::string& where) -> Status {
                             return load_identity(ObjectView(j, ""), where);
                         });
    }

    Status load_identity(const ObjectView& o, std::string& where) {
        IdentityMap::Entry e;
        e.token = o.str("token");
        e.identity.email = o.str("email");
        e.identity.name = o.str("name");
        e.identity.user_id = o.str("user_id");
        e.identity.device_id = o.str("device_id");
        e.identity.device_name = o.str("device_name");
        e.identity.registration_id = o.str("registration_id");
        if (!e.identity.email.empty()) {
            where += " (" + e.identity.email + ")";
        }
        if (auto src = o.str("source_ip"); !src.empty()) {
            e.source = net::IpRange::parse_cidr(src);
            if (!e.source) {
                return fail(Errc::ConfigInvalid, where + ": bad source_ip \"" + src + "\"");
            }
        }
        if (const json* groups = o.array("groups")) {
            for (std::size_t i = 0; i < groups->size(); ++i) {
                const json& g = (*groups)[i];
                if (g.is_string()) {
                    e.identity.groups.push_back({"", g.get<std::string>(), ""});
                } else {
                    ObjectView gv(g, "groups[" + std::to_string(i) + "]");
                    e.identity.groups.push_back({gv.str("id"), gv.str("name"), gv.str("email")});
                }
            }
        }
        if (auto attrs = o.object("saml_attributes")) {
            for (const auto& [k, v] : attrs->raw().items()) {
                auto& vals = e.identity.saml_attributes[k];
                const std::string path = attrs->path_of(k.c_str());
                if (v.is_array()) {
                    for (std::size_t i = 0; i < v.size(); ++i) {
                        vals.push_back(string_element(v[i], path, i));
                    }
                } else if (!v.is_null()) {
                    if (!v.is_string()) {
                        throw FieldError("key \"" + path +
                                         "\": expected a string or an array of strings, got " +
                                         describe_json(v));
                    }
                    vals.push_back(v.get<std::string>());
                }
            }
        }
        if (auto st = load_identity_claims_and_posture(o, e.identity); !st) {
            return st;
        }
        set.identities.entries.push_back(std::move(e));
        return ok();
    }

    /// `oidc_claims` and `device_posture` of one identity-map entry (issue 17 selectors).
    static Status load_identity_claims_and_posture(const ObjectView& o, Identity& id) {
        if (o.raw().contains("oidc_claims") && !o.raw().at("oidc_claims").is_null()) {
            const json& claims = o.raw().at("oidc_claims");
            if (claims.is_array()) {
                // Given as the rules see them: used verbatim.
                for (std::size_t i = 0; i < claims.size(); ++i) {
                    id.oidc_claims.push_back(string_element(claims[i], "oidc_claims", i));
                }
            } else if (auto obj = o.object("oidc_claims")) {
                // {"department": "engineering"}: one element per value, written as Cloudflare's
                // selector example compares it, `"department=engineering"` with the quotes
                // (partials/cloudflare-one/gateway/selectors/oidc-claims.mdx).
                for (const auto& [k, v] : obj->raw().items()) {
                    const std::string path = obj->path_of(k.c_str());
                    auto add = [&, key = k](const std::string& value) {
                        id.oidc_claims.push_back("\"" + key + "=" + value + "\"");
                    };
                    if (v.is_array()) {
                        for (std::size_t i = 0; i < v.size(); ++i) {
                            add(string_element(v[i], path, i));
                        }
                    } else if (v.is_string()) {
                        add(v.get<std::string>());
                    } else if (!v.is_null()) {
                        throw FieldError("key \"" + path +
                                         "\": expected a string or an array of strings, got " +
                                         describe_json(v));
                    }
                }
            } else {
                throw FieldError("key \"oidc_claims\": expected an array of strings or an "
                                 "object of claim values, got " +
                                 describe_json(claims));
            }
        }
        if (auto dp = o.object("device_posture")) {
            Identity::DevicePosture posture;
            for (const char* key : {"passed", "failed"}) {
                if (const json* ids = dp->array(key)) {
                    auto& out = std::string_view(key) == "passed" ? posture.passed : posture.failed;
                    for (std::size_t i = 0; i < ids->size(); ++i) {
                        out.push_back(string_element((*ids)[i], dp->path_of(key), i));
                    }
                }
            }
            id.posture = std::move(posture);
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
        auto doc = parse_export_json(text, file, "rule");
        if (!doc) {
            return doc.error();
        }
        const json* arr = unwrap(*doc);
        if (arr == nullptr) {
            return fail(Errc::ConfigInvalid,
                        std::string(file) + ": expected a JSON array of rules or an API envelope "
                                            "{\"result\": [...]}");
        }
        // A locations or lists export given as the rules would load as rules skipped one by
        // one (no filters), hiding the mix-up: refused whole, naming what the file is.
        if (auto st = check_shape(*arr, file, ExportKind::Rules); !st) {
            return st;
        }
        // Each rule loads on its own: one the lab cannot read is skipped with a warning and the
        // others load, as Gateway evaluates each rule on its own.
        std::size_t index = 0;
        for (const auto& element : *arr) {
            ++index;
            SkippedRule skipped;
            skipped.file = std::string(file);
            skipped.id = "#" + std::to_string(index);
            std::string where = std::string(file) + ": rule #" + std::to_string(index);
            skip = &skipped;
            rule_warnings.clear();
            Status st = ok();
            try {
                st = load_rule(ObjectView(element, ""), index, file, where);
            } catch (const std::bad_alloc&) {
                skipped.reason = "out of memory";
                st = fail(Errc::ConfigInvalid, where + ": out of memory");
            } catch (const std::exception& e) {
                skipped.reason = e.what();
                st = fail(Errc::ConfigInvalid, where + ": " + e.what());
            }
            skip = nullptr;
            if (!st) {
                if (skipped.reason.empty()) {
                    skipped.reason = st.error().detail;
                }
                add_skip(std::move(skipped), where);
            } else {
                for (auto& w : rule_warnings) {
                    set.warnings.push_back(w.warning);
                    set.rule_warnings.push_back(std::move(w));
                }
            }
        }
        auto by_precedence = [](const Rule& a, const Rule& b) {
            return a.precedence < b.precedence;
        };
        std::stable_sort(set.dns_rules.begin(), set.dns_rules.end(), by_precedence);
        std::stable_sort(set.resolver_rules.begin(), set.resolver_rules.end(), by_precedence);
        return ok();
    }

    /// Records a skipped rule and its warning line:
    ///   rules.json: rule r1 ("Apps") skipped: traffic column 5: field 'app.ids' needs …;
    ///   in: any(app.ids[*] in {505})
    void add_skip(SkippedRule skipped, const std::string& where) {
        std::string line = where + " skipped: ";
        if (!skipped.field.empty()) {
            line += skipped.field;
            if (skipped.column != 0) {
                line += " column " + std::to_string(skipped.column);
            }
            line += ": ";
        }
        line += skipped.reason;
        if (!skipped.expression.empty()) {
            line += "; in: " + skipped.expression;
        }
        skipped.warning = line;
        set.warnings.push_back(std::move(line));
        set.skipped_rules.push_back(std::move(skipped));
    }

    /// Refuses an export whose items all look like another kind (ExportShape).
    static Status check_shape(const json& arr, std::string_view file, ExportKind expected) {
        ExportShape shape;
        for (const auto& item : arr) {
            shape.add_item(item);
        }
        if (auto wrong = shape.error(file, expected); !wrong.empty()) {
            return fail(Errc::ConfigInvalid, std::move(wrong));
        }
        return ok();
    }

    /// Why a rule that references `list` is skipped: the lists export has its `count` but
    /// not its items, so `in $list` would never match (or, under `not`, always).
    [[nodiscard]] std::string without_items_reason(const PolicyList& list) const {
        return "list " + list.id + " (\"" + list.name + "\") has count " +
               std::to_string(list.count_without_items) + " but no items in " + lists_file +
               ": the lists export was taken without items (GET /accounts/{account_id}/gateway/"
               "lists returns lists without them); export with `dnslab-probe gateway-export`, "
               "or add each list's items from GET /accounts/{account_id}/gateway/lists/"
               "{list_id}/items";
    }

    /// Warns for every location ID a rule compares `dns.location` with that the locations
    /// export does not have: the rule loads (Gateway would run it), but no query is ever
    /// attributed to that ID, which is surely a mistake (a location deleted, an export of
    /// another account).
    void check_location_ids(const Rule& r, const std::string& where) {
        if (locations_file.empty()) {
            return;
        }
        const std::pair<const char*, const Expr*> exprs[] = {{"traffic", &r.traffic},
                                                             {"identity", &r.identity},
                                                             {"device_posture", &r.device_posture}};
        // No structured bindings: the lambdas below capture these (clang 14 cannot).
        for (const auto& entry : exprs) {
            const char* field = entry.first;
            const Expr* expr = entry.second;
            std::vector<std::pair<std::size_t, std::string>> missing; // (column, id)
            std::function<void(const Node&)> walk = [&](const Node& n) {
                for (const auto& kid : n.kids) {
                    walk(*kid);
                }
                const Comparison* c = n.cmp.get();
                if (c == nullptr || c->field == nullptr || c->field->id != FieldId::DnsLocation) {
                    return;
                }
                auto check = [&](const std::string& id) {
                    if (set.locations.find_by_id(id) == nullptr) {
                        // The column of the quoted ID in the source (IDs are plain text).
                        const auto at = expr->source().find("\"" + id + "\"");
                        missing.emplace_back(at == std::string::npos ? 0 : at + 1, id);
                    }
                };
                if (c->op == Op::Eq || c->op == Op::Ne) {
                    check(c->str_value);
                } else if (c->op == Op::In) {
                    for (const auto& id : c->str_set) {
                        check(id);
                    }
                }
            };
            if (expr->root() != nullptr) {
                walk(*expr->root());
            }
            std::sort(missing.begin(), missing.end());
            missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
            for (auto& [column, id] : missing) {
                RuleWarning w;
                w.file = skip != nullptr ? skip->file : std::string();
                w.id = r.id;
                w.name = r.name;
                w.field = field;
                w.expression = expr->source();
                w.column = column;
                w.message = "location ID \"" + id + "\" is not in the locations export (" +
                            locations_file + "): no query is attributed to it; the rule loads";
                w.warning = where + ": " + w.field +
                            (column != 0 ? " column " + std::to_string(column) : std::string()) +
                            ": " + w.message;
                set.warnings.push_back(w.warning);
                set.rule_warnings.push_back(std::move(w));
            }
        }
    }

    Status load_rule(const ObjectView& o, std::size_t index, std::string_view file,
                     std::string& where) {
        Rule r;
        r.id = o.str("id", "#" + std::to_string(index));
        skip->id = r.id;
        r.name = o.str("name");
        skip->name = r.name;
        where = std::string(file) + ": rule " + r.id + " (\"" + r.name + "\")";
        r.description = o.str("description");
        bool dns = false;
        bool resolver = false;
        std::string filters;
        if (const json* f = o.array("filters")) {
            for (std::size_t i = 0; i < f->size(); ++i) {
                const std::string v = string_element((*f)[i], "filters", i);
                filters += (filters.empty() ? "" : ",") + v;
                dns = dns || v == "dns";
                resolver = resolver || v == "dns_resolver";
            }
        }
        if (!dns && !resolver) {
            return reject(where, "filters", "[" + filters + "] are not dns or dns_resolver");
        }
        r.resolver_policy = resolver && !dns;
        if (auto p = o.integer("precedence")) {
            r.precedence = *p;
        }
        r.enabled = o.boolean("enabled", true);
        const std::string action = o.str("action");
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
            return reject(where, "action", "\"" + action + "\" is not valid for DNS rules");
        }
        if ((r.action == Action::Resolve) != r.resolver_policy) {
            return reject(where, "action",
                          "\"" + action + "\" does not match filters [" + filters +
                              "] (resolve needs dns_resolver)");
        }
        // A list the export has without its items reads as unknown to the compiler (which
        // then stops at its `$`, giving the column), and the rule is skipped saying why.
        const PolicyList* without_items = nullptr;
        ListLookup lookup = [this, &without_items](std::string_view id) -> const PolicyList* {
            const PolicyList* list = set.find_list(id);
            if (list != nullptr && list->count_without_items != 0) {
                without_items = list;
                return nullptr;
            }
            return list;
        };
        for (const char* key : {"traffic", "identity", "device_posture"}) {
            std::string src = o.str(key);
            without_items = nullptr;
            auto c = compile_expr(src, lookup, expr_options);
            if (!c) {
                return reject(where, key,
                              without_items != nullptr ? without_items_reason(*without_items)
                                                       : c.error.message,
                              src, c.error.column);
            }
            for (const auto& w : c.warnings) {
                note(where, key, w.message, w.column, src);
            }
            const std::string_view k(key);
            (k == "traffic"    ? r.traffic
             : k == "identity" ? r.identity
                               : r.device_posture) = std::move(*c.expr);
        }
        Phase p = std::max({r.traffic.phase(), r.identity.phase(), r.device_posture.phase()});
        r.phase = p == Phase::Pre ? Phase::Pre : Phase::Post;
        if (r.phase != Phase::Pre &&
            (r.action == Action::Override || r.action == Action::SafeSearch ||
             r.action == Action::YtRestricted)) {
            // Gateway: these actions may only use pre-resolution selectors.
            return reject(where, "action",
                          "\"" + action + "\" cannot use during- or post-resolution selectors");
        }
        if (r.resolver_policy && r.phase != Phase::Pre) {
            return reject(where, "traffic",
                          "resolver policies can only use pre-resolution selectors");
        }
        static const json kEmpty = json::object();
        const auto settings = o.object("rule_settings");
        if (auto st =
                load_settings(settings ? *settings : ObjectView(kEmpty, "rule_settings"), r, where);
            !st) {
            return st;
        }
        if (auto sched = o.object("schedule")) {
            auto s = load_schedule(*sched, where);
            if (!s) {
                return s.error();
            }
            r.schedule = std::move(s).value();
        }
        if (auto exp = o.object("expiration")) {
            if (auto at = exp->str("expires_at"); !at.empty()) {
                r.expires_at = parse_rfc3339(at);
                if (!r.expires_at) {
                    return reject(where, "expiration.expires_at",
                                  "\"" + at + "\" is not an RFC 3339 timestamp");
                }
            }
            r.expired = exp->boolean("expired", false);
        }
        check_location_ids(r, where);
        (r.resolver_policy ? set.resolver_rules : set.dns_rules).push_back(std::move(r));
        return ok();
    }

    Result<Schedule> load_schedule(const ObjectView& sched, const std::string& where) {
        Schedule s;
        static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
        for (std::size_t d = 0; d < 7; ++d) {
            std::string spec = sched.str(kDays[d]);
            std::string_view rest = spec;
            while (!rest.empty()) {
                auto comma = rest.find(',');
                auto part = rest.substr(0, comma);
                rest =
                    comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
                auto dash = part.find('-');
                auto a = dash == std::string_view::npos ? std::nullopt
                                                        : parse_hhmm(part.substr(0, dash));
                auto b = dash == std::string_view::npos ? std::nullopt
                                                        : parse_hhmm(part.substr(dash + 1));
                if (!a || !b || *b <= *a) {
                    return reject(where, std::string("schedule.") + kDays[d],
                                  "bad interval \"" + std::string(part) + "\" (want HH:MM-HH:MM)");
                }
                s.days[d].emplace_back(*a, *b);
            }
        }
        s.time_zone = sched.str("time_zone");
        auto tz = zone(s.time_zone);
        if (const std::string fixed = TimeZone::underscored(s.time_zone); !tz && !fixed.empty()) {
            // The provider's own example writes "America/New York"; whether Gateway reads
            // it as the tz name is UNCONFIRMED, so the lab does and says so.
            if (auto alt = zone(fixed)) {
                note(where, "schedule.time_zone",
                     "\"" + s.time_zone + "\" is not a tz database name; read as \"" + fixed +
                         "\"");
                s.time_zone = fixed;
                tz = std::move(alt);
            }
        }
        if (!tz) {
            return reject(where, "schedule.time_zone", tz.error().detail);
        }
        s.tz = *tz;
        return s;
    }

    Status load_settings(const ObjectView& s, Rule& r, const std::string& where) {
        auto& rs = r.settings;
        rs.block_page_enabled = s.boolean("block_page_enabled", false);
        rs.block_reason = s.str("block_reason");
        if (auto bp = s.object("block_page")) {
            rs.block_page_target_uri = bp->str("target_uri");
        }
        if (const json* ips = s.array("override_ips")) {
            for (std::size_t i = 0; i < ips->size(); ++i) {
                const std::string text = string_element((*ips)[i], s.path_of("override_ips"), i);
                auto a = net::IpAddr::parse(text);
                if (!a) {
                    return reject(where, "rule_settings.override_ips",
                                  "bad address \"" + text + "\"");
                }
                rs.override_ips.push_back(*a);
            }
        }
        rs.override_host = s.str("override_host");
        if (r.action == Action::Override && rs.override_ips.empty() && rs.override_host.empty()) {
            return reject(where, "rule_settings",
                          "override needs rule_settings.override_ips or override_host");
        }
        rs.insecure_disable_dnssec_validation =
            s.boolean("insecure_disable_dnssec_validation", false);
        rs.ip_categories = s.boolean("ip_categories", false);
        rs.ip_indicator_feeds = s.boolean("ip_indicator_feeds", false);
        rs.ignore_cname_category_matches = s.boolean("ignore_cname_category_matches", false);
        rs.resolve_dns_through_cloudflare = s.boolean("resolve_dns_through_cloudflare", false);
        if (auto d = s.object("dns_resolvers")) {
            for (const char* fam : {"ipv4", "ipv6"}) {
                const json* list = d->array(fam);
                for (std::size_t i = 0; list != nullptr && i < list->size(); ++i) {
                    ObjectView e((*list)[i], d->path_of(fam) + "[" + std::to_string(i) + "]");
                    auto st = load_resolver_address(e, rs, where);
                    if (!st) {
                        return st;
                    }
                }
            }
        }
        if (auto d = s.object("resolve_dns_internally")) {
            rs.resolve_dns_internally = true;
            rs.internal_view_id = d->str("view_id");
            rs.internal_fallback = d->str("fallback", "none");
        }
        const int routes = (rs.resolve_dns_through_cloudflare ? 1 : 0) +
                           (rs.dns_resolvers.empty() ? 0 : 1) + (rs.resolve_dns_internally ? 1 : 0);
        if (r.action == Action::Resolve && routes != 1) {
            return reject(where, "rule_settings",
                          "a resolve rule needs exactly one of dns_resolvers, "
                          "resolve_dns_through_cloudflare, resolve_dns_internally");
        }
        return ok();
    }

    Status load_resolver_address(const ObjectView& e, RuleSettings& rs, const std::string& where) {
        ResolverAddress ra;
        const std::string ip_text = e.str("ip");
        auto ip = net::IpAddr::parse(ip_text);
        if (!ip) {
            return reject(where, e.path_of("ip"), "bad ip \"" + ip_text + "\"");
        }
        ra.ip = *ip;
        if (auto port = e.integer("port")) {
            if (*port <= 0 || *port > 65535) {
                return reject(where, e.path_of("port"), "bad port " + std::to_string(*port));
            }
            ra.port = static_cast<std::uint16_t>(*port);
        }
        ra.route_through_private_network = e.boolean("route_through_private_network", false);
        ra.vnet_id = e.str("vnet_id");
        rs.dns_resolvers.push_back(std::move(ra));
        return ok();
    }
};

Result<PolicySetPtr> load_impl(const PolicyTexts& t, const PolicyFiles& names) {
    auto set = std::make_shared<PolicySet>();
    Loader l{*set, t.zoneinfo_dir, {}};
    l.expr_options = t.expressions;
    l.expr_options.category_known = [&categories = set->categories](std::int64_t id) {
        return categories.known(id);
    };
    auto name = [](const std::string& n, const char* def) {
        return n.empty() ? std::string(def) : n;
    };
    // One input: its loader runs under the guard, and its error starts with the file name.
    auto step = [](const std::string& file, auto&& load) -> Status {
        Status st = util::guard_load(file, load);
        if (!st && st.error().detail.rfind(file, 0) != 0) {
            return fail(Errc::ConfigInvalid, file + ": " + st.error().detail);
        }
        return st;
    };
    const std::string ids_file = name(names.category_ids, "category ids");
    if (auto st = step(ids_file,
                       [&]() -> Status {
                           if (t.category_ids.empty()) {
                               set->categories.set_ids(CategoryDb::builtin_ids());
                               return ok();
                           }
                           auto ids = CategoryDb::parse_ids_csv(t.category_ids);
                           if (!ids) {
                               return ids.error();
                           }
                           set->categories.set_ids(std::move(*ids));
                           return ok();
                       });
        !st) {
        return st.error();
    }
    const std::string lists = name(names.lists, "lists");
    const std::string locations = name(names.locations, "locations");
    const std::string categories = name(names.categories, "categories");
    const std::string geo = name(names.geo, "geo");
    const std::string identities = name(names.identities, "identities");
    const std::string rules = name(names.rules, "rules");
    const std::string applications = name(names.applications, "applications");
    const std::string app_types = name(names.app_types, "app types");
    const std::string feeds = name(names.indicator_feeds, "indicator feeds");
    // Lists before rules, so `$<id>` references resolve when a rule compiles.
    const std::pair<const std::string*, std::function<Status()>> steps[] = {
        {&lists, [&] { return t.lists.empty() ? ok() : l.load_lists(t.lists, lists); }},
        {&locations,
         [&] { return t.locations.empty() ? ok() : l.load_locations(t.locations, locations); }},
        {&categories,
         [&]() -> Status {
             if (t.categories.empty()) {
                 return ok();
             }
             if (auto wrong = json_instead_of_csv(
                     t.categories, categories,
                     "a categories CSV (domain,categories) (--categories); Gateway's category "
                     "names and IDs go in [policy] category_ids, as gateway-export's "
                     "category_ids.csv");
                 !wrong.empty()) {
                 return fail(Errc::ConfigInvalid, std::move(wrong));
             }
             auto st = set->categories.add_csv(t.categories);
             set->categories.shrink();
             for (auto& w : set->categories.take_warnings()) {
                 set->warnings.push_back(categories + ": " + w);
             }
             return st;
         }},
        {&geo, [&] { return t.geo.empty() ? ok() : set->geo.add_csv(t.geo); }},
        {&t.mmdb_path,
         [&] { return t.mmdb_path.empty() ? ok() : set->geo.open_mmdb(t.mmdb_path); }},
        {&identities,
         [&] { return t.identities.empty() ? ok() : l.load_identities(t.identities, identities); }},
        {&applications,
         [&] {
             return t.applications.empty()
                        ? ok()
                        : set->applications.add_json(t.applications, applications);
         }},
        {&app_types,
         [&] {
             return t.app_types.empty() ? ok() : set->applications.add_json(t.app_types, app_types);
         }},
        {&feeds,
         [&] {
             return t.indicator_feeds.empty()
                        ? ok()
                        : set->indicator_feeds.add_json(t.indicator_feeds, feeds);
         }},
        {&rules, [&] { return t.rules.empty() ? ok() : l.load_rules(t.rules, rules); }},
    };
    for (const auto& [file, load] : steps) {
        if (auto st = step(*file, load); !st) {
            return st.error();
        }
    }
    if (auto st = step("rule index",
                       [&] {
                           build_rule_index(*set);
                           return ok();
                       });
        !st) {
        return st.error();
    }
    return PolicySetPtr(std::move(set));
}

} // namespace

Result<PolicySetPtr> load_policy_texts(const PolicyTexts& texts) {
    return load_impl(texts, PolicyFiles{});
}

Result<PolicySetPtr> load_policy(const PolicyFiles& files) {
    PolicyTexts t;
    auto read = [&files](const std::string& path, std::string& out) -> Status {
        if (path.empty()) {
            return ok();
        }
        auto r = read_file(path, files.max_input_bytes);
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
          std::pair{&files.identities, &t.identities},
          std::pair{&files.applications, &t.applications},
          std::pair{&files.app_types, &t.app_types},
          std::pair{&files.indicator_feeds, &t.indicator_feeds}}) {
        if (auto st = util::guard_load(*path,
                                       [&, file = path, text = out] { return read(*file, *text); });
            !st) {
            return st.error();
        }
    }
    t.mmdb_path = files.mmdb;
    t.zoneinfo_dir = files.zoneinfo_dir;
    t.expressions = files.expressions;
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
