// SPDX-License-Identifier: MIT
#include "probes/selftest/tls_probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "probes/common/strings.hpp"
#include "resolver/tls/client_ctx.hpp"
#include "resolver/tls/trust_store.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/hex.hpp"
#include "resolver/util/url.hpp"

namespace probes::selftest {
using nlohmann::json;
namespace util = resolver::util;

using common::lower;

namespace {

using Store = util::CHandle<X509_STORE, X509_STORE_free>;
using StoreCtx = util::CHandle<X509_STORE_CTX, X509_STORE_CTX_free>;
using Bio = util::CHandle<BIO, BIO_free_all>;
using Chain = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;

using Clock = std::chrono::steady_clock;

// Closes the socket on every path.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
    pollfd p{fd, events, 0};
    while (true) {
        const int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n > 0) {
            return true;
        }
        if (n == 0 || errno != EINTR) {
            return false;
        }
    }
}

std::string name_text(X509_NAME* n) {
    Bio b(BIO_new(BIO_s_mem()));
    if (!b || n == nullptr) {
        return "";
    }
    X509_NAME_print_ex(b.get(), n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long len = BIO_get_mem_data(b.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string time_text(const ASN1_TIME* t) {
    tm out{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &out) != 1) {
        return "";
    }
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &out);
    return buf;
}

std::string fingerprint(X509* c) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(c, EVP_sha256(), md, &len) != 1) {
        return "";
    }
    return resolver::util::hex(md, len);
}

// Verifies `leaf` + `untrusted` against the CAs in `store`; returns the X509 error or OK.
int verify_against(X509_STORE* store, X509* leaf, STACK_OF(X509) * untrusted) {
    StoreCtx ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, untrusted) != 1) {
        return X509_V_ERR_UNSPECIFIED;
    }
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    const int ok = X509_verify_cert(ctx.get());
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return ok == 1 ? X509_V_OK : (err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err);
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Writes all of `data` (non-blocking SSL, bounded by the deadline).
bool ssl_write_all(SSL* ssl, int fd, const std::string& data, Clock::time_point deadline) {
    std::size_t off = 0;
    while (off < data.size()) {
        const int n = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        const int e = SSL_get_error(ssl, n);
        if (!((e == SSL_ERROR_WANT_READ && wait_fd(fd, POLLIN, deadline)) ||
              (e == SSL_ERROR_WANT_WRITE && wait_fd(fd, POLLOUT, deadline)))) {
            return false;
        }
    }
    return true;
}

// Reads until the end of the HTTP header block, close, or the deadline.
std::string ssl_read_headers(SSL* ssl, int fd, Clock::time_point deadline) {
    std::string buf;
    char chunk[4096];
    while (buf.find("\r\n\r\n") == std::string::npos && buf.size() < 65536) {
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n > 0) {
            buf.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        const int e = SSL_get_error(ssl, n);
        if (!((e == SSL_ERROR_WANT_READ && wait_fd(fd, POLLIN, deadline)) ||
              (e == SSL_ERROR_WANT_WRITE && wait_fd(fd, POLLOUT, deadline)))) {
            break;
        }
    }
    return buf;
}

} // namespace

std::optional<long> parse_http_date(const std::string& text) {
    tm t{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &t);
    if (end == nullptr) {
        return std::nullopt;
    }
    return static_cast<long>(timegm(&t));
}

