// SPDX-License-Identifier: MIT
#include "resolver/tls/lab_ca.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolver/util/c_handles.hpp"
#include "resolver/tls/errors.hpp"

namespace resolver::tls {
namespace {

using util::CHandle;
using util::EvpPkey;
using util::X509Ptr;
using Bignum = CHandle<BIGNUM, BN_free>;
using Extension = CHandle<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNames = CHandle<GENERAL_NAMES, GENERAL_NAMES_free>;
using File = CHandle<FILE, std::fclose>;

constexpr int kCaDays = 3650;
constexpr int kLeafDays = 397; // CA/Browser Forum maximum; clients that check it stay happy
constexpr long kMinRemainingSeconds = 86400;

Error config_error(const std::string& what) {
    return fail(Errc::ConfigInvalid, with_openssl_errors("lab CA: " + what));
}

Status make_dirs(const std::string& path) {
    std::string partial;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        partial = path.substr(0, pos);
        if (partial.empty()) {
            continue;
        }
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
            return fail(Errc::ConfigInvalid,
                        "cannot create " + partial + ": " + std::strerror(errno));
        }
    }
    return ok();
}

X509Ptr read_cert(const std::string& path) {
    File f{std::fopen(path.c_str(), "r")};
    if (!f) {
        return nullptr;
    }
    return X509Ptr{PEM_read_X509(f.get(), nullptr, nullptr, nullptr)};
}

EvpPkey read_key(const std::string& path) {
    File f{std::fopen(path.c_str(), "r")};
    if (!f) {
        return nullptr;
    }
    return EvpPkey{PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr)};
}

/// Writes PEM text through `write` into `path` with `mode`, atomically (temp file + rename).
template <typename WriteFn>
Status write_file(const std::string& path, mode_t mode, WriteFn&& write) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return fail(Errc::ConfigInvalid, "cannot write " + tmp + ": " + std::strerror(errno));
    }
    FILE* raw = ::fdopen(fd, "w");
    if (raw == nullptr) {
        ::close(fd);
        return fail(Errc::ConfigInvalid, "fdopen " + tmp);
    }
    const bool written = write(raw);
    const bool closed = std::fclose(raw) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return config_error("cannot write " + path);
    }
    return ok();
}

/// True when `cert` is still valid a day from now (and already valid now).
bool valid_for_a_day(X509* cert) {
    std::time_t later = std::time(nullptr) + kMinRemainingSeconds;
    std::time_t now = std::time(nullptr);
    return X509_cmp_time(X509_get0_notAfter(cert), &later) > 0 &&
           X509_cmp_time(X509_get0_notBefore(cert), &now) < 0;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

/// The certificate's SANs in the same "DNS:x" / "IP:y" form as lab_leaf_names().
std::vector<std::string> san_list(X509* cert) {
    std::vector<std::string> out;
    GeneralNames names{static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))};
    if (!names) {
        return out;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        if (gn->type == GEN_DNS) {
            const ASN1_IA5STRING* s = gn->d.dNSName;
            out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(s->data),
                                               static_cast<std::size_t>(s->length)));
        } else if (gn->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* s = gn->d.iPAddress;
            char buf[INET6_ADDRSTRLEN] = {};
            const int af = s->length == 4 ? AF_INET : AF_INET6;
            if ((s->length == 4 || s->length == 16) &&
                inet_ntop(af, s->data, buf, sizeof buf) != nullptr) {
                out.push_back(std::string("IP:") + buf);
            }
        }
    }
    return out;
}

Status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    Extension ext{X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str())};
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        return config_error("extension " + value);
    }
    return ok();
}

/// A new certificate for `key`, issued by `issuer` (nullptr: self-signed) and signed by
/// `issuer_key`, with `exts` as (nid, value) pairs.
Result<X509Ptr> make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                          int days, const std::vector<std::pair<int, std::string>>& exts) {
    X509Ptr cert{X509_new()};
    Bignum serial{BN_new()};
    if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
        BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
        return config_error("certificate allocation");
    }
    // Backdated an hour so a client with a slightly slow clock accepts a fresh lab.
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("dnslab"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* self_or_issuer = issuer != nullptr ? issuer : cert.get();
    if (X509_set_issuer_name(cert.get(), X509_get_subject_name(self_or_issuer)) != 1 ||
        X509_set_pubkey(cert.get(), key) != 1) {
        return config_error("certificate fields");
    }
    for (const auto& [nid, value] : exts) {
        if (auto st = add_ext(cert.get(), self_or_issuer, nid, value); !st) {
            return st.error();
        }
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
        return config_error("signing " + cn);
    }
    return cert;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) {
            out += sep;
        }
        out += s;
    }
    return out;
}

} // namespace

