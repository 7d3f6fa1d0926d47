// SPDX-License-Identifier: MIT
#include "probes/gateway_export/http1_response.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "resolver/util/http_syntax.hpp"

namespace probes::gateway_export {
namespace {

constexpr std::size_t kMaxChunkLine = 1024; // chunk size + extensions, generous

using resolver::util::ascii_lower;
using resolver::util::is_http_token;
using resolver::util::trim_ows;

/// The comma-separated elements of a list-based field (RFC 9110 §5.6.1), trimmed, lower case.
std::vector<std::string> list_elements(std::string_view value) {
    std::vector<std::string> out;
    while (true) {
        const auto comma = value.find(',');
        auto el = trim_ows(value.substr(0, comma));
        if (!el.empty()) {
            out.push_back(ascii_lower(el));
        }
        if (comma == std::string_view::npos) {
            return out;
        }
        value.remove_prefix(comma + 1);
    }
}

bool parse_decimal(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 18) {
        return false;
    }
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

} // namespace

const std::string* HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) {
            return &v;
        }
    }
    return nullptr;
}

Http1ResponseParser::State Http1ResponseParser::set_error(std::string why) {
    error_ = std::move(why);
    state_ = State::Error;
    return state_;
}

Http1ResponseParser::State Http1ResponseParser::feed(std::span<const std::uint8_t> bytes) {
    if (state_ != State::NeedMore) {
        if (state_ == State::Done) {
            buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        }
        return state_;
    }
    if (pos_ > (std::size_t{1} << 16)) { // keep the buffer from growing with consumed bytes
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return parse();
}

Http1ResponseParser::State Http1ResponseParser::finish_at_eof() {
    if (state_ != State::NeedMore) {
        return state_;
    }
    if (phase_ == Phase::Body && framing_ == Framing::UntilClose) {
        state_ = State::Done;
        return state_;
    }
    return set_error("connection closed before the response was complete");
}

bool Http1ResponseParser::next_line(std::string_view& line) {
    const auto nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
        return false;
    }
    line = std::string_view(buf_).substr(pos_, nl - pos_);
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    pos_ = nl + 1;
    return true;
}

Http1ResponseParser::State Http1ResponseParser::parse() {
    while (state_ == State::NeedMore) {
        const std::size_t before = pos_;
        const Phase phase = phase_;
        State s = phase_ == Phase::Head ? parse_head() : parse_body();
        if (s != State::NeedMore || (pos_ == before && phase_ == phase)) {
            return s; // finished, failed, or waiting for bytes
        }
    }
    return state_;
}

Http1ResponseParser::State Http1ResponseParser::parse_head() {
    std::string_view line;
    while (next_line(line)) {
        head_bytes_ += line.size() + 1;
        if (head_bytes_ > max_header_) {
            return set_error("response head larger than " + std::to_string(max_header_) + " bytes");
        }
        if (!status_seen_) {
            // RFC 9112 §4: HTTP-version SP status-code SP [reason-phrase]
            if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ' ||
                (line.size() > 12 && line[12] != ' ') ||
                !std::all_of(line.begin() + 9, line.begin() + 12,
                             [](unsigned char c) { return std::isdigit(c) != 0; })) {
                return set_error("bad status line '" + std::string(line.substr(0, 80)) + "'");
            }
            if (line[7] != '0' && line[7] != '1') {
                return set_error("unsupported version " + std::string(line.substr(0, 8)));
            }
            resp_ = HttpResponse{};
            resp_.status = std::stoi(std::string(line.substr(9, 3)));
            resp_.reason = line.size() > 13 ? std::string(line.substr(13)) : "";
            resp_.keep_alive = line[7] == '1'; // HTTP/1.0 closes unless it says keep-alive
            status_seen_ = true;
            continue;
        }
        if (line.empty()) {
            if (resp_.status >= 100 && resp_.status < 200) {
                if (resp_.status == 101) {
                    return set_error("unexpected 101 Switching Protocols");
                }
                status_seen_ = false; // an interim response: the real one follows (§9110 15.2)
                head_bytes_ = 0;
                continue;
            }
            return apply_headers();
        }
        if (line.front() == ' ' || line.front() == '\t') {
            return set_error("obsolete line folding in the response head"); // RFC 9112 §5.2
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || !is_http_token(line.substr(0, colon))) {
            return set_error("bad header line '" + std::string(line.substr(0, 80)) + "'");
        }
        resp_.headers.emplace_back(ascii_lower(line.substr(0, colon)),
                                   std::string(trim_ows(line.substr(colon + 1))));
    }
    if (buf_.size() - pos_ + head_bytes_ > max_header_) {
        return set_error("response head larger than " + std::to_string(max_header_) + " bytes");
    }
    return State::NeedMore;
}

