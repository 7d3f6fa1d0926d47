// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/net/ip.hpp"

namespace resolver::policy {

struct IdentityGroup {
    std::string id;
    std::string name;
    std::string email;
};

/// A user as `identity.*` fields see it (reference §2.2, identity selectors).
struct Identity {
    std::string email;
    std::string name;
    // The device and user the query came from, for the log only (gateway_dns UserID,
    // DeviceID, DeviceName, RegistrationID); "" when the map does not say.
    std::string user_id;
    std::string device_id;
    std::string device_name;
    std::string registration_id;
    std::vector<IdentityGroup> groups;
    std::map<std::string, std::vector<std::string>, std::less<>> saml_attributes;
    /// identity.oidc_claims: one string per claim value, as the rules compare them.
    std::vector<std::string> oidc_claims;
    /// The device's posture results (the posture check IDs it passed and failed); nullopt
    /// when the map has no posture data for the device, which explain states for every rule
    /// with a device_posture expression.
    struct DevicePosture {
        std::vector<std::string> passed;
        std::vector<std::string> failed;
    };
    std::optional<DevicePosture> posture;
};

/// The lab identity map: a DoH `CF-Authorization` token or a source address/CIDR -> user.
/// JSON: `[{"token": "...", "source_ip": "10.0.0.0/24", "email": ..., "name": ...,
/// "user_id", "device_id", "device_name", "registration_id": ...,
/// "groups": [{"id","name","email"}], "saml_attributes": {"k": ["v"]},
/// "oidc_claims": ["\"department=engineering\""] or {"department": "engineering"},
/// "device_posture": {"passed": ["<check uuid>"], "failed": [...]}}]` (or
/// `{"identities": [...]}`). A token match wins over a source match.
struct IdentityMap {
    struct Entry {
        std::optional<net::IpRange> source;
        std::string token;
        Identity identity;
    };
    std::vector<Entry> entries;

    /// The identity for this query, or nullptr (anonymous: identity fields are absent).
    [[nodiscard]] const Identity* find(std::string_view token,
                                       const std::optional<net::IpAddr>& src) const;
};

} // namespace resolver::policy
