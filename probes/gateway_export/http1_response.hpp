// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace probes::gateway_export {

/// One HTTP/1.1 response as the API client sees it.
struct HttpResponse {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers; // names lower-cased, in order
    std::string body;
    bool keep_alive = true; // the connection may carry the next request

    /// First value of a header (name lower-case), or nullptr.
    [[nodiscard]] const std::string* header(std::string_view name) const;
};

/// An incremental parser of one HTTP/1.1 response (RFC 9112) from untrusted bytes: status
/// line, field lines, then the body framed by chunked transfer coding (§7.1), Content-Length
/// (§6.2) or the end of the connection (§6.3 rule 8). Interim 1xx responses are skipped.
/// Strict where laxness would misframe the body: conflicting Content-Length values, a
/// transfer coding other than chunked, obs-fold lines, whitespace before a colon and
/// malformed chunk sizes are errors. Bare LF line ends are accepted (§2.2). Caps on the
/// header block and the body keep memory bounded.
class Http1ResponseParser {
public:
    enum class State : std::uint8_t {
        NeedMore, // the response is not complete yet
        Done,     // response() holds it
        Error,    // error() says why; the connection must be dropped
    };

    Http1ResponseParser(std::size_t max_header_bytes, std::size_t max_body_bytes)
        : max_header_(max_header_bytes), max_body_(max_body_bytes) {}

    /// Appends received bytes and parses as far as they go.
    State feed(std::span<const std::uint8_t> bytes);
    /// The peer closed the connection: completes a body delimited by the close, else an
    /// error ("connection closed before the response was complete").
    State finish_at_eof();

    [[nodiscard]] State state() const noexcept { return state_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] const HttpResponse& response() const noexcept { return resp_; }
    [[nodiscard]] HttpResponse take() { return std::move(resp_); }
    /// Bytes received after the end of the response (a server that pipelines or misframes).
    [[nodiscard]] std::size_t leftover() const noexcept { return buf_.size() - pos_; }

private:
    enum class Framing : std::uint8_t { None, Length, Chunked, UntilClose };
    enum class Phase : std::uint8_t { Head, Body, ChunkSize, ChunkData, ChunkEnd, Trailers };

    State parse();
    State parse_head();
    State parse_body();
    State parse_chunks();
    State set_error(std::string why);
    bool next_line(std::string_view& line); // one line without its LF (and CR)
    State apply_headers();

    std::size_t max_header_;
    std::size_t max_body_;
    std::string buf_;
    std::size_t pos_ = 0;
    std::size_t head_bytes_ = 0; // bytes of the current header block so far
    State state_ = State::NeedMore;
    Phase phase_ = Phase::Head;
    Framing framing_ = Framing::None;
    bool status_seen_ = false;
    std::uint64_t remaining_ = 0; // Content-Length or current chunk left to read
    std::string error_;
    HttpResponse resp_;
};

} // namespace probes::gateway_export