std::string default_state_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
        return std::string(xdg) + "/dnslab";
    }
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.cache/dnslab";
}

std::vector<std::string> lab_leaf_names(const std::string& gateway_domain) {
    std::vector<std::string> names{"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
    if (!gateway_domain.empty()) {
        names.push_back("DNS:" + gateway_domain);
        names.push_back("DNS:*." + gateway_domain);
    }
    return names;
}

Result<LabCaFiles> ensure_lab_ca(const std::string& state_dir, const std::string& gateway_domain) {
    if (auto st = make_dirs(state_dir); !st) {
        return st.error();
    }
    LabCaFiles files{state_dir + "/ca.pem", state_dir + "/ca.key", state_dir + "/server.pem",
                     state_dir + "/server.key"};

    X509Ptr ca = read_cert(files.ca_cert);
    EvpPkey ca_key = read_key(files.ca_key);
    if (!ca || !ca_key || X509_check_private_key(ca.get(), ca_key.get()) != 1 ||
        !valid_for_a_day(ca.get())) {
        ERR_clear_error(); // failures above only mean "regenerate"
        ca_key.reset(EVP_EC_gen("P-256"));
        if (!ca_key) {
            return config_error("EC key generation");
        }
        auto made = make_cert(ca_key.get(), "dnslab lab CA", nullptr, ca_key.get(), kCaDays,
                              {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                               {NID_key_usage, "critical,keyCertSign,cRLSign"},
                               {NID_subject_key_identifier, "hash"}});
        if (!made) {
            return made.error();
        }
        ca = std::move(made.value());
        auto st = write_file(files.ca_key, 0600, [&](FILE* f) {
            return PEM_write_PrivateKey(f, ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr) ==
                   1;
        });
        if (!st) {
            return st.error();
        }
        st = write_file(files.ca_cert, 0644,
                        [&](FILE* f) { return PEM_write_X509(f, ca.get()) == 1; });
        if (!st) {
            return st.error();
        }
        files.created_ca = true;
    }

    const auto wanted = lab_leaf_names(gateway_domain);
    X509Ptr leaf = read_cert(files.leaf_cert);
    EvpPkey leaf_key = read_key(files.leaf_key);
    const bool leaf_ok = leaf && leaf_key && !files.created_ca &&
                         X509_check_private_key(leaf.get(), leaf_key.get()) == 1 &&
                         X509_verify(leaf.get(), X509_get0_pubkey(ca.get())) == 1 &&
                         valid_for_a_day(leaf.get()) &&
                         sorted(san_list(leaf.get())) == sorted(wanted);
    ERR_clear_error();
    if (leaf_ok) {
        return files;
    }
    leaf_key.reset(EVP_EC_gen("P-256"));
    if (!leaf_key) {
        return config_error("EC key generation");
    }
    auto made = make_cert(leaf_key.get(), "localhost", ca.get(), ca_key.get(), kLeafDays,
                          {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature"},
                           {NID_ext_key_usage, "serverAuth"},
                           {NID_subject_key_identifier, "hash"},
                           {NID_authority_key_identifier, "keyid:always"},
                           {NID_subject_alt_name, join(wanted, ",")}});
    if (!made) {
        return made.error();
    }
    leaf = std::move(made.value());
    auto st = write_file(files.leaf_key, 0600, [&](FILE* f) {
        return PEM_write_PrivateKey(f, leaf_key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    if (!st) {
        return st.error();
    }
    // The chain file carries the CA too, so clients that only trust it can build the path.
    st = write_file(files.leaf_cert, 0644, [&](FILE* f) {
        return PEM_write_X509(f, leaf.get()) == 1 && PEM_write_X509(f, ca.get()) == 1;
    });
    if (!st) {
        return st.error();
    }
    files.created_leaf = true;
    return files;
}

} // namespace resolver::tls
