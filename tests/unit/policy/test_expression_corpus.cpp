// SPDX-License-Identifier: MIT
// Issue 17: a corpus of DNS-policy expressions that run on Gateway today, quoted from public
// sources (each row names its repository and path), loaded as one rule each through the real
// loader (load_policy_texts) and, when the rule loads, run through the real evaluator
// (evaluate_pre, then evaluate_post with an upstream answer) for queries that must and must
// not match. The expected outcome is one of: loads; loads with a named warning; refused with
// a named reason (the rule is skipped, the rest of an export would load).
//
// Quoting: expressions are given as the rule's `traffic` (or `identity`, `device_posture`)
// string after the source's own JSON/HCL unescaping. Documentation placeholders are kept
// where a row shows what the loader says about them; where a row says "<LIST_UUID> replaced",
// the placeholder is the lab list below, as a customer's export would have it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;
namespace net = resolver::net;
namespace wire = resolver::wire;

namespace {

// Repositories and paths the rows quote.
#define DOCS "cloudflare/cloudflare-docs "
#define DNS_POLICIES DOCS "src/content/docs/cloudflare-one/policies/gateway/dns-policies/"
#define COMMON DNS_POLICIES "common-policies.mdx"
#define INDEX DNS_POLICIES "index.mdx"
#define RECOMMENDED DOCS "src/content/partials/cloudflare-one/gateway/policies/dash-plus-api/dns/"
#define SELECTORS DOCS "src/content/partials/cloudflare-one/gateway/selectors/"
#define DOCS_2021                                                                                  \
    DOCS "products/cloudflare-one/src/content/policies/filtering/dns-policies-builder/index.md"
#define PROVIDER "cloudflare/terraform-provider-cloudflare "
#define PROVIDER_TESTDATA PROVIDER "internal/services/zero_trust_gateway_policy/testdata/"
#define PROVIDER_EXAMPLE                                                                           \
    PROVIDER "examples/resources/cloudflare_zero_trust_gateway_policy/resource.tf"

constexpr const char* kCorpLists = "5f1f7a3e-0c2b-4d6e-9a8b-3c4d5e6f7a8b"; // DOMAIN
constexpr const char* kBadIps = "22509276-1c53-4a46-933a-9ff5e5e7b2ec";    // IP (2021 docs' UUID)

/// The lab data every row runs against.
PolicyTexts lab_inputs() {
    PolicyTexts t;
    t.lists = R"j([
      {"id":"5f1f7a3e-0c2b-4d6e-9a8b-3c4d5e6f7a8b","name":"Corporate domains","type":"DOMAIN",
       "items":[{"value":"corp.example.com"}]},
      {"id":"22509276-1c53-4a46-933a-9ff5e5e7b2ec","name":"DShield","type":"IP",
       "items":[{"value":"203.0.113.66"}]}])j";
    t.locations =
        R"j([{"id":"location_uuid_1","name":"HQ"},{"id":"location_uuid_2","name":"Branch"},
                       {"id":"loc-other","name":"Other"}])j";
    // 180, 33 and 179 are Cloudflare IDs the published table lacks.
    t.categories = "domain,categories\nmalware.example,117\nphish.example,131\nads.example,66\n"
                   "cipa.example,182\nsearch.example,145\nsocial.example,149\n"
                   "risky.example,180\nboth33.example,33\ncat179.example,179\n";
    t.geo = "cidr,country,continent\n192.0.2.0/24,US,NA\n198.51.100.0/24,RU,EU\n"
            "203.0.113.0/24,DE,EU\n";
    t.applications = R"j({"result":[
      {"id":25,"name":"Artificial Intelligence"},{"id":13,"name":"Lab CRM type"},
      {"id":505,"application_type_id":25,"name":"Lab AI app","domains":["ai-app.example"]},
      {"id":606,"application_type_id":13,"name":"Lab CRM","domains":["crm.example"]}]})j";
    t.identities = R"j([
      {"token":"t-contractor","email":"user-name@company.com","name":"user-name",
       "groups":[{"id":"12jf495bhjd7893ml09o","name":"Contractors",
                  "email":"contractors@company.com"}],
       "oidc_claims":{"department":"engineering"},
       "device_posture":{"passed":["1308749e-fcfb-4ebc-b051-fe022b632644"],"failed":[]}},
      {"token":"t-marketing","email":"m@company.com","name":"m",
       "groups":[{"id":"g-mkt","name":"Marketing","email":"mkt@company.com"}]},
      {"token":"t-finance","email":"f@company.com","name":"f",
       "groups":[{"id":"g-fin","name":"finance","email":"fin@company.com"}],
       "device_posture":{"passed":[],"failed":["1308749e-fcfb-4ebc-b051-fe022b632644"]}}])j";
    return t;
}

