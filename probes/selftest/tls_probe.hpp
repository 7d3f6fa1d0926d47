// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace probes::selftest {

/// One certificate of the chain the server presented.
struct CertInfo {
    std::string subject; // RFC 2253 one-line
    std::string issuer;
    std::string not_before; // RFC 3339 UTC
    std::string not_after;
    std::string sha256; // fingerprint, lower-case hex
};

/// What to look at: a separate, blocking OpenSSL handshake (its own socket, bounded by
/// `timeout_ms`), made with verification off so the chain is seen even when it would be
/// rejected; trust, name and issuer are then judged here.
struct TlsProbeOptions {
    std::string host; // address or name to connect to
    std::uint16_t port = 853;
    std::string server_name;   // SNI and the name the certificate must match (IP literal allowed)
    std::string trust_ca_file; // "" = system store
    /// The issuer a non-intercepted chain leads to: a PEM file (the chain must verify against
    /// it) or text that must appear in the issuer DN of a certificate of the chain
    /// (case-insensitive, e.g. "Google Trust Services"). "" = no expectation.
    std::string expected_issuer;
    std::vector<std::string> alpn; // "dot", or "http/1.1" (then http_date can be fetched)
    std::string http_path;         // when set: one HTTP/1.1 GET for the Date header (clock hint)
    unsigned timeout_ms = 3000;
};

struct TlsFacts {
    bool connected = false;  // TCP and TLS handshake completed
    std::string error;       // why not
    double handshake_ms = 0; // TCP connect + TLS handshake
    std::string protocol;    // "TLSv1.3"
    std::string cipher;
    std::string alpn;                          // negotiated, "" when none
    std::vector<CertInfo> chain;               // as presented, leaf first
    bool trusted = false;                      // chain verifies against the trust store
    std::string trust_error;                   // X509 verify error text when not trusted
    bool name_match = false;                   // leaf matches server_name (RFC 6125 host or IP SAN)
    bool valid_now = false;                    // leaf within notBefore..notAfter
    long days_left = 0;                        // until leaf notAfter
    std::optional<bool> expected_issuer_match; // nullopt without expectation
    std::optional<std::string> http_date;      // Date header of the HTTP answer
    std::optional<long> clock_offset_s;        // local clock minus server Date

    /// The chain does not lead to the expected issuer: a TLS-intercepting middlebox (or
    /// the wrong endpoint). False without an expectation.
    [[nodiscard]] bool interception() const {
        return expected_issuer_match.has_value() && !*expected_issuer_match;
    }
};

/// Connects, handshakes and gathers the facts. Never throws; failures land in `error`.
TlsFacts probe_tls(const TlsProbeOptions& opts);

/// The facts as the `data` of a tls.* check.
nlohmann::json tls_facts_json(const TlsFacts& f);

/// Parses an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into epoch seconds.
std::optional<long> parse_http_date(const std::string& text);

} // namespace probes::selftest
