// SPDX-License-Identifier: MIT
#include "resolver/policy/behaviour.hpp"

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "resolver/util/load_guard.hpp"

namespace resolver::policy {

std::string Behaviour::to_json() const {
    nlohmann::json j;
    j["block_ipv4"] = block_ipv4;
    j["block_ipv6"] = block_ipv6;
    j["block_refused_all_types"] = block_refused_all_types;
    j["block_page_ipv4"] = block_page_ipv4;
    j["block_page_ipv6"] = block_page_ipv6;
    j["generated_ttl"] = generated_ttl;
    j["request_context_ede_code"] = request_context_ede_code;
    j["request_context_ede_text"] = request_context_ede_text;
    j["block_ede_code"] = block_ede_code;
    j["block_ede_text"] = block_ede_text;
    j["override_host_mode"] = override_host_mode;
    j["override_https"] = override_https;
    nlohmann::json ss = nlohmann::json::object();
    for (const auto& [k, v] : safesearch_targets) {
        ss[k] = v;
    }
    j["safesearch_targets"] = ss;
    j["ytrestricted_target"] = ytrestricted_target;
    j["youtube_domains"] = youtube_domains;
    j["regex_anchored"] = regex_anchored;
    j["fqdn_lowercase"] = fqdn_lowercase;
    j["fqdn_trailing_dot"] = fqdn_trailing_dot;
    j["wirefilter_strict_escapes"] = wirefilter_strict_escapes;
    j["continent_values"] = std::string(continent_values_name(continent_values));
    j["ytrestricted_decision"] = ytrestricted_decision;
    j["always_block"] = always_block;
    j["always_block_categories"] = always_block_categories;
    j["gateway_domain"] = gateway_domain;
    j["client_default_fallback"] = client_default_fallback;
    j["internal_upstream"] = internal_upstream;
    j["custom_resolver_selection"] = custom_resolver_selection;
    return j.dump();
}

std::string_view continent_values_name(ContinentValues v) {
    switch (v) {
    case ContinentValues::Code:
        return "code";
    case ContinentValues::Name:
        return "name";
    case ContinentValues::Both:
        return "both";
    }
    return "?";
}

namespace {

Error bad(std::string_view key, std::string_view want) {
    return fail(Errc::ConfigInvalid,
                "[behaviour] " + std::string(key) + ": expected " + std::string(want));
}

} // namespace

Result<Behaviour> parse_behaviour(const toml::table& table) {
    Behaviour b;
    for (const auto& [k, value] : table) {
        // A reference, not the binding itself: clang 14 (the fuzz build) cannot capture
        // structured bindings in lambdas (P1091, implemented in clang 16).
        const toml::node& node = value;
        std::string_view key = k.str();
        auto str = [&](std::string& out) -> bool {
            if (auto v = node.value<std::string>()) {
                out = *v;
                return true;
            }
            return false;
        };
        auto boolean = [&](bool& out) -> bool {
            if (auto v = node.value<bool>()) {
                out = *v;
                return true;
            }
            return false;
        };
        auto integer = [&](auto& out, std::int64_t lo, std::int64_t hi) -> bool {
            // value_exact: value<int64_t>() casts an out-of-range float (undefined behaviour).
            if (auto v = node.value_exact<std::int64_t>(); v && *v >= lo && *v <= hi) {
                out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
                return true;
            }
            return false;
        };
        auto strings = [&](std::vector<std::string>& out) -> bool {
            const auto* arr = node.as_array();
            if (arr == nullptr) {
                return false;
            }
            out.clear();
            for (const auto& e : *arr) {
                auto v = e.value<std::string>();
                if (!v) {
                    return false;
                }
                out.push_back(*v);
            }
            return true;
        };
        bool ok = false;
        if (key == "block_ipv4") {
            ok = strings(b.block_ipv4);
        } else if (key == "block_ipv6") {
            ok = strings(b.block_ipv6);
        } else if (key == "block_refused_all_types") {
            ok = boolean(b.block_refused_all_types);
        } else if (key == "block_page_ipv4") {
            ok = strings(b.block_page_ipv4);
        } else if (key == "block_page_ipv6") {
            ok = strings(b.block_page_ipv6);
        } else if (key == "generated_ttl") {
            ok = integer(b.generated_ttl, 0, 0x7fffffff);
        } else if (key == "request_context_ede_code") {
            ok = integer(b.request_context_ede_code, 0, 65535);
        } else if (key == "request_context_ede_text") {
            ok = str(b.request_context_ede_text);
        } else if (key == "block_ede_code") {
            ok = integer(b.block_ede_code, 0, 65535);
        } else if (key == "block_ede_text") {
            ok = str(b.block_ede_text);
        } else if (key == "override_host_mode") {
            ok = str(b.override_host_mode) &&
                 (b.override_host_mode == "cname" || b.override_host_mode == "flatten");
            if (!ok) {
                return bad(key, "\"cname\" or \"flatten\"");
            }
        } else if (key == "override_https") {
            ok = str(b.override_https) &&
                 (b.override_https == "nodata" || b.override_https == "refused");
            if (!ok) {
                return bad(key, "\"nodata\" or \"refused\"");
            }
        } else if (key == "safesearch_targets") {
            const auto* t = node.as_table();
            if (t != nullptr) {
                b.safesearch_targets.clear();
                ok = true;
                for (const auto& [dk, dv] : *t) {
                    auto v = dv.value<std::string>();
                    if (!v) {
                        ok = false;
                        break;
                    }
                    b.safesearch_targets.emplace_back(std::string(dk.str()), *v);
                }
            }
            if (!ok) {
                return bad(key, "a table of domain = \"safe host\"");
            }
        } else if (key == "ytrestricted_target") {
            ok = str(b.ytrestricted_target);
        } else if (key == "youtube_domains") {
            ok = strings(b.youtube_domains);
        } else if (key == "regex_anchored") {
            ok = boolean(b.regex_anchored);
        } else if (key == "fqdn_lowercase") {
            ok = boolean(b.fqdn_lowercase);
        } else if (key == "fqdn_trailing_dot") {
            ok = boolean(b.fqdn_trailing_dot);
        } else if (key == "wirefilter_strict_escapes") {
            ok = boolean(b.wirefilter_strict_escapes);
        } else if (key == "continent_values") {
            std::string v;
            const bool is_string = str(v);
            for (auto mode :
                 {ContinentValues::Code, ContinentValues::Name, ContinentValues::Both}) {
                if (is_string && v == continent_values_name(mode)) {
                    b.continent_values = mode;
                    ok = true;
                }
            }
            if (!ok) {
                return bad(key, "\"code\", \"name\" or \"both\"");
            }
        } else if (key == "ytrestricted_decision") {
            ok = integer(b.ytrestricted_decision, 0, 255);
        } else if (key == "always_block") {
            ok = boolean(b.always_block);
        } else if (key == "always_block_categories") {
            const auto* arr = node.as_array();
            if (arr != nullptr) {
                ok = true;
                b.always_block_categories.clear();
                for (const auto& e : *arr) {
                    auto v = e.value_exact<std::int64_t>();
                    if (!v) {
                        ok = false;
                        break;
                    }
                    b.always_block_categories.push_back(static_cast<int>(*v));
                }
            }
        } else if (key == "gateway_domain") {
            ok = str(b.gateway_domain);
        } else if (key == "client_default_fallback") {
            ok = boolean(b.client_default_fallback);
        } else if (key == "internal_upstream") {
            ok = str(b.internal_upstream);
        } else if (key == "custom_resolver_selection") {
            ok = str(b.custom_resolver_selection) && (b.custom_resolver_selection == "fastest" ||
                                                      b.custom_resolver_selection == "order");
            if (!ok) {
                return bad(key, "\"fastest\" or \"order\"");
            }
        } else {
            return fail(Errc::ConfigInvalid,
                        "[behaviour] unknown setting '" + std::string(key) + "'");
        }
        if (!ok) {
            return bad(key, "a value of the documented type (see docs/policy.md)");
        }
    }
    return b;
}

namespace {
Result<Behaviour> parse_behaviour_toml_unguarded(std::string_view document) {
    toml::table doc;
    try {
        doc = toml::parse(document);
    } catch (const toml::parse_error& e) {
        return fail(Errc::ConfigInvalid, "[behaviour] TOML line " +
                                             std::to_string(e.source().begin.line) + " column " +
                                             std::to_string(e.source().begin.column) + ": " +
                                             std::string(e.description()));
    }
    // Either a whole config with a [behaviour] table, or the table's own keys (the form
    // config::Config::behaviour_toml carries).
    if (const auto* t = doc["behaviour"].as_table()) {
        return parse_behaviour(*t);
    }
    return parse_behaviour(doc);
}

} // namespace

Result<Behaviour> parse_behaviour_toml(std::string_view document) {
    // Reached on reload too: nothing toml++ or an allocation throws may end the process.
    return util::guard_load("[behaviour]",
                            [&] { return parse_behaviour_toml_unguarded(document); });
}

} // namespace resolver::policy
