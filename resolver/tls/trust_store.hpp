// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "resolver/core/result.hpp"

namespace resolver::tls {

/// Where this machine keeps its trusted CA certificates: a PEM bundle, a hashed directory
/// (c_rehash layout), or both. An empty string means "none".
struct TrustLocation {
    std::string file;
    std::string dir;
};

/// What find_system_trust looks at, injected so that the rule is testable without touching
/// the real environment or file system.
struct TrustProbe {
    std::function<std::optional<std::string>(const char* name)> getenv;
    std::function<bool(const std::string& path)> is_file;
    std::function<bool(const std::string& path)> is_dir;
    std::string openssl_file; // X509_get_default_cert_file(): where this OpenSSL was built to look
    std::string openssl_dir;  // X509_get_default_cert_dir()
};

/// CA bundle files and directories of the common distributions, in the order curl's
/// configure (CURL_CHECK_CA_BUNDLE) and Go's crypto/x509 (src/crypto/x509/root_linux.go)
/// probe them: Debian/Ubuntu, Fedora/RHEL, openSUSE, RHEL 7, Alpine/macOS/BSD, FreeBSD.
const std::vector<std::string>& well_known_ca_files();
const std::vector<std::string>& well_known_ca_dirs();

/// The trust store to use when the user named none. SSL_CERT_FILE and SSL_CERT_DIR win
/// when set (OpenSSL's own variables, honoured by curl too), each for its kind. Otherwise
/// OpenSSL's compiled-in location when it exists here, else the first well-known path that
/// exists. The compiled-in location alone is not enough for a binary that carries its own
/// OpenSSL: a Debian-built libcrypto.a looks in /usr/lib/ssl, which Fedora, Alpine or SUSE
/// do not have.
TrustLocation find_system_trust(const TrustProbe& probe);

/// The probe over the real process environment and file system.
TrustProbe system_trust_probe();

/// Loads the system trust store (find_system_trust over system_trust_probe) into `store`.
/// Errc::ConfigInvalid, naming every place looked at, when no certificate could be loaded.
Status load_system_trust(X509_STORE* store);

} // namespace resolver::tls