/// One query: what the client sent and, for post-resolution rules, what the upstream said.
struct Probe {
    const char* name;
    std::uint16_t qtype = wire::rrtype::A;
    const char* src = "192.0.2.1";
    const char* token = "";
    const char* location = "loc-other";
    const char* doh = "";
    const char* dst = "162.159.36.5";
    std::vector<std::int64_t> request_categories{}; // EDNS 65050; empty = none sent
    const char* resolved = "192.0.2.200";           // the upstream's A record
    const char* cname = "";
    const char* mx = "";
    const char* ptr = "";
    const char* txt = "";
    const char* ns = "";
};

enum class Expect { Loads, Warns, Refused };

struct Case {
    const char* source;
    const char* traffic;
    Expect expect = Expect::Loads;
    const char* reason = ""; // in the warning (Warns) or the skip reason (Refused)
    std::vector<Probe> match{};
    std::vector<Probe> no_match{};
    const char* identity = "";
    const char* device_posture = "";
    const char* action = "block";
    const char* filter = "dns";
    const char* settings = "";       // rule_settings JSON
    const char* time_zone = nullptr; // a schedule (Monday 08:00-12:30,13:30-17:00) in this zone
    std::int64_t now = 0;
    bool strict_escapes = false; // [behaviour] wirefilter_strict_escapes = true
};

// Monday 2025-01-06 10:00 in New York (15:00 UTC): inside the provider's test schedule.
constexpr std::int64_t kMondayMorningNewYork = 1736175600;

