// SPDX-License-Identifier: MIT
// DoH request decoding as the HTTP/1.1 listener runs it: bytes from the connection through
// Http1Parser (resolver/io/http1.cpp), each request through decode_doh_request (GET ?dns=
// base64url, POST application/dns-message bodies, the JSON API's ?name=&type=&do=&cd=), and
// the answer back through encode_doh_reply (binary and JSON). Asserted: feeding the bytes in
// two pieces (as TCP may deliver them) gives the same requests and the same end state as
// feeding them at once; every decoded query parses; every error is an HTTP error status.
#include <cstdint>
#include <string>
#include <vector>

#include "resolver/io/doh_listener.hpp"
#include "resolver/io/http1.hpp"
#include "resolver/wire/message.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
using namespace resolver::io;
namespace wire = resolver::wire;

// Small caps, so that the 413 paths are reachable with fuzzer-sized inputs.
constexpr std::size_t kMaxHeader = 2048;
constexpr std::size_t kMaxBody = 1024;

struct Outcome {
    std::vector<HttpRequest> requests;
    Http1Parser::State last = Http1Parser::State::NeedMore;
    int error_status = 0;
    std::size_t buffered = 0;
};

void drain(Http1Parser& p, Outcome& out) {
    while (true) {
        HttpRequest req;
        out.last = p.next(req);
        if (out.last != Http1Parser::State::Request) {
            return;
        }
        out.requests.push_back(std::move(req));
    }
}

Outcome parse_in_pieces(std::span<const std::uint8_t> bytes, std::size_t split) {
    Http1Parser p(kMaxHeader, kMaxBody);
    Outcome out;
    p.feed(bytes.first(split));
    drain(p, out);
    p.feed(bytes.subspan(split));
    drain(p, out);
    out.error_status = p.error_status();
    out.buffered = out.last == Http1Parser::State::Error ? 0 : p.buffered();
    return out;
}

bool same_request(const HttpRequest& a, const HttpRequest& b) {
    return a.method == b.method && a.target == b.target && a.authority == b.authority &&
           a.headers == b.headers && a.body == b.body && a.keep_alive == b.keep_alive;
}

std::string describe(const Outcome& o) {
    std::string s = std::to_string(o.requests.size()) + " requests, state " +
                    std::to_string(static_cast<int>(o.last)) + ", status " +
                    std::to_string(o.error_status) + ", buffered " + std::to_string(o.buffered);
    for (const auto& r : o.requests) {
        s += "\n  " + r.method + " " + r.target + " body " + std::to_string(r.body.size());
    }
    return s;
}

void decode(const HttpRequest& req) {
    (void)doh_host_hint(req.authority);
    (void)request_path(req.target);
    const DohLimits limits{kMaxHeader, kMaxBody, 16};
    const DohDecision d = decode_doh_request(req, "/dns-query", limits);
    if (d.response) {
        FUZZ_CHECK(d.response->status >= 400 && d.response->status < 600,
                   "decode_doh_request answered " + std::to_string(d.response->status));
        return;
    }
    const auto parsed = wire::parse(d.query.wire);
    FUZZ_CHECK(parsed.message.has_value(), "a decoded DoH query does not parse");
    // The answer side: what the resolver would send back for this query.
    wire::Message answer = wire::make_response(*parsed.message, wire::rcode::NoError);
    Reply reply;
    reply.wire = wire::serialize(answer);
    reply.min_ttl = 60;
    const HttpResponse r = encode_doh_reply(reply, d.query);
    FUZZ_CHECK(r.status == 200, "a well-formed answer encoded as HTTP " + std::to_string(r.status));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    const Outcome whole = parse_in_pieces(bytes, size);
    // A split point taken from the input itself, so the fuzzer can steer it.
    const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
    const Outcome pieces = parse_in_pieces(bytes, split);
    bool same = whole.requests.size() == pieces.requests.size() && whole.last == pieces.last &&
                whole.error_status == pieces.error_status && whole.buffered == pieces.buffered;
    for (std::size_t i = 0; same && i < whole.requests.size(); ++i) {
        same = same_request(whole.requests[i], pieces.requests[i]);
    }
    FUZZ_CHECK(same, "split at " + std::to_string(split) + " changes the parse:\nwhole: " +
                         describe(whole) + "\npieces: " + describe(pieces));
    if (whole.last == Http1Parser::State::Error) {
        FUZZ_CHECK(whole.error_status >= 400 && whole.error_status < 600,
                   "parser error status " + std::to_string(whole.error_status));
    }
    for (const auto& req : whole.requests) {
        decode(req);
    }
    return 0;
}
