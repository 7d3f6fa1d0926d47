// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resolver::io {

/// One HTTP request as the DoH logic sees it, whatever the HTTP version.
struct HttpRequest {
    std::string method;    // "GET", "POST", ... (case kept; methods are case-sensitive)
    std::string target;    // origin-form path with query: "/dns-query?dns=..."
    std::string authority; // :authority (HTTP/2) or Host (HTTP/1.1), as sent (may have a port)
    std::vector<std::pair<std::string, std::string>> headers; // names lower-cased
    std::string body;
    bool keep_alive = true; // HTTP/1.x only: false after `Connection: close` or for HTTP/1.0
    bool too_large = false; // header block or body went over a cap: answer 413

    /// First value of a header (name lower-case), or nullptr.
    [[nodiscard]] const std::string* header(std::string_view name) const;
};

/// A minimal, incremental HTTP/1.1 request parser (RFC 9112) for the DoH listener: request
/// line, header fields, Content-Length bodies. Requests may be pipelined back to back.
/// Chunked transfer coding is refused (501): no DoH client needs it for a <= 64 KiB body.
/// Caps: the header block (request line + fields) and the body; a body over the cap is
/// refused with 413 as soon as Content-Length is read, without waiting for the bytes.
class Http1Parser {
public:
    enum class State : std::uint8_t {
        NeedMore, // no complete request buffered yet
        Request,  // `out` holds the next request
        Error,    // unrecoverable: answer error_status() and close the connection
    };

    Http1Parser(std::size_t max_header_bytes, std::size_t max_body_bytes)
        : max_header_(max_header_bytes), max_body_(max_body_bytes) {}

    /// Appends received bytes.
    void feed(std::span<const std::uint8_t> bytes);
    /// Extracts the next complete request. After Error, it keeps returning Error.
    State next(HttpRequest& out);

    /// The HTTP status for the Error state (400, 413, 501, 505).
    [[nodiscard]] int error_status() const noexcept { return error_status_; }
    [[nodiscard]] const std::string& error_reason() const noexcept { return error_reason_; }
    /// Bytes received but not yet consumed as a request.
    [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size() - pos_; }

private:
    State set_error(int status, std::string reason);

    std::size_t max_header_;
    std::size_t max_body_;
    std::string buf_;
    std::size_t pos_ = 0;
    int error_status_ = 0;
    std::string error_reason_;
};

/// `unix_seconds` as an RFC 9110 §5.6.7 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": the
/// `date` field every DoH response carries (§6.6.1: an origin server with a clock sends it;
/// clients such as `dnslab-probe selftest` read it to estimate their clock offset).
/// Formatted by hand because strftime's %a and %b follow the process locale.
std::string http_date(std::int64_t unix_seconds);

} // namespace resolver::io
