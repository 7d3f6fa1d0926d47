// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace resolver::policy {

/// When a field's value is known (reference §1.6 / §2.2). A rule's phase is the latest phase of
/// the fields it uses; any rule using a During or Post field runs after resolution.
enum class Phase : std::uint8_t { Pre = 0, During = 1, Post = 2 };
std::string_view phase_name(Phase p);

enum class ValueType : std::uint8_t { Bool, Int, Ip, String };
std::string_view value_type_name(ValueType t);

/// Every field the engine knows. Order is the index into FieldValues::views.
enum class FieldId : std::uint8_t {
    DnsFqdn,
    DnsDomains,
    DnsQueryRtype,
    DnsSrcIp,
    DnsSrcInternalIp,
    DnsSrcGeoCountry,
    DnsSrcGeoContinent,
    DnsLocation,
    DnsDohSubdomain,
    DnsResolverIp, // published as `dns.resolved_ip`: the Gateway IP the query was sent to
    DnsContentCategory,
    DnsSecurityCategory,
    DnsCategoriesInRequestContextMatches,
    AppIds,
    AppTypeIds,
    DnsIndicatorFeed,
    DnsAuthoritativeNsIps,
    DnsResolvedIps,
    DnsDstGeoCountry,
    DnsDstGeoContinent,
    DnsResponseCname,
    DnsResponseMx,
    DnsResponsePtr,
    DnsResponseTxt,
    IdentityEmail,
    IdentityName,
    IdentityGroupsId,
    IdentityGroupsName,
    IdentityGroupsEmail,
    IdentitySamlAttributes, // map: string key -> array of strings
    IdentityOidcClaims,
    DevicePosturePassed,
    DevicePostureFailed,
    Count_,
};
inline constexpr std::size_t kFieldCount = static_cast<std::size_t>(FieldId::Count_);

/// One row of the selector registry: everything about a selector is declared here once; the
/// parser, the evaluator's fact store, `dnslab-resolver selectors` and docs/policy.md read it.
struct FieldInfo {
    std::string_view name;
    FieldId id;
    ValueType type;
    bool array; // values are a list; `[*]`, `[N]` and any()/all() apply
    bool map;   // indexed by a string key (identity.saml_attributes["..."])
    Phase phase;
    bool category; // counts as a category match for ResolverDecision / MatchedCategoryIDs
    bool response; // a fact from the upstream answer (blockedRule / allowedRule decisions)
    /// What fills the fact in this lab (the stage and its input). Empty: the lab has no input
    /// for the selector yet, so a rule using it is refused at load instead of loading and
    /// silently never matching; `missing` then says what Gateway reads there.
    std::string_view producer;
    std::string_view missing = {};
};

/// Adding a selector (STYLE.md recipe): one row in expr_fields.cpp naming its producer, the
/// fact in evaluate.cpp's store, a table-driven unit test, a row in docs/policy.md.

/// The field with this exact name (aliases included: `identity.groups.name`), or nullptr.
const FieldInfo* find_field(std::string_view name);
/// Every field, in FieldId order (aliases excluded).
std::span<const FieldInfo> all_fields();
const FieldInfo& field_info(FieldId id);

} // namespace resolver::policy