const std::vector<Case>& corpus() {
    using enum Expect;
    static const std::vector<Case> kCases = {
        // ---- Cloudflare's common DNS policies (API tab) ----
        {.source = COMMON " (Allow corporate domains, as written)",
         .traffic = R"x(any(dns.domains[*] in $<LIST_UUID>))x",
         .expect = Refused,
         .reason = "expected a list id after '$'"},
        {.source = COMMON " (Allow corporate domains, <LIST_UUID> replaced)",
         .traffic = R"x(any(dns.domains[*] in $5f1f7a3e-0c2b-4d6e-9a8b-3c4d5e6f7a8b))x",
         .match = {{.name = "www.corp.example.com"}, {.name = "corp.example.com"}},
         .no_match = {{.name = "example.org"}, {.name = "corp.example.com.evil.example"}},
         .action = "allow"},
        {.source =
             RECOMMENDED "block-security-categories.mdx (All-DNS-SecurityCategories-Blocklist)",
         .traffic =
             R"x(any(dns.security_category[*] in {68 178 80 83 176 175 117 131 134 151 153}))x",
         .match = {{.name = "malware.example"}, {.name = "www.phish.example"}},
         .no_match = {{.name = "ads.example"}}},
        {.source = RECOMMENDED "block-content-categories.mdx (All-DNS-ContentCategories-Blocklist)",
         .traffic =
             R"x(any(dns.content_category[*] in {17 85 87 102 157 135 138 180 162 32 169 177 128 15 115 119 124 141 161}))x",
         .expect = Warns,
         .reason = "traffic column 58: category ID 180 is not in the lab's category table",
         .match = {{.name = "risky.example"}},
         .no_match = {{.name = "ads.example"}, {.name = "malware.example"}}},
        {.source = RECOMMENDED "block-applications.mdx (All-DNS-Application-Blocklist)",
         .traffic = R"x(any(app.type.ids[*] in {25}))x",
         .match = {{.name = "ai-app.example"}, {.name = "chat.ai-app.example"}},
         .no_match = {{.name = "crm.example"}}},
        {.source = COMMON " (Block banned countries)",
         .traffic =
             R"x(any(dns.dst.geo.country[*] in {"AF" "BY" "CD" "CU" "IR" "IQ" "KP" "MM" "RU" "SD" "SY" "UA" "ZW"}))x",
         .match = {{.name = "x.example", .resolved = "198.51.100.7"}},
         .no_match = {{.name = "x.example", .resolved = "203.0.113.5"}}},
        {.source = COMMON " (Block top-level domains)",
         .traffic =
             R"x(any(dns.domains[*] matches "[.](cn|ru)$") or any(dns.domains[*] matches "[.](rest|hair|top|live|cfd|boats|beauty|mom|skin|okinawa)$") or any(dns.domains[*] matches "[.](zip|mobi)$"))x",
         .match = {{.name = "shop.example.top"}, {.name = "a.b.zip"}, {.name = "news.ru"}},
         .no_match = {{.name = "top.example.com"}, {.name = "example.com"}}},
        // `\|` as the API tab writes it (the dashboard tab's `\|` is Markdown's escape of `|`
        // inside a table): Gateway accepts it; the lab passes it to RE2, where it is a
        // literal pipe, so the keywords are not alternatives (docs/policy.md).
        {.source = COMMON " (Block phishing attacks, <LIST_UUID> replaced)",
         .traffic =
             R"x(not(any(dns.domains[*] in $5f1f7a3e-0c2b-4d6e-9a8b-3c4d5e6f7a8b)) and any(dns.domains[*] matches ".*okta.*\|.*cloudflare.*\|.*mfa.*\|.sso.*"))x",
         .expect = Warns,
         .reason = "traffic column 107: '\\|' in a matches pattern is a literal '|'",
         .match = {{.name = "okta|cloudflare|mfa|xsso.evil.example"}},
         .no_match = {{.name = "okta.evil.example"},
                      {.name = "okta|cloudflare|mfa|xsso.corp.example.com"}}},
        {.source = COMMON " (Block phishing attacks) under wirefilter_strict_escapes",
         .traffic =
             R"x(not(any(dns.domains[*] in $5f1f7a3e-0c2b-4d6e-9a8b-3c4d5e6f7a8b)) and any(dns.domains[*] matches ".*okta.*\|.*cloudflare.*\|.*mfa.*\|.sso.*"))x",
         .expect = Refused,
         .reason = "traffic column 107: invalid escape '\\|': refused as open-source wirefilter",
         .strict_escapes = true},
        {.source = COMMON " (Block malicious IPs, <LIST_UUID> replaced)",
         .traffic = R"x(any(dns.resolved_ips[*] in $22509276-1c53-4a46-933a-9ff5e5e7b2ec))x",
         .match = {{.name = "x.example", .resolved = "203.0.113.66"}},
         .no_match = {{.name = "x.example", .resolved = "203.0.113.5"}}},
        {.source = COMMON " (Turn on CIPA filter)",
         .traffic = R"x(any(dns.content_category[*] in {182}))x",
         .match = {{.name = "cipa.example"}},
         .no_match = {{.name = "ads.example"}}},
        {.source = COMMON " (Hide explicit search results)",
         .traffic = R"x(any(dns.content_category[*] in {145}))x",
         .match = {{.name = "search.example"}},
         .no_match = {{.name = "social.example"}},
         .action = "safesearch"},
        {.source = COMMON " (Check user identity)",
         .traffic = R"x(any(app.ids[*] in {606}))x",
         .match = {{.name = "crm.example", .token = "t-contractor"}},
         .no_match = {{.name = "crm.example", .token = "t-marketing"},
                      {.name = "ai-app.example", .token = "t-contractor"}},
         .identity = R"x(any(identity.groups.name[*] in {"Contractors"}))x"},
        {.source = COMMON " (Allow social media for Marketing)",
         .traffic = R"x(any(dns.content_category[*] in {149}))x",
         .match = {{.name = "social.example", .token = "t-marketing"}},
         .no_match = {{.name = "social.example", .token = "t-finance"}, {.name = "social.example"}},
         .identity = R"x(any(identity.groups.name[*] in {"Marketing"}))x",
         .action = "allow"},
        {.source = COMMON " (Block social media)",
         .traffic = R"x(any(dns.content_category[*] in {149}))x",
         .match = {{.name = "www.social.example"}},
         .no_match = {{.name = "search.example"}}},
        {.source = COMMON " (Force IPv4)",
         .traffic = R"x(dns.query_rtype == "AAAA" and any(dns.domains[*] == "example.com"))x",
         .match = {{.name = "www.example.com", .qtype = wire::rrtype::AAAA}},
         .no_match = {{.name = "www.example.com"},
                      {.name = "example.net", .qtype = wire::rrtype::AAAA}}},
        {.source = COMMON " (Force IPv6)",
         .traffic = R"x(dns.query_rtype == "A" and any(dns.domains[*] == "example.com"))x",
         .match = {{.name = "example.com"}},
         .no_match = {{.name = "example.com", .qtype = wire::rrtype::AAAA}}},
        // ---- DNS policies page, selector API examples ----
        {.source = INDEX " (Authoritative Nameserver IP)",
         .traffic = R"x(dns.authoritative_ns_ips == 198.51.100.0)x",
         .match = {{.name = "x.example", .ns = "198.51.100.0"}},
         .no_match = {{.name = "x.example", .ns = "198.51.100.1"}, {.name = "x.example"}}},
        {.source = INDEX " (DNS CNAME Response Value)",
         .traffic = R"x(any(dns.response.cname[*] in {"www.apple.com.edgekey.net"}))x",
         .match = {{.name = "www.apple.com", .cname = "www.apple.com.edgekey.net"}},
         .no_match = {{.name = "www.apple.com", .cname = "www.apple.com.akadns.net"}}},
        {.source = INDEX " (DNS MX Response Value)",
         .traffic = R"x(any(dns.response.mx[*] in {"gmail-smtp-in.l.google.com"}))x",
         .match = {{.name = "gmail.com",
                    .qtype = wire::rrtype::MX,
                    .mx = "gmail-smtp-in.l.google.com"}},
         .no_match = {{.name = "example.com", .qtype = wire::rrtype::MX, .mx = "mx.example.com"}}},
        {.source = INDEX " (DNS PTR Response Value)",
         .traffic = R"x(any(dns.response.ptr[*] in {"255.2.0.192.in-addr.arpa"}))x",
         .match = {{.name = "x.in-addr.arpa",
                    .qtype = wire::rrtype::PTR,
                    .ptr = "255.2.0.192.in-addr.arpa"}},
         .no_match = {{.name = "x.in-addr.arpa",
                       .qtype = wire::rrtype::PTR,
                       .ptr = "host.example"}}},
        {.source = INDEX " (DNS TXT Response Value)",
         .traffic = R"x(any(dns.response.txt[*] in {"your_text"}))x",
         .match = {{.name = "x.example", .qtype = wire::rrtype::TXT, .txt = "your_text"}},
         .no_match = {{.name = "x.example", .qtype = wire::rrtype::TXT, .txt = "v=spf1 -all"}}},
        {.source = INDEX " (Resolved Continent IP Geolocation)",
         .traffic = R"x(dns.dst.geo.continent == "EU")x",
         .match = {{.name = "x.example", .resolved = "203.0.113.5"}},
         .no_match = {{.name = "x.example", .resolved = "192.0.2.5"}}},
        {.source = INDEX " (Resolved Country IP Geolocation)",
         .traffic = R"x(dns.dst.geo.country == "RU")x",
         .match = {{.name = "x.example", .resolved = "198.51.100.7"}},
         .no_match = {{.name = "x.example", .resolved = "203.0.113.5"}}},
        {.source = INDEX " (Resolved IP)",
         .traffic = R"x(any(dns.resolved_ips[*] == 198.51.100.0))x",
         .match = {{.name = "x.example", .resolved = "198.51.100.0"}},
         .no_match = {{.name = "x.example", .resolved = "198.51.100.1"}}},
        // The docs' example value is the name; the table above it lists codes.
        {.source = SELECTORS "source-continent-dns.mdx, rendered by " INDEX " with dns.src",
         .traffic = R"x(dns.src.geo.continent == "North America")x",
         .match = {{.name = "x.example", .src = "192.0.2.1"}},
         .no_match = {{.name = "x.example", .src = "203.0.113.9"}}},
        {.source = SELECTORS "source-country.mdx, rendered by " INDEX " with dns.src",
         .traffic = R"x(dns.src.geo.country == "RU")x",
         .match = {{.name = "x.example", .src = "198.51.100.9"}},
         .no_match = {{.name = "x.example", .src = "192.0.2.1"}}},
        {.source = SELECTORS "domain.mdx (APIendpoint dns.domains); " PROVIDER_TESTDATA
                             "teamsruleconfignosettings.tf",
         .traffic = R"x(any(dns.domains[*] == "example.com"))x",
         .match = {{.name = "example.com"}, {.name = "www.example.com"}},
         .no_match = {{.name = "notexample.com"}, {.name = "example.com.evil.example"}}},
        {.source = SELECTORS "host-dns.mdx (APIendpoint dns.fqdn)",
         .traffic = R"x(dns.fqdn == "example.com")x",
         .match = {{.name = "example.com"}, {.name = "EXAMPLE.com."}},
         .no_match = {{.name = "www.example.com"}}},
        {.source = SELECTORS "location.mdx",
         .traffic = R"x(dns.location in {"location_uuid_1" "location_uuid_2"})x",
         .match = {{.name = "x.example", .location = "location_uuid_2"}},
         .no_match = {{.name = "x.example", .location = "loc-other"}}},
        {.source = SELECTORS "doh-subdomain.mdx",
         .traffic = R"x(dns.doh_subdomain == "abcdefg")x",
         .match = {{.name = "x.example", .doh = "abcdefg"}},
         .no_match = {{.name = "x.example", .doh = "hijklmn"}, {.name = "x.example"}}},
        {.source = SELECTORS "dns-resolver-ip.mdx",
         .traffic = R"x(any(dns.resolved_ip[*] == 198.51.100.0))x",
         .match = {{.name = "x.example", .dst = "198.51.100.0"}},
         .no_match = {{.name = "x.example", .dst = "162.159.36.5"}}},
        {.source = SELECTORS "content-categories.mdx",
         .traffic = R"x(any(dns.content_category[*] in {1}))x",
         .match = {{.name = "ads.example"}}, // subcategory 66, parent 1
         .no_match = {{.name = "malware.example"}}},
        {.source = SELECTORS "query-record-type.mdx",
         .traffic = R"x(dns.query_rtype == "TXT")x",
         .match = {{.name = "x.example", .qtype = wire::rrtype::TXT}},
         .no_match = {{.name = "x.example"}}},
        {.source = SELECTORS "source-ip-dns.mdx",
         .traffic = R"x(dns.src_ip == 198.51.100.0)x",
         .match = {{.name = "x.example", .src = "198.51.100.0"}},
         .no_match = {{.name = "x.example", .src = "198.51.100.1"}}},
        {.source =
             RECOMMENDED "block-dynamic-categories.mdx (All-DNS-Bock-Category-Matches-In-Request)",
         .traffic = R"x(dns.categories_in_request_context_matches)x",
         .match = {{.name = "ads.example", .request_categories = {66}}},
         .no_match = {{.name = "ads.example", .request_categories = {117}},
                      {.name = "ads.example"}}},
        // ---- identity selectors ----
        {.source = SELECTORS "saml-attributes.mdx",
         .traffic = "",
         .expect = Refused,
         .reason = "identity column 25: field 'identity.saml_attributes' is a map",
         .identity = R"x(identity.saml_attributes == "\"group=finance\"")x"},
        {.source = SELECTORS "user-email.mdx",
         .traffic = "",
         .match = {{.name = "x.example", .token = "t-contractor"}},
         .no_match = {{.name = "x.example", .token = "t-marketing"}, {.name = "x.example"}},
         .identity = R"x(identity.email == "user-name@company.com")x"},
        {.source = SELECTORS "user-group-ids.mdx",
         .traffic = "",
         .match = {{.name = "x.example", .token = "t-contractor"}},
         .no_match = {{.name = "x.example", .token = "t-finance"}},
         .identity = R"x(identity.groups.id == "12jf495bhjd7893ml09o")x"},
        {.source = SELECTORS "user-name.mdx",
         .traffic = "",
         .match = {{.name = "x.example", .token = "t-contractor"}},
         .no_match = {{.name = "x.example", .token = "t-finance"}},
         .identity = R"x(identity.name == "user-name")x"},
        {.source = SELECTORS "user-group-email.mdx",
         .traffic = "",
         .match = {{.name = "x.example", .token = "t-contractor"}},
         .no_match = {{.name = "x.example", .token = "t-marketing"}},
         .identity = R"x(identity.groups.email == "contractors@company.com")x"},
        {.source = SELECTORS "oidc-claims.mdx",
         .traffic = "",
         .match = {{.name = "x.example", .token = "t-contractor"}},
         .no_match = {{.name = "x.example", .token = "t-marketing"}},
         .identity = R"x(any(identity.oidc_claims[*] == "\"department=engineering\""))x"},
        // ---- the 2021 DNS policy builder page ----
        {.source = DOCS_2021 " (resolved IP or CIDR)",
         .traffic = R"x(any(dns.resolved_ips[*] in {1.2.3.3 1.2.3.4/30}))x",
         .match = {{.name = "x.example", .resolved = "1.2.3.3"},
                   {.name = "x.example", .resolved = "1.2.3.7"}},
         .no_match = {{.name = "x.example", .resolved = "1.2.3.8"}}},
        {.source = DOCS_2021 " (explicit IP; the code block's stray closing backtick left out)",
         .traffic = R"x(any(dns.resolved_ips[*] == 93.184.216.34))x",
         .match = {{.name = "example.com", .resolved = "93.184.216.34"}},
         .no_match = {{.name = "example.com", .resolved = "93.184.216.35"}}},
        {.source = DOCS_2021 " (IP list without hyphens; backtick left out)",
         .traffic = R"x(any(dns.resolved_ips[*] in $225092761c534a46933a9ff5e5e7b2ec))x",
         .match = {{.name = "x.example", .resolved = "203.0.113.66"}},
         .no_match = {{.name = "x.example", .resolved = "203.0.113.67"}}},
        {.source = DOCS_2021 " (IP list, exactly as the code block has it)",
         .traffic = R"x(any(dns.resolved_ips[*] in $225092761c534a46933a9ff5e5e7b2ec)`)x",
         .expect = Refused,
         .reason = "traffic column 62: unexpected input '`'"},
        // ---- the Terraform provider ----
        {.source = PROVIDER_TESTDATA "teamsruleconfigdns.tf",
         .traffic = R"x(any(dns.domains[*] == "example.com"))x",
         .match = {{.name = "www.example.com", .token = "t-finance"}},
         .no_match = {{.name = "www.example.com", .token = "t-marketing"},
                      {.name = "example.org", .token = "t-finance"}},
         .identity = R"x(any(identity.groups.name[*] in {"finance"}))x",
         .time_zone = "America/New_York",
         .now = kMondayMorningNewYork},
        {.source = PROVIDER_TESTDATA "teamsruleconfigdns.tf with " PROVIDER_EXAMPLE "'s time_zone",
         .traffic = R"x(any(dns.domains[*] == "example.com"))x",
         .expect = Warns,
         .reason = "schedule.time_zone: \"America/New York\" is not a tz database name; read as "
                   "\"America/New_York\"",
         .match = {{.name = "www.example.com", .token = "t-finance"}},
         .no_match = {{.name = "www.example.com", .token = "t-marketing"}},
         .identity = R"x(any(identity.groups.name[*] in {"finance"}))x",
         .time_zone = "America/New York",
         .now = kMondayMorningNewYork},
        {.source = PROVIDER_EXAMPLE " (an http rule: other filters are listed, not DNS rules)",
         .traffic =
             R"x(http.request.uri matches ".*a/partial/uri.*" and http.request.host in $01302951-49f9-47c9-a400-0297e60b6a10)x",
         .expect = Refused,
         .reason = "filters: [http] are not dns or dns_resolver",
         .identity = R"x(any(identity.groups.name[*] in {"finance"}))x",
         .action = "on",
         .filter = "http"},
        {.source = PROVIDER_EXAMPLE " (its device_posture expression, on a DNS rule)",
         .traffic = "",
         .match = {{.name = "x.example", .token = "t-contractor"}},
         .no_match = {{.name = "x.example", .token = "t-finance"}, {.name = "x.example"}},
         .device_posture =
             R"x(any(device_posture.checks.passed[*] in {"1308749e-fcfb-4ebc-b051-fe022b632644"}))x"},
        {.source = PROVIDER_TESTDATA "teamsruleconfigsafesearch.tf",
         .traffic = R"x(any(dns.domains[*] in {"google.com" "bing.com" "duckduckgo.com"}))x",
         .match = {{.name = "www.google.com"}, {.name = "bing.com"}},
         .no_match = {{.name = "google.org"}},
         .action = "safesearch"},
        {.source = PROVIDER_TESTDATA "teamsruleconfigdns-override.tf",
         .traffic = R"x(any(dns.domains[*] == "example.com"))x",
         .match = {{.name = "example.com"}},
         .no_match = {{.name = "example.net"}},
         .action = "override",
         .settings = R"j({"override_ips":["192.0.2.1","192.0.2.2"]})j"},
        {.source = PROVIDER_TESTDATA "teamsruleconfigdns-resolve-internal-with-view.tf",
         .traffic = R"x(any(dns.domains[*] == "internal.example.com"))x",
         .match = {{.name = "host.internal.example.com"}},
         .no_match = {{.name = "internal.example.org"}},
         .action = "resolve",
         .filter = "dns_resolver",
         .settings =
             R"j({"resolve_dns_internally":{"view_id":"view-1","fallback":"public_dns"}})j"},
        {.source = PROVIDER_TESTDATA "teamsruleconfigdns-resolve.tf",
         .traffic = R"x(any(dns.domains[*] == "example.com"))x",
         .match = {{.name = "www.example.com"}},
         .no_match = {{.name = "example.net"}},
         .action = "resolve",
         .filter = "dns_resolver",
         .settings = R"j({"dns_resolvers":{"ipv4":[{"ip":"2.2.2.2","port":5053}],
                                          "ipv6":[{"ip":"2001:DB8::","port":5053}]}})j"},
        // ---- real accounts (issue 17's import; reference: Gateway facts from real exports) ----
        {.source = "issue 17: a real account's content rule (IDs 33 and 180)",
         .traffic = R"x(dns.content_category[*] in {33 180})x",
         .expect = Refused,
         .reason = "wrap it in any(...) or all(...)"},
        {.source = "issue 17: a real account's content rule, in any()",
         .traffic = R"x(any(dns.content_category[*] in {33 180}))x",
         .expect = Warns,
         .reason = "traffic column 33: category IDs 33, 180 are not in the lab's category table",
         .match = {{.name = "risky.example"}, {.name = "both33.example"}},
         .no_match = {{.name = "ads.example"}}},
        {.source = "issue 17: a real account's security rule (ID 179)",
         .traffic = R"x(any(dns.security_category[*] in {179}))x",
         .expect = Warns,
         .reason = "category ID 179 is not",
         .match = {{.name = "cat179.example"}},
         .no_match = {{.name = "malware.example"}}},
        // ---- third-party configurations (refused, each with its reason) ----
        {.source =
             "Gravitas-Security/Cloudflare-Modules example/zone/zero_trust.tf (placeholder kept)",
         .traffic =
             R"x(any(dns.content_category[*] in {169 177 124 128 161}) and not(any(dns.domains[*] in $<outputID from domain_allow.tf>)))x",
         .expect = Refused,
         .reason = "traffic column 85: expected a list id after '$'"},
        {.source =
             "startupworks-bazam/terraform-cloudflare-Zerotrust terraform/modules/warp/main.tf",
         .traffic = R"x(true)x",
         .expect = Refused,
         .reason = "traffic column 1: unknown field 'true'"},
        {.source =
             "startupworks-bazam/terraform-cloudflare-Zerotrust terraform/modules/warp/main.tf",
         .traffic = R"x(cf.threat_category == 'malware')x",
         .expect = Refused,
         .reason = "unknown field 'cf.threat_category'"},
        {.source =
             "startupworks-bazam/terraform-cloudflare-Zerotrust terraform/modules/gateway/main.tf",
         .traffic = R"x(dns.query_name matches '*')x",
         .expect = Refused,
         .reason = "unknown field 'dns.query_name'"},
    };
    return kCases;
}

