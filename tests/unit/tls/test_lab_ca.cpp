// SPDX-License-Identifier: MIT
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "resolver/tls/lab_ca.hpp"
#include "resolver/tls/server_context.hpp"
#include "resolver/util/c_handles.hpp"

using namespace resolver;

namespace {
std::string temp_dir() {
    char tmpl[] = "/tmp/dnslab-labca-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    return tmpl;
}
std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}
util::X509Ptr load(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    REQUIRE(f != nullptr);
    util::X509Ptr x{PEM_read_X509(f, nullptr, nullptr, nullptr)};
    std::fclose(f);
    return x;
}
/// Verifies `leaf` against `ca` for `host` the way a client would.
bool verifies(X509* leaf, X509* ca, const char* host, const char* ip) {
    util::CHandle<X509_STORE, X509_STORE_free> store{X509_STORE_new()};
    X509_STORE_add_cert(store.get(), ca);
    util::CHandle<X509_STORE_CTX, X509_STORE_CTX_free> ctx{X509_STORE_CTX_new()};
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (host != nullptr) {
        X509_VERIFY_PARAM_set1_host(param, host, 0);
    }
    if (ip != nullptr) {
        X509_VERIFY_PARAM_set1_ip_asc(param, ip);
    }
    return X509_verify_cert(ctx.get()) == 1;
}
} // namespace

TEST_SUITE_BEGIN("tls.lab_ca");

TEST_CASE("the lab CA is created once with private permissions and a leaf clients accept") {
    const std::string dir = temp_dir() + "/nested/state";
    auto first = tls::ensure_lab_ca(dir, "cloudflare-gateway.com");
    REQUIRE(first.has_value());
    CHECK(first->created_ca);
    CHECK(first->created_leaf);
    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(first->ca_key) == 0600);
    CHECK(mode_of(first->leaf_key) == 0600);

    auto ca = load(first->ca_cert);
    auto leaf = load(first->leaf_cert);
    REQUIRE(ca);
    REQUIRE(leaf);
    CHECK(verifies(leaf.get(), ca.get(), "localhost", nullptr));
    CHECK(verifies(leaf.get(), ca.get(), "65y9p2vm1u.cloudflare-gateway.com", nullptr));
    CHECK(verifies(leaf.get(), ca.get(), "cloudflare-gateway.com", nullptr));
    CHECK(verifies(leaf.get(), ca.get(), nullptr, "127.0.0.1"));
    CHECK(verifies(leaf.get(), ca.get(), nullptr, "::1"));
    CHECK_FALSE(verifies(leaf.get(), ca.get(), "example.com", nullptr));

    const std::string ca_pem = slurp(first->ca_cert);
    const std::string leaf_pem = slurp(first->leaf_cert);
    auto again = tls::ensure_lab_ca(dir, "cloudflare-gateway.com");
    REQUIRE(again.has_value());
    CHECK_FALSE(again->created_ca);
    CHECK_FALSE(again->created_leaf);
    CHECK(slurp(again->leaf_cert) == leaf_pem);

    // A different gateway domain changes the SAN list: new leaf, same CA.
    auto renamed = tls::ensure_lab_ca(dir, "gw.example");
    REQUIRE(renamed.has_value());
    CHECK_FALSE(renamed->created_ca);
    CHECK(renamed->created_leaf);
    CHECK(slurp(renamed->ca_cert) == ca_pem);
    auto leaf2 = load(renamed->leaf_cert);
    CHECK(verifies(leaf2.get(), ca.get(), "x.gw.example", nullptr));
    CHECK_FALSE(verifies(leaf2.get(), ca.get(), "x.cloudflare-gateway.com", nullptr));

    // A damaged CA is replaced, and the leaf with it.
    { std::ofstream(renamed->ca_cert) << "garbage"; }
    auto rebuilt = tls::ensure_lab_ca(dir, "gw.example");
    REQUIRE(rebuilt.has_value());
    CHECK(rebuilt->created_ca);
    CHECK(rebuilt->created_leaf);
}

TEST_CASE("the server context uses the lab CA unless a certificate is given") {
    const std::string dir = temp_dir();
    tls::TlsServerConfig cfg;
    cfg.state_dir = dir;
    auto lab = tls::ServerContext::create(cfg);
    REQUIRE(lab.has_value());
    CHECK((*lab)->ca_file() == dir + "/ca.pem");
    CHECK((*lab)->ctx() != nullptr);

    tls::TlsServerConfig own;
    own.cert_file = dir + "/server.pem";
    own.key_file = dir + "/server.key";
    auto given = tls::ServerContext::create(own);
    REQUIRE(given.has_value());
    CHECK((*given)->ca_file().empty());

    own.key_file = dir + "/ca.key"; // does not match the certificate
    CHECK_FALSE(tls::ServerContext::create(own).has_value());
    own.key_file.clear();
    CHECK_FALSE(tls::ServerContext::create(own).has_value());
}

TEST_SUITE_END();
