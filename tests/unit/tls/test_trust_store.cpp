// SPDX-License-Identifier: MIT
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <openssl/x509.h>

#include "resolver/tls/lab_ca.hpp"
#include "resolver/tls/trust_store.hpp"
#include "resolver/util/c_handles.hpp"

using namespace resolver;

namespace {

/// A machine described by its environment and the paths that exist on it.
tls::TrustProbe machine(std::map<std::string, std::string> env, std::set<std::string> files,
                        std::set<std::string> dirs) {
    tls::TrustProbe p;
    p.getenv = [env](const char* name) -> std::optional<std::string> {
        auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    p.is_file = [files](const std::string& f) { return files.count(f) != 0U; };
    p.is_dir = [dirs](const std::string& d) { return dirs.count(d) != 0U; };
    // What a Debian-built libcrypto.a carries (OPENSSLDIR=/usr/lib/ssl).
    p.openssl_file = "/usr/lib/ssl/cert.pem";
    p.openssl_dir = "/usr/lib/ssl/certs";
    return p;
}

/// Restores one environment variable when the test ends.
struct EnvGuard {
    std::string name;
    std::optional<std::string> old;
    explicit EnvGuard(std::string n) : name(std::move(n)) {
        if (const char* v = std::getenv(name.c_str())) {
            old = v;
        }
    }
    ~EnvGuard() {
        if (old) {
            setenv(name.c_str(), old->c_str(), 1);
        } else {
            unsetenv(name.c_str());
        }
    }
    EnvGuard(const EnvGuard&) = delete;
    EnvGuard& operator=(const EnvGuard&) = delete;
};

std::size_t certificates_in(X509_STORE* store) {
    return static_cast<std::size_t>(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)));
}

} // namespace

TEST_SUITE_BEGIN("tls.trust_store");

TEST_CASE("the system trust store is found on each distribution's layout") {
    struct Row {
        const char* machine;
        tls::TrustProbe probe;
        std::string file, dir;
    };
    const Row rows[] = {
        {"Debian: OpenSSL's own path exists",
         machine({}, {"/usr/lib/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"},
                 {"/usr/lib/ssl/certs", "/etc/ssl/certs"}),
         "/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs"},
        {"Debian without the cert.pem link",
         machine({}, {"/etc/ssl/certs/ca-certificates.crt"}, {"/etc/ssl/certs"}),
         "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs"},
        {"Fedora/RHEL: no /usr/lib/ssl",
         machine({},
                 {"/etc/pki/tls/certs/ca-bundle.crt",
                  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"},
                 {"/etc/pki/tls/certs"}),
         "/etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/tls/certs"},
        {"openSUSE", machine({}, {"/etc/ssl/ca-bundle.pem"}, {"/etc/ssl/certs"}),
         "/etc/ssl/ca-bundle.pem", "/etc/ssl/certs"},
        {"Alpine", machine({}, {"/etc/ssl/cert.pem"}, {}), "/etc/ssl/cert.pem", ""},
        {"SSL_CERT_FILE and SSL_CERT_DIR win, even over existing defaults",
         machine({{"SSL_CERT_FILE", "/opt/corp/ca.pem"}, {"SSL_CERT_DIR", "/opt/corp/certs"}},
                 {"/usr/lib/ssl/cert.pem"}, {"/usr/lib/ssl/certs"}),
         "/opt/corp/ca.pem", "/opt/corp/certs"},
        {"SSL_CERT_FILE alone leaves the directory to the probe",
         machine({{"SSL_CERT_FILE", "/opt/corp/ca.pem"}}, {}, {"/etc/ssl/certs"}),
         "/opt/corp/ca.pem", "/etc/ssl/certs"},
        {"an empty variable counts as unset",
         machine({{"SSL_CERT_FILE", ""}}, {"/etc/ssl/cert.pem"}, {}), "/etc/ssl/cert.pem", ""},
        {"nothing anywhere", machine({}, {}, {}), "", ""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.machine);
        const auto where = tls::find_system_trust(r.probe);
        CHECK(where.file == r.file);
        CHECK(where.dir == r.dir);
    }
}

TEST_CASE("load_system_trust loads SSL_CERT_FILE and names every place when nothing loads") {
    EnvGuard file("SSL_CERT_FILE");
    EnvGuard dir("SSL_CERT_DIR");
    char tmpl[] = "/tmp/dnslab-trust-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    auto ca = tls::ensure_lab_ca(std::string(tmpl) + "/state", "cloudflare-gateway.com");
    REQUIRE(ca.has_value());

    setenv("SSL_CERT_FILE", ca->ca_cert.c_str(), 1);
    setenv("SSL_CERT_DIR", (std::string(tmpl) + "/no-such-dir").c_str(), 1);
    util::CHandle<X509_STORE, X509_STORE_free> store{X509_STORE_new()};
    REQUIRE(tls::load_system_trust(store.get()).has_value());
    CHECK(certificates_in(store.get()) == 1);

    setenv("SSL_CERT_FILE", (std::string(tmpl) + "/missing.pem").c_str(), 1);
    util::CHandle<X509_STORE, X509_STORE_free> empty{X509_STORE_new()};
    const auto st = tls::load_system_trust(empty.get());
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().code == Errc::ConfigInvalid);
    CHECK(st.error().detail.find("/etc/pki/tls/certs/ca-bundle.crt") != std::string::npos);
    CHECK(st.error().detail.find("SSL_CERT_FILE") != std::string::npos);
    std::filesystem::remove_all(tmpl);
}

TEST_SUITE_END();
