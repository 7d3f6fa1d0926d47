// SPDX-License-Identifier: MIT
#include "resolver/tls/trust_store.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include <openssl/err.h>

namespace resolver::tls {
namespace {

bool stat_is(const std::string& path, mode_t kind) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

// The configured value (environment), else the compiled-in default if present, else the
// first well-known path that exists.
std::string pick(const TrustProbe& p, const char* env, const std::string& built_in,
                 const std::vector<std::string>& known,
                 const std::function<bool(const std::string&)>& exists) {
    if (auto v = p.getenv(env); v && !v->empty()) {
        return *v;
    }
    if (!built_in.empty() && exists(built_in)) {
        return built_in;
    }
    for (const auto& k : known) {
        if (exists(k)) {
            return k;
        }
    }
    return {};
}

} // namespace

const std::vector<std::string>& well_known_ca_files() {
    static const std::vector<std::string> files = {
        "/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
        "/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6+
        "/etc/ssl/ca-bundle.pem",                            // openSUSE, SLES
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL 7+, CentOS
        "/etc/pki/tls/cacert.pem",                           // OpenELEC
        "/etc/ssl/cert.pem",                                 // Alpine, macOS, OpenBSD
        "/usr/local/share/certs/ca-root-nss.crt",            // FreeBSD
        "/usr/share/ssl/certs/ca-bundle.crt",                // old Red Hat
    };
    return files;
}

const std::vector<std::string>& well_known_ca_dirs() {
    static const std::vector<std::string> dirs = {
        "/etc/ssl/certs",     // Debian, Ubuntu, SUSE (hashed links)
        "/etc/pki/tls/certs", // Fedora, RHEL
    };
    return dirs;
}

TrustLocation find_system_trust(const TrustProbe& p) {
    return {pick(p, "SSL_CERT_FILE", p.openssl_file, well_known_ca_files(), p.is_file),
            pick(p, "SSL_CERT_DIR", p.openssl_dir, well_known_ca_dirs(), p.is_dir)};
}

TrustProbe system_trust_probe() {
    TrustProbe p;
    p.getenv = [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
    };
    p.is_file = [](const std::string& path) { return stat_is(path, S_IFREG); };
    p.is_dir = [](const std::string& path) { return stat_is(path, S_IFDIR); };
    p.openssl_file = X509_get_default_cert_file();
    p.openssl_dir = X509_get_default_cert_dir();
    return p;
}

Status load_system_trust(X509_STORE* store) {
    const auto where = find_system_trust(system_trust_probe());
    bool loaded = false;
    if (!where.file.empty()) {
        loaded = X509_STORE_load_file(store, where.file.c_str()) == 1;
    }
    // A directory is only searched by subject hash while verifying, so adding it succeeds
    // for any path; it counts when it exists.
    if (!where.dir.empty() && stat_is(where.dir, S_IFDIR) &&
        X509_STORE_load_path(store, where.dir.c_str()) == 1) {
        loaded = true;
    }
    ERR_clear_error(); // a missing optional location leaves errors we do not report
    if (loaded) {
        return ok();
    }
    std::string looked = "SSL_CERT_FILE, SSL_CERT_DIR";
    for (const auto* list : {&well_known_ca_files(), &well_known_ca_dirs()}) {
        for (const auto& k : *list) {
            looked += ", " + k;
        }
    }
    return fail(Errc::ConfigInvalid,
                "no system CA certificates found (looked at " + looked + "); name a CA file");
}

} // namespace resolver::tls