std::string rule_json(const Case& c) {
    nlohmann::json r = {{"id", "corpus"},        {"name", "Corpus rule"}, {"precedence", 1},
                        {"action", c.action},    {"filters", {c.filter}}, {"traffic", c.traffic},
                        {"identity", c.identity}};
    if (*c.device_posture != '\0') {
        r["device_posture"] = c.device_posture;
    }
    if (*c.settings != '\0') {
        r["rule_settings"] = nlohmann::json::parse(c.settings);
    }
    if (c.time_zone != nullptr) {
        r["schedule"] = {{"mon", "08:00-12:30,13:30-17:00"}, {"time_zone", c.time_zone}};
    }
    return nlohmann::json::array({r}).dump();
}

/// Whether the corpus rule decided (DNS rules) or routed (resolver rules) the probe.
bool decided_by_corpus_rule(const PolicySet& set, const Case& c, const Probe& p) {
    QueryFacts q;
    q.qname = p.name;
    q.qtype = p.qtype;
    q.src_ip = net::IpAddr::parse(p.src);
    q.dst_ip = net::IpAddr::parse(p.dst);
    q.identity_token = p.token;
    q.doh_subdomain = p.doh;
    for (const auto& loc : set.locations.locations) {
        if (loc.id == p.location) {
            q.location = &loc;
        }
    }
    REQUIRE(q.location != nullptr);
    if (!p.request_categories.empty()) {
        q.request_categories = p.request_categories;
    }
    ResponseFacts resp;
    resp.resolved_ips.push_back(*net::IpAddr::parse(p.resolved));
    auto add = [](std::vector<std::string>& to, const char* v) {
        if (*v != '\0') {
            to.emplace_back(v);
        }
    };
    add(resp.cnames, p.cname);
    add(resp.mx, p.mx);
    add(resp.ptr, p.ptr);
    add(resp.txt, p.txt);
    if (*p.ns != '\0') {
        resp.authoritative_ns_ips.push_back(*net::IpAddr::parse(p.ns));
    }
    const Behaviour b;
    const EvalOptions opt{c.now, false};
    Evaluation ev = evaluate_pre(set, q, b, opt);
    if (!ev.finished) {
        evaluate_post(set, q, resp, b, opt, ev);
    }
    auto is_corpus = [](const Rule* r) { return r != nullptr && r->id == "corpus"; };
    return is_corpus(ev.rule) || is_corpus(ev.route.rule);
}

} // namespace

