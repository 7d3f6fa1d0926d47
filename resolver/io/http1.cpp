// SPDX-License-Identifier: MIT
#include "resolver/io/http1.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "resolver/util/http_syntax.hpp"

namespace resolver::io {
namespace {

using util::ascii_lower;
using util::is_http_token;
using util::trim_ows;

bool has_token(std::string_view list, std::string_view token) {
    const std::string l = ascii_lower(list);
    std::size_t start = 0;
    while (start <= l.size()) {
        const std::size_t comma = l.find(',', start);
        const auto item = trim_ows(std::string_view(l).substr(start, comma - start));
        if (item == token) {
            return true;
        }
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    return false;
}

} // namespace

const std::string* HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) {
            return &v;
        }
    }
    return nullptr;
}

void Http1Parser::feed(std::span<const std::uint8_t> bytes) {
    if (error_status_ != 0) {
        return;
    }
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Http1Parser::State Http1Parser::set_error(int status, std::string reason) {
    error_status_ = status;
    error_reason_ = std::move(reason);
    return State::Error;
}

namespace {

// RFC 9110 §5.5: a field value holds visible characters, obs-text, SP and HTAB; CR, LF and
// NUL in particular are "invalid and dangerous". We refuse the message rather than repair it.
bool valid_field_value(std::string_view v) {
    return std::none_of(v.begin(), v.end(),
                        [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7F; });
}

// RFC 9112 §3.2 / RFC 3986 §3.2.2: uri-host [ ":" port ], so unreserved, pct-encoded,
// sub-delims, ":" and the IPv6 brackets. Empty is allowed (no authority in the target).
bool valid_host(std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 ||
               std::string_view("-._~%!$&'()*+,;=:[]").find(static_cast<char>(c)) !=
                   std::string_view::npos;
    });
}

/// The next line of `head` from `pos`, without its LF and the CR before it (RFC 9112 §2.2:
/// a recipient MAY take a bare LF as a line terminator). `pos` moves past the LF.
std::string_view next_line(std::string_view head, std::size_t& pos) {
    const std::size_t nl = head.find('\n', pos);
    std::string_view line = head.substr(pos, nl - pos);
    pos = nl == std::string_view::npos ? head.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

/// Where the header block ends (the offset just past its empty line), or npos when it has
/// not arrived yet. Lines end in CRLF or a bare LF.
std::size_t head_end(std::string_view view) {
    std::size_t pos = 0;
    while (pos < view.size()) {
        const std::size_t nl = view.find('\n', pos);
        if (nl == std::string_view::npos) {
            return std::string_view::npos;
        }
        const std::size_t len = nl - pos;
        if (pos > 0 && (len == 0 || (len == 1 && view[pos] == '\r'))) {
            return nl + 1;
        }
        pos = nl + 1;
    }
    return std::string_view::npos;
}

} // namespace

Http1Parser::State Http1Parser::next(HttpRequest& out) {
    if (error_status_ != 0) {
        return State::Error;
    }
    // RFC 9112 §2.2: ignore empty lines (CRLF or LF) before a request line.
    while (pos_ < buf_.size() &&
           (buf_[pos_] == '\n' ||
            (buf_[pos_] == '\r' && pos_ + 1 < buf_.size() && buf_[pos_ + 1] == '\n'))) {
        pos_ += buf_[pos_] == '\n' ? 1 : 2;
    }
    const std::string_view view = std::string_view(buf_).substr(pos_);
    const std::size_t end = head_end(view);
    if (end == std::string_view::npos) {
        if (view.size() > max_header_) {
            return set_error(413, "header block too large");
        }
        return State::NeedMore;
    }
    if (end > max_header_) {
        return set_error(413, "header block too large");
    }

    HttpRequest req;
    const std::string_view head = view.substr(0, end);
    std::size_t cursor = 0;
    const std::string_view request_line = next_line(head, cursor);
    if (request_line.find('\r') != std::string_view::npos) {
        return set_error(400, "bare CR in the request line"); // RFC 9112 §2.2
    }
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) {
        return set_error(400, "malformed request line");
    }
    req.method = std::string(request_line.substr(0, sp1));
    req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    const std::string_view version = request_line.substr(sp2 + 1);
    if (!is_http_token(req.method) || req.target.empty() ||
        req.target.find(' ') != std::string::npos) {
        return set_error(400, "malformed request line");
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return set_error(505, "HTTP version not supported");
    }
    const bool http10 = version == "HTTP/1.0";

    std::size_t content_length = 0;
    bool have_length = false;
    unsigned hosts = 0;
    for (;;) {
        const std::string_view line = next_line(head, cursor);
        if (line.empty()) {
            break; // the empty line that ends the block
        }
        if (line.front() == ' ' || line.front() == '\t') {
            return set_error(400, "obsolete line folding"); // RFC 9112 §5.2
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || !is_http_token(line.substr(0, colon))) {
            return set_error(400, "malformed header field");
        }
        std::string name = ascii_lower(line.substr(0, colon));
        const std::string_view raw_value = trim_ows(line.substr(colon + 1));
        if (!valid_field_value(raw_value)) {
            return set_error(400, "control character (NUL, CR, ...) in header field " + name);
        }
        std::string value(raw_value);
        if (name == "transfer-encoding") {
            return set_error(501, "transfer codings are not supported");
        }
        if (name == "content-length") {
            if (value.empty() || !std::all_of(value.begin(), value.end(),
                                              [](unsigned char c) { return std::isdigit(c); })) {
                return set_error(400, "bad content-length");
            }
            // Any number of digits is a valid length (RFC 9110 §8.6); one we would never read
            // is refused at once, before the body arrives, however many digits it has.
            const std::string_view digits = std::string_view(value).substr(
                std::min(value.find_first_not_of('0'), value.size() - 1));
            if (digits.size() > 9 || std::stoul(std::string(digits)) > max_body_) {
                return set_error(413, "body too large");
            }
            const std::size_t len = std::stoul(std::string(digits));
            if (have_length && len != content_length) {
                return set_error(400, "conflicting content-length"); // RFC 9112 §6.3
            }
            content_length = len;
            have_length = true;
        }
        if (name == "host") {
            ++hosts;
            if (!valid_host(value)) {
                return set_error(400, "invalid Host"); // RFC 9112 §3.2
            }
            req.authority = value;
        }
        req.headers.emplace_back(std::move(name), std::move(value));
    }
    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host and for any request with more
    // than one Host line.
    if (hosts > 1) {
        return set_error(400, "more than one Host");
    }
    if (hosts == 0 && !http10) {
        return set_error(400, "missing Host (RFC 9112 §3.2)");
    }
    if (view.size() - end < content_length) {
        return State::NeedMore;
    }
    req.body = std::string(view.substr(end, content_length));
    const std::string* connection = req.header("connection");
    req.keep_alive = http10 ? (connection != nullptr && has_token(*connection, "keep-alive"))
                            : (connection == nullptr || !has_token(*connection, "close"));
    pos_ += end + content_length;
    out = std::move(req);
    return State::Request;
}

std::string http_date(std::int64_t unix_seconds) {
    static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::int64_t days = unix_seconds / 86400;
    std::int64_t secs = unix_seconds % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    // civil_from_days (H. Hinnant): proleptic Gregorian date of a day count from 1970-01-01.
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
    const auto wday = static_cast<std::size_t>(((days % 7) + 7) % 7); // 1970-01-01: Thursday
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02d:%02d:%02d GMT",
                                kDays[wday], day, kMonths[month - 1], static_cast<long long>(year),
                                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                                static_cast<int>(secs % 60));
    return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

} // namespace resolver::io
