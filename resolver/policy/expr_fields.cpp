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
    FieldInfo{"dns.fqdn", FieldId::DnsFqdn, String, false, false, Pre, false, false},
    FieldInfo{"dns.domains", FieldId::DnsDomains, String, true, false, Pre, false, false},
    FieldInfo{"dns.query_rtype", FieldId::DnsQueryRtype, String, false, false, Pre, false, false},
    FieldInfo{"dns.src_ip", FieldId::DnsSrcIp, Ip, false, false, Pre, false, false},
    FieldInfo{"dns.src_internal_ip", FieldId::DnsSrcInternalIp, Ip, false, false, Pre, false,
              false},
    FieldInfo{"dns.src.geo.country", FieldId::DnsSrcGeoCountry, String, false, false, Pre, false,
              false},
    FieldInfo{"dns.src.geo.continent", FieldId::DnsSrcGeoContinent, String, false, false, Pre,
              false, false},
    FieldInfo{"dns.location", FieldId::DnsLocation, String, false, false, Pre, false, false},
    FieldInfo{"dns.doh_subdomain", FieldId::DnsDohSubdomain, String, false, false, Pre, false,
              false},
    FieldInfo{"dns.resolved_ip", FieldId::DnsResolverIp, Ip, true, false, Pre, false, false},
    FieldInfo{"dns.content_category", FieldId::DnsContentCategory, Int, true, false, Pre, true,
              false},
    FieldInfo{"dns.security_category", FieldId::DnsSecurityCategory, Int, true, false, Pre, true,
              false},
    FieldInfo{"dns.categories_in_request_context_matches",
              FieldId::DnsCategoriesInRequestContextMatches, Bool, false, false, Pre, true, false},
    FieldInfo{"app.ids", FieldId::AppIds, Int, true, false, Pre, false, false},
    FieldInfo{"dns.authoritative_ns_ips", FieldId::DnsAuthoritativeNsIps, Ip, true, false, During,
              false, true},
    FieldInfo{"dns.resolved_ips", FieldId::DnsResolvedIps, Ip, true, false, Post, false, true},
    FieldInfo{"dns.dst.geo.country", FieldId::DnsDstGeoCountry, String, true, false, Post, false,
              true},
    FieldInfo{"dns.dst.geo.continent", FieldId::DnsDstGeoContinent, String, true, false, Post,
              false, true},
    FieldInfo{"dns.response.cname", FieldId::DnsResponseCname, String, true, false, Post, false,
              false},
    FieldInfo{"dns.response.mx", FieldId::DnsResponseMx, String, true, false, Post, false, false},
    FieldInfo{"dns.response.ptr", FieldId::DnsResponsePtr, String, true, false, Post, false, false},
    FieldInfo{"dns.response.txt", FieldId::DnsResponseTxt, String, true, false, Post, false, false},
    FieldInfo{"identity.email", FieldId::IdentityEmail, String, false, false, Pre, false, false},
    FieldInfo{"identity.name", FieldId::IdentityName, String, false, false, Pre, false, false},
    FieldInfo{"identity.groups.id", FieldId::IdentityGroupsId, String, true, false, Pre, false,
              false},
    FieldInfo{"identity.groups.name", FieldId::IdentityGroupsName, String, true, false, Pre, false,
              false},
    FieldInfo{"identity.groups.email", FieldId::IdentityGroupsEmail, String, true, false, Pre,
              false, false},
    FieldInfo{"identity.saml_attributes", FieldId::IdentitySamlAttributes, String, true, true, Pre,
              false, false},
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
