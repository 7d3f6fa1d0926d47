// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resolver/attribution/attribute.hpp"
#include "resolver/core/result.hpp"
#include "resolver/policy/expr.hpp"

namespace toml {
inline namespace v3 {
class table;
}
} // namespace toml

namespace resolver::policy {

/// Every point the Gateway sources leave open (UNCONFIRMED in the reference), as a named
/// setting with the most likely behaviour as its default (DESIGN.md, "Behaviour the sources
/// leave open"). Configured from the `[behaviour]` TOML table; the log records to_json().
/// docs/policy.md lists each setting with its source.
struct Behaviour {
    // ---- block answers (reference §3) ----
    /// A answer for a block without block page. [DOC] Actions page: 0.0.0.0.
    std::vector<std::string> block_ipv4{"0.0.0.0"};
    /// AAAA answer for a block without block page. [DOC] Actions page: `::`.
    std::vector<std::string> block_ipv6{"::"};
    /// Historic behaviour ([HIST] pre-2022 docs, still on "Test DNS filtering"): REFUSED for
    /// every type, A/AAAA included, when the block page is off.
    bool block_refused_all_types = false;
    /// A answer with the block page on. [DOC] test-dns-filtering dig output.
    std::vector<std::string> block_page_ipv4{"162.159.36.12", "162.159.46.12"};
    /// AAAA answer with the block page on. UNCONFIRMED (no IPv6 block-page address published):
    /// `::` like a block without page; an empty list answers NODATA (NOERROR, no records).
    std::vector<std::string> block_page_ipv6{"::"};
    /// TTL of answers Gateway generates (blocks, overrides, safe search CNAMEs). The examples
    /// show 60; the exact value is UNCONFIRMED.
    std::uint32_t generated_ttl = 60;

    // ---- EDE (RFC 8914) ----
    /// EDE on blocks made by `dns.categories_in_request_context_matches` ([DOC] common-policies:
    /// 15 Blocked plus the matched category IDs). 0 disables.
    std::uint16_t request_context_ede_code = 15;
    /// EDE on every other policy block. 0 (default) = none: the documented `dig` output of a
    /// blocked test name shows no EDE. Set 15 (Blocked) or 17 (Filtered) to match a customer.
    std::uint16_t block_ede_code = 0;
    /// EXTRA-TEXT for `block_ede_code`; "{categories}" is replaced by the matched IDs as a
    /// JSON array, "{rule}" by the rule id.
    std::string block_ede_text;
    /// EXTRA-TEXT for request-context blocks (format UNCONFIRMED): same placeholders.
    std::string request_context_ede_text = "{\"categories\":{categories}}";

    // ---- override / safe search ----
    /// `override_host` answer: "cname" (CNAME to the host plus its A/AAAA, like safe search)
    /// or "flatten" (the host's A/AAAA under the query name). UNCONFIRMED; default cname.
    std::string override_host_mode = "cname";
    /// HTTPS (type 65) queries under an Override with `override_ips`: [DOC] says A, AAAA and
    /// HTTPS are overridden, but an address list cannot be an HTTPS record. "nodata" (default:
    /// NOERROR with no answer, so clients fall back to A/AAAA) or "refused".
    std::string override_https = "nodata";
    /// Safe search targets: (domain suffix, safe host). [HIST] Gateway docs; Yandex UNCONFIRMED.
    std::vector<std::pair<std::string, std::string>> safesearch_targets{
        {"google.com", "forcesafesearch.google.com"},
        {"bing.com", "strict.bing.com"},
        {"duckduckgo.com", "safe.duckduckgo.com"},
        {"youtube.com", "restrict.youtube.com"},
        {"youtube-nocookie.com", "restrict.youtube.com"},
        {"youtubei.googleapis.com", "restrict.youtube.com"},
        {"youtube.googleapis.com", "restrict.youtube.com"},
        {"yandex.ru", "familysearch.yandex.ru"},
        {"yandex.com", "familysearch.yandex.ru"},
    };
    /// YouTube Restricted target: strict `restrict.youtube.com` ([HIST]) or
    /// `restrictmoderate.youtube.com` (UNCONFIRMED if ever used).
    std::string ytrestricted_target = "restrict.youtube.com";
    /// Names ytrestricted applies to (suffixes).
    std::vector<std::string> youtube_domains{"youtube.com",
                                             "www.youtube.com",
                                             "m.youtube.com",
                                             "youtubei.googleapis.com",
                                             "youtube.googleapis.com",
                                             "www.youtube-nocookie.com",
                                             "youtube-nocookie.com"};

