// SPDX-License-Identifier: MIT
#include "resolver/policy/expr_fields.hpp"

#include <array>

namespace resolver::policy {
namespace {

using enum ValueType;
using enum Phase;

// Reference §2.2. Types are inferred from the documented examples; Resolved Country/Continent
// are arrays (the common policy uses `any(dns.dst.geo.country[*] in {...})`).
constexpr std::array kFields{
    FieldInfo{"dns.fqdn", FieldId::DnsFqdn, String, false, false, Pre, false, false,
              "decode: the query name"},
    FieldInfo{"dns.domains", FieldId::DnsDomains, String, true, false, Pre, false, false,
              "decode: the query name and its parents"},
    FieldInfo{"dns.query_rtype", FieldId::DnsQueryRtype, String, false, false, Pre, false, false,
              "decode: the query type"},
    FieldInfo{"dns.src_ip", FieldId::DnsSrcIp, Ip, false, false, Pre, false, false,
              "listener: the client's source address"},
    FieldInfo{"dns.src_internal_ip", FieldId::DnsSrcInternalIp, Ip, false, false, Pre, false, false,
              "listener marked private on-ramp (?internal=1): the client's source address"},
    FieldInfo{"dns.src.geo.country", FieldId::DnsSrcGeoCountry, String, false, false, Pre, false,
              false, "geo data (--geo, --mmdb) on the source address"},
    FieldInfo{"dns.src.geo.continent", FieldId::DnsSrcGeoContinent, String, false, false, Pre,
              false, false, "geo data (--geo, --mmdb) on the source address"},
    FieldInfo{"dns.location", FieldId::DnsLocation, String, false, false, Pre, false, false,
              "attribution: the location from the transport hints"},
    FieldInfo{"dns.doh_subdomain", FieldId::DnsDohSubdomain, String, false, false, Pre, false,
              false, "attribution: the DoH host or path subdomain"},
    FieldInfo{"dns.resolved_ip", FieldId::DnsResolverIp, Ip, true, false, Pre, false, false,
              "listener: the local address the query reached"},
    FieldInfo{"dns.content_category", FieldId::DnsContentCategory, Int, true, false, Pre, true,
              false, "category data (--categories) on the query name"},
    FieldInfo{"dns.security_category", FieldId::DnsSecurityCategory, Int, true, false, Pre, true,
              false, "category data (--categories) on the query name"},
    FieldInfo{"dns.categories_in_request_context_matches",
              FieldId::DnsCategoriesInRequestContextMatches, Bool, false, false, Pre, true, false,
              "EDNS option 65050 against the query name's categories"},
    FieldInfo{"app.ids", FieldId::AppIds, Int, true, false, Pre, false, false,
              "application catalogue (--applications) on the query name and its parents"},
    FieldInfo{"app.type.ids", FieldId::AppTypeIds, Int, true, false, Pre, false, false,
              "application catalogue (--applications): the types of app.ids"},
    FieldInfo{"dns.indicator_feed", FieldId::DnsIndicatorFeed, Int, true, false, Pre, false, false,
              "indicator feeds (--indicator-feeds) on the query name (and resolved IPs with "
              "ip_indicator_feeds)"},
    FieldInfo{"dns.authoritative_ns_ips", FieldId::DnsAuthoritativeNsIps, Ip, true, false, During,
              false, true, "upstream answer: NS addresses when the upstream reveals them"},
    FieldInfo{"dns.resolved_ips", FieldId::DnsResolvedIps, Ip, true, false, Post, false, true,
              "upstream answer: A/AAAA records"},
    FieldInfo{"dns.dst.geo.country", FieldId::DnsDstGeoCountry, String, true, false, Post, false,
              true, "geo data on the upstream answer's addresses"},
    FieldInfo{"dns.dst.geo.continent", FieldId::DnsDstGeoContinent, String, true, false, Post,
              false, true, "geo data on the upstream answer's addresses"},
    FieldInfo{"dns.response.cname", FieldId::DnsResponseCname, String, true, false, Post, false,
              false, "upstream answer: CNAME targets"},
    FieldInfo{"dns.response.mx", FieldId::DnsResponseMx, String, true, false, Post, false, false,
              "upstream answer: MX exchanges"},
    FieldInfo{"dns.response.ptr", FieldId::DnsResponsePtr, String, true, false, Post, false, false,
              "upstream answer: PTR targets"},
    FieldInfo{"dns.response.txt", FieldId::DnsResponseTxt, String, true, false, Post, false, false,
              "upstream answer: TXT strings"},
    FieldInfo{"identity.email", FieldId::IdentityEmail, String, false, false, Pre, false, false,
              "identity map (--identities) by token or source address"},
    FieldInfo{"identity.name", FieldId::IdentityName, String, false, false, Pre, false, false,
              "identity map (--identities) by token or source address"},
    FieldInfo{"identity.groups.id", FieldId::IdentityGroupsId, String, true, false, Pre, false,
              false, "identity map (--identities) by token or source address"},
    FieldInfo{"identity.groups.name", FieldId::IdentityGroupsName, String, true, false, Pre, false,
              false, "identity map (--identities) by token or source address"},
    FieldInfo{"identity.groups.email", FieldId::IdentityGroupsEmail, String, true, false, Pre,
              false, false, "identity map (--identities) by token or source address"},
    FieldInfo{"identity.saml_attributes", FieldId::IdentitySamlAttributes, String, true, true, Pre,
              false, false, "identity map (--identities) by token or source address"},
    FieldInfo{"identity.oidc_claims", FieldId::IdentityOidcClaims, String, true, false, Pre, false,
              false, "identity map (--identities) `oidc_claims` by token or source address"},
    // The `device_posture` expression of a rule (developers.cloudflare.com/cloudflare-one/
    // traffic-policies/ "Device Posture" selector): the posture check IDs the device passed
    // and failed. A device without posture data has neither, and explain says so.
    FieldInfo{"device_posture.checks.passed", FieldId::DevicePosturePassed, String, true, false,
              Pre, false, false,
              "identity map (--identities) `device_posture.passed` of the device"},
    FieldInfo{"device_posture.checks.failed", FieldId::DevicePostureFailed, String, true, false,
              Pre, false, false,
              "identity map (--identities) `device_posture.failed` of the device"},
};
static_assert(kFields.size() == kFieldCount);

} // namespace

std::string_view phase_name(Phase p) {
    switch (p) {
    case Phase::Pre:
        return "pre-resolution";
    case Phase::During:
        return "during-resolution";
    case Phase::Post:
        return "post-resolution";
    }
    return "?";
}

std::string_view value_type_name(ValueType t) {
    switch (t) {
    case ValueType::Bool:
        return "Bool";
    case ValueType::Int:
        return "Int";
    case ValueType::Ip:
        return "Ip";
    case ValueType::String:
        return "Bytes";
    }
    return "?";
}

const FieldInfo* find_field(std::string_view name) {
    for (const auto& f : kFields) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

std::span<const FieldInfo> all_fields() {
    return kFields;
}

const FieldInfo& field_info(FieldId id) {
    return kFields[static_cast<std::size_t>(id)];
}

} // namespace resolver::policy