TlsFacts probe_tls(const TlsProbeOptions& o) {
    TlsFacts f;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(o.timeout_ms);

    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = util::is_ip_literal(o.host) ? AI_NUMERICHOST : 0;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(o.port);
    if (const int rc = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res);
        rc != 0 || res == nullptr) {
        f.error = "cannot resolve " + o.host + ": " + gai_strerror(rc);
        return f;
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> ai(res, freeaddrinfo);
    Fd sock;
    sock.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock.fd < 0) {
        f.error = std::string("socket: ") + std::strerror(errno);
        return f;
    }
    if (::connect(sock.fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
        f.error = std::string("connect: ") + std::strerror(errno);
        return f;
    }
    if (!wait_fd(sock.fd, POLLOUT, deadline)) {
        f.error = "connect: timed out after " + std::to_string(o.timeout_ms) + " ms";
        return f;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) {
        f.error = std::string("connect: ") + std::strerror(soerr);
        return f;
    }

    resolver::tls::ClientTlsConfig cfg;
    cfg.server_name = o.server_name.empty() ? o.host : o.server_name;
    cfg.sni =
        util::is_ip_literal(cfg.server_name) ? "" : cfg.server_name; // RFC 6066 §3: no IP in SNI
    cfg.verify = false; // judged below, so an untrusted chain is still seen and described
    cfg.alpn = o.alpn;
    auto ctx = resolver::tls::make_client_ctx(cfg);
    if (!ctx) {
        f.error = ctx.error().detail;
        return f;
    }
    auto ssl = resolver::tls::make_client_ssl(ctx->get(), cfg);
    if (!ssl) {
        f.error = ssl.error().detail;
        return f;
    }
    SSL* s = ssl->get();
    SSL_set_fd(s, sock.fd);
    while (true) {
        const int rc = SSL_connect(s);
        if (rc == 1) {
            break;
        }
        const int e = SSL_get_error(s, rc);
        if ((e == SSL_ERROR_WANT_READ && wait_fd(sock.fd, POLLIN, deadline)) ||
            (e == SSL_ERROR_WANT_WRITE && wait_fd(sock.fd, POLLOUT, deadline))) {
            continue;
        }
        f.error = remaining_ms(deadline) == 0
                      ? "TLS handshake timed out"
                      : "TLS handshake failed: " + resolver::tls::handshake_error_text(s, e);
        return f;
    }
    f.connected = true;
    f.handshake_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    f.protocol = SSL_get_version(s);
    f.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(s));
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(s, &alpn, &alpn_len);
    f.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);

    STACK_OF(X509)* presented = SSL_get_peer_cert_chain(s); // client side: leaf included
    X509* leaf = SSL_get0_peer_certificate(s);
    for (int i = 0; presented != nullptr && i < sk_X509_num(presented); ++i) {
        X509* c = sk_X509_value(presented, i);
        f.chain.push_back({name_text(X509_get_subject_name(c)), name_text(X509_get_issuer_name(c)),
                           time_text(X509_get0_notBefore(c)), time_text(X509_get0_notAfter(c)),
                           fingerprint(c)});
    }
    if (leaf == nullptr) {
        f.trust_error = "no certificate";
        return f;
    }
    f.valid_now = X509_cmp_current_time(X509_get0_notBefore(leaf)) < 0 &&
                  X509_cmp_current_time(X509_get0_notAfter(leaf)) > 0;
    int days = 0;
    int secs = 0;
    if (ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(leaf)) == 1) {
        f.days_left = days;
    }
    f.name_match = util::is_ip_literal(cfg.server_name)
                       ? X509_check_ip_asc(leaf, cfg.server_name.c_str(), 0) == 1
                       : X509_check_host(leaf, cfg.server_name.c_str(), cfg.server_name.size(), 0,
                                         nullptr) == 1;

    Store trust(X509_STORE_new());
    const bool loaded =
        trust &&
        (o.trust_ca_file.empty() ? static_cast<bool>(resolver::tls::load_system_trust(trust.get()))
                                 : X509_STORE_load_file(trust.get(), o.trust_ca_file.c_str()) == 1);
    ERR_clear_error();
    if (!loaded) {
        f.trust_error = "cannot load trust store " +
                        (o.trust_ca_file.empty() ? std::string("(system)") : o.trust_ca_file);
    } else {
        const int err = verify_against(trust.get(), leaf, presented);
        f.trusted = err == X509_V_OK;
        if (!f.trusted) {
            f.trust_error = X509_verify_cert_error_string(err);
        }
    }

    if (!o.expected_issuer.empty()) {
        if (file_exists(o.expected_issuer)) {
            Store exp(X509_STORE_new());
            const bool ok = exp && X509_STORE_load_file(exp.get(), o.expected_issuer.c_str()) == 1;
            ERR_clear_error();
            f.expected_issuer_match = ok && verify_against(exp.get(), leaf, presented) == X509_V_OK;
        } else {
            const auto want = lower(o.expected_issuer);
            bool hit = false;
            for (const auto& c : f.chain) {
                hit = hit || lower(c.issuer).find(want) != std::string::npos;
            }
            f.expected_issuer_match = hit;
        }
    }

    if (!o.http_path.empty() && (f.alpn.empty() || f.alpn == "http/1.1")) {
        // Any answer carries Date (RFC 9110 §6.6.1); a fixed query for example.com A keeps it a
        // normal DoH request (RFC 8484 §4.1, ID 0).
        const std::string host_hdr = cfg.sni.empty() ? o.host : cfg.sni;
        const std::string req =
            "GET " + o.http_path +
            "?dns=AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE HTTP/1.1\r\nHost: " + host_hdr +
            "\r\nAccept: application/dns-message\r\nConnection: close\r\n\r\n";
        if (ssl_write_all(s, sock.fd, req, deadline)) {
            const auto head = ssl_read_headers(s, sock.fd, deadline);
            const auto now = std::time(nullptr);
            const auto lhead = lower(head);
            if (auto p = lhead.find("\r\ndate:"); p != std::string::npos) {
                auto v = head.substr(p + 7, head.find("\r\n", p + 2) - (p + 7));
                v.erase(0, v.find_first_not_of(' '));
                f.http_date = v;
                if (auto t = parse_http_date(v)) {
                    f.clock_offset_s = static_cast<long>(now) - *t;
                }
            }
        }
    }
    SSL_shutdown(s);
    return f;
}

json tls_facts_json(const TlsFacts& f) {
    json chain = json::array();
    for (const auto& c : f.chain) {
        chain.push_back({{"subject", c.subject},
                         {"issuer", c.issuer},
                         {"not_before", c.not_before},
                         {"not_after", c.not_after},
                         {"sha256", c.sha256}});
    }
    json j = {{"connected", f.connected},
              {"error", f.error.empty() ? json(nullptr) : json(f.error)},
              {"handshake_ms", f.handshake_ms},
              {"protocol", f.protocol},
              {"cipher", f.cipher},
              {"alpn", f.alpn},
              {"chain", chain},
              {"issuer", f.chain.empty() ? json(nullptr) : json(f.chain.front().issuer)},
              {"trusted", f.trusted},
              {"trust_error", f.trust_error.empty() ? json(nullptr) : json(f.trust_error)},
              {"name_match", f.name_match},
              {"valid_now", f.valid_now},
              {"days_left", f.days_left},
              {"expected_issuer_match",
               f.expected_issuer_match ? json(*f.expected_issuer_match) : json(nullptr)},
              {"interception", f.interception()}};
    return j;
}

} // namespace probes::selftest