    // ---- expression semantics ----
    /// `matches` anchoring. Rust `is_match` finds anywhere (default); true = whole value.
    bool regex_anchored = false;
    /// `dns.fqdn`/`dns.domains`/CNAME values lower-cased (UNCONFIRMED; Logpush QueryName is).
    bool fqdn_lowercase = true;
    /// Keep the trailing dot on `dns.fqdn` and friends (UNCONFIRMED; Logpush shows none).
    bool fqdn_trailing_dot = false;
    /// Refuse `\.` and `\|` in strings as open-source wirefilter does. false (default):
    /// accept them as Gateway does (Cloudflare's "Block phishing attacks" API example has
    /// `\|`); what exactly Gateway makes of them is UNCONFIRMED (docs/policy.md).
    bool wirefilter_strict_escapes = false;
    /// What `dns.src.geo.continent` / `dns.dst.geo.continent` hold: codes (`NA`), names
    /// (`North America`, the selector docs' example) or codes with names in rules read as
    /// codes ("both", default). UNCONFIRMED which Gateway matches.
    ContinentValues continent_values = ContinentValues::Both;
    /// The parser's share of the settings above, for load_policy (PolicyFiles::expressions).
    [[nodiscard]] ExprOptions expression_options() const {
        ExprOptions o;
        o.strict_escapes = wirefilter_strict_escapes;
        o.continent_values = continent_values;
        return o;
    }

    // ---- decisions (reference §5.2) ----
    /// ResolverDecision for ytrestricted (no value documented): 7 overrideForSafeSearch.
    int ytrestricted_decision = 7;
    /// Cloudflare's always-blocked categories ([DOC] decision 6 blockedAlwaysCategory: 170
    /// Child Abuse, parent 31). Applied before every rule when a location matched.
    bool always_block = true;
    std::vector<int> always_block_categories{31, 170};

    // ---- attribution (reference §4) ----
    /// The Gateway DoH/DoT domain whose first label is the location subdomain.
    std::string gateway_domain = "cloudflare-gateway.com";
    /// Use the `client_default` location for DoH/DoT queries that carry no location hint at
    /// all (the WARP client's default DoH endpoint). Plain DNS never falls back.
    bool client_default_fallback = true;
    [[nodiscard]] attribution::AttributionSettings attribution() const noexcept {
        return {gateway_domain, client_default_fallback};
    }

    // ---- routing ----
    /// Upstream URL for `resolve_dns_internally` routes (the lab's stand-in for Cloudflare
    /// Internal DNS); empty = the default upstream.
    std::string internal_upstream;
    /// Which custom resolver (`dns_resolvers`) a query goes to first. [DOC] resolver-policies:
    /// Gateway tries public, then default-vnet, then custom-vnet resolvers and caches the
    /// fastest "per user, per data centre"; how it measures speed is UNCONFIRMED. "fastest"
    /// (default): once every resolver of the rule has answered once (in the documented
    /// order), the one with the lowest smoothed answer time goes first, per rule and process
    /// (the lab has one data centre and does not split per user). "order": always the
    /// documented order, failing over to the next.
    std::string custom_resolver_selection = "fastest";

    /// Compact JSON object of every setting, for the log and `explain`.
    [[nodiscard]] std::string to_json() const;
};

/// "code", "name" or "both": the [behaviour] spelling of a ContinentValues.
std::string_view continent_values_name(ContinentValues v);

/// Reads the `[behaviour]` table (the table itself, not the whole document). Unknown keys
/// and wrong types are errors naming the key.
Result<Behaviour> parse_behaviour(const toml::table& table);
/// Parses TOML text: a document with a `[behaviour]` table, or the table's keys at top level
/// (config::Config::behaviour_toml). Empty text = defaults.
Result<Behaviour> parse_behaviour_toml(std::string_view document);

} // namespace resolver::policy