TEST_SUITE_BEGIN("policy.corpus");

TEST_CASE("real-world Gateway expressions load, warn or are refused as expected, and match") {
    const auto& cases = corpus();
    CHECK(cases.size() >= 40);
    std::size_t probes = 0;
    for (const auto& c : cases) {
        CAPTURE(c.source);
        CAPTURE(c.traffic);
        PolicyTexts t = lab_inputs();
        t.rules = rule_json(c);
        t.expressions.strict_escapes = c.strict_escapes;
        auto loaded = load_policy_texts(t);
        REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.error().detail));
        const PolicySet& set = **loaded;
        std::vector<std::string> rule_warnings; // the lab data's own warnings are not the row's
        for (const auto& w : set.warnings) {
            if (w.rfind("rules: ", 0) == 0) {
                rule_warnings.push_back(w);
            }
        }
        CAPTURE(rule_warnings);
        const std::size_t rules = set.dns_rules.size() + set.resolver_rules.size();
        switch (c.expect) {
        case Expect::Refused:
            REQUIRE(set.skipped_rules.size() == 1);
            CHECK(set.skipped_rules[0].id == "corpus");
            CHECK(set.skipped_rules[0].warning.find(c.reason) != std::string::npos);
            CHECK(rules == 0);
            CHECK(c.match.empty()); // a refused row has nothing to run
            continue;
        case Expect::Warns:
            REQUIRE(rule_warnings.size() == 1);
            CHECK(rule_warnings[0].find(c.reason) != std::string::npos);
            CHECK(rule_warnings[0].find("rule corpus (\"Corpus rule\")") != std::string::npos);
            break;
        case Expect::Loads:
            CHECK(rule_warnings.empty());
            break;
        }
        CHECK(set.skipped_rules.empty());
        REQUIRE(rules == 1);
        REQUIRE_FALSE(c.match.empty());
        REQUIRE_FALSE(c.no_match.empty());
        for (const auto& p : c.match) {
            CAPTURE(p.name);
            CHECK(decided_by_corpus_rule(set, c, p));
            ++probes;
        }
        for (const auto& p : c.no_match) {
            CAPTURE(p.name);
            CHECK_FALSE(decided_by_corpus_rule(set, c, p));
            ++probes;
        }
    }
    CHECK(probes >= 80);
}

TEST_CASE("the corpus's category data keeps the IDs the table lacks, one warning each") {
    PolicyTexts t = lab_inputs();
    auto loaded = load_policy_texts(t);
    REQUIRE(loaded);
    const auto& w = (*loaded)->warnings;
    REQUIRE(w.size() == 3);
    CHECK(w[0].find("categories: line 9: category ID 33 is not in the category table") == 0);
    CHECK(w[1].find("categories: line 10: category ID 179 ") == 0);
    CHECK(w[2].find("categories: line 8: category ID 180 ") == 0);
    CHECK((*loaded)->categories.lookup("both33.example") == std::vector<std::int64_t>{33});
}

TEST_SUITE_END();