Http1ResponseParser::State Http1ResponseParser::apply_headers() {
    bool chunked = false;
    std::optional<std::uint64_t> length;
    for (const auto& [name, value] : resp_.headers) {
        if (name == "connection") {
            for (const auto& el : list_elements(value)) {
                resp_.keep_alive = el == "close" ? false : el == "keep-alive" || resp_.keep_alive;
            }
        } else if (name == "transfer-encoding") {
            for (const auto& el : list_elements(value)) {
                if (el != "chunked" || chunked) {
                    return set_error("unsupported transfer coding '" + value + "'");
                }
                chunked = true;
            }
        } else if (name == "content-length") {
            // A list of equal values is one length (RFC 9110 §8.6); anything else misframes.
            for (const auto& el : list_elements(value)) {
                std::uint64_t n = 0;
                if (!parse_decimal(el, n) || (length && *length != n)) {
                    return set_error("bad or conflicting Content-Length '" + value + "'");
                }
                length = n;
            }
        }
    }
    phase_ = Phase::Body;
    if (resp_.status == 204 || resp_.status == 304) {
        framing_ = Framing::None;
        state_ = State::Done;
        return state_;
    }
    if (chunked) {
        // Both framings at once is how requests are smuggled: trust chunked, then close
        // (RFC 9112 §6.3 rule 3).
        resp_.keep_alive = resp_.keep_alive && !length;
        framing_ = Framing::Chunked;
        phase_ = Phase::ChunkSize;
        return State::NeedMore;
    }
    if (length) {
        if (*length > max_body_) {
            return set_error("response body of " + std::to_string(*length) +
                             " bytes is larger than " + std::to_string(max_body_));
        }
        framing_ = Framing::Length;
        remaining_ = *length;
        if (remaining_ == 0) {
            state_ = State::Done;
        }
        return state_;
    }
    framing_ = Framing::UntilClose; // RFC 9112 §6.3 rule 8
    resp_.keep_alive = false;
    return State::NeedMore;
}

Http1ResponseParser::State Http1ResponseParser::parse_body() {
    if (framing_ == Framing::Chunked) {
        return parse_chunks();
    }
    const std::size_t avail = buf_.size() - pos_;
    std::size_t take = avail;
    if (framing_ == Framing::Length) {
        take = static_cast<std::size_t>(std::min<std::uint64_t>(avail, remaining_));
        remaining_ -= take;
    } else if (resp_.body.size() + take > max_body_) {
        return set_error("response body larger than " + std::to_string(max_body_) + " bytes");
    }
    resp_.body.append(buf_, pos_, take);
    pos_ += take;
    if (framing_ == Framing::Length && remaining_ == 0) {
        state_ = State::Done;
    }
    return state_;
}

Http1ResponseParser::State Http1ResponseParser::parse_chunks() {
    for (;;) {
        std::string_view line;
        switch (phase_) {
        case Phase::ChunkSize: {
            if (!next_line(line)) {
                return buf_.size() - pos_ > kMaxChunkLine ? set_error("chunk size line too long")
                                                          : State::NeedMore;
            }
            // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG
            const auto ext = line.find_first_of("; \t");
            const auto hex = line.substr(0, ext);
            if (hex.empty() || hex.size() > 15 || !std::all_of(hex.begin(), hex.end(), [](char c) {
                    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                })) {
                return set_error("bad chunk size '" + std::string(line.substr(0, 40)) + "'");
            }
            const std::uint64_t size = std::stoull(std::string(hex), nullptr, 16);
            if (resp_.body.size() + size > max_body_) {
                return set_error("response body larger than " + std::to_string(max_body_) +
                                 " bytes");
            }
            remaining_ = size;
            phase_ = size == 0 ? Phase::Trailers : Phase::ChunkData;
            break;
        }
        case Phase::ChunkData: {
            const std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size() - pos_, remaining_));
            resp_.body.append(buf_, pos_, take);
            pos_ += take;
            remaining_ -= take;
            if (remaining_ != 0) {
                return State::NeedMore;
            }
            phase_ = Phase::ChunkEnd;
            break;
        }
        case Phase::ChunkEnd:
            if (!next_line(line)) {
                return buf_.size() - pos_ >= 2 ? set_error("chunk not followed by CRLF")
                                               : State::NeedMore;
            }
            if (!line.empty()) {
                return set_error("chunk not followed by CRLF");
            }
            phase_ = Phase::ChunkSize;
            break;
        case Phase::Trailers:
            if (!next_line(line)) {
                return buf_.size() - pos_ > max_header_ ? set_error("trailer section too large")
                                                        : State::NeedMore;
            }
            if (line.empty()) {
                state_ = State::Done;
                return state_;
            }
            head_bytes_ += line.size() + 1; // trailer fields are ignored, but bounded
            if (head_bytes_ > 2 * max_header_) {
                return set_error("trailer section too large");
            }
            break;
        default:
            return set_error("internal: chunk parser in a wrong phase");
        }
    }
}

} // namespace probes::gateway_export
