// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include "resolver/core/result.hpp"

namespace resolver::tls {

/// Where the lab's throwaway PKI lives on disk.
struct LabCaFiles {
    std::string ca_cert;     // <state_dir>/ca.pem: what clients trust (kdig +tls-ca, curl --cacert)
    std::string ca_key;      // <state_dir>/ca.key (0600)
    std::string leaf_cert;   // <state_dir>/server.pem: the leaf followed by the CA (a full chain)
    std::string leaf_key;    // <state_dir>/server.key (0600)
    bool created_ca = false; // true when this call generated a new CA
    bool created_leaf = false; // true when this call generated a new leaf
};

/// The default state directory: `${XDG_CACHE_HOME:-$HOME/.cache}/dnslab`.
std::string default_state_dir();

/// The subject alternative names of the lab leaf: localhost, 127.0.0.1, ::1, the gateway
/// domain and its wildcard (so `<sub>.cloudflare-gateway.com` SNI verifies). Entries are in
/// OpenSSL's config form: "DNS:localhost", "IP:127.0.0.1".
std::vector<std::string> lab_leaf_names(const std::string& gateway_domain);

/// Makes sure a lab CA (EC P-256) and a leaf for `lab_leaf_names(gateway_domain)` signed by it
/// exist under `state_dir`, creating the directory (0700) and files (keys 0600) when missing.
/// Existing files are reused when they parse, chain, and stay valid for more than a day; the
/// leaf alone is regenerated when its SAN list differs (a changed gateway domain), so clients
/// keep trusting the same CA file across restarts. Files are written to a temporary name and
/// renamed, so a concurrent reader never sees half a PEM. Errors are ConfigInvalid (startup only).
Result<LabCaFiles> ensure_lab_ca(const std::string& state_dir, const std::string& gateway_domain);

} // namespace resolver::tls
