// SPDX-License-Identifier: MIT
#include "resolver/io/doh_listener.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <limits>
#include <new>

#include <nghttp2/nghttp2.h>
#include <nlohmann/json.hpp>

#include "resolver/io/doh_json.hpp"
#include "resolver/io/dot_listener.hpp"
#include "resolver/io/h2_frame_boundary.hpp"
#include "resolver/io/tls_stream.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::io {
namespace {

constexpr std::string_view kDnsMessage = "application/dns-message";
constexpr std::string_view kDnsJson = "application/dns-json";
constexpr std::size_t kMaxDnsMessage = 65535;
constexpr std::size_t kDnsHeaderSize = 12;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// The media type without parameters, lower-cased ("Application/DNS-Message; x=y" -> ...).
std::string media_type(std::string_view value) {
    std::string_view t = value.substr(0, value.find(';'));
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) {
        t.remove_suffix(1);
    }
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) {
        t.remove_prefix(1);
    }
    return lower(t);
}

HttpResponse error_response(int status, std::string text) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(text) + "\n";
    return r;
}

HttpResponse json_error(const std::string& text) {
    HttpResponse r;
    r.status = 400;
    r.content_type = "application/json";
    r.body = nlohmann::json{{"error", text}}.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace);
    return r;
}

bool wants_json(const HttpRequest& req, const std::map<std::string, std::string>& params) {
    if (auto it = params.find("ct"); it != params.end() && media_type(it->second) == kDnsJson) {
        return true;
    }
    const std::string* accept = req.header("accept");
    return accept != nullptr && lower(*accept).find(kDnsJson) != std::string::npos;
}

const char* reason_phrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

TransportInfo doh_info(const HttpRequest& req, const TlsConnection& conn) {
    TransportInfo info;
    info.protocol = net::Transport::Https;
    info.src = conn.peer().src;
    info.dst = conn.peer().dst;
    info.listener = conn.listener_url();
    info.sni = conn.peer().sni;
    info.http_host = doh_host_hint(req.authority);
    info.http_path = std::string(request_path(req.target));
    if (const std::string* loc = req.header("cf-dns-location")) {
        info.http_location = *loc;
    }
    if (const std::string* auth = req.header("cf-authorization")) {
        info.http_authorization = *auth;
    }
    info.datagram = false;
    return info;
}

/// The value of the first `name=` parameter of a query string that holds no '%' at all, as
/// parse_query_string() would give it (without escapes, percent-decoding changes nothing and
/// never fails); nullopt when the string has a '%' or no such parameter, so that the caller
/// falls back to the full parse. A DoH GET carries base64url, which needs no escapes: the
/// common request costs no map and no copies.
std::optional<std::string_view> plain_query_param(std::string_view query, std::string_view name) {
    if (query.find('%') != std::string_view::npos) {
        return std::nullopt;
    }
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const std::size_t eq = part.find('=');
        if (part.substr(0, eq) == name) {
            return eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
        }
    }
    return std::nullopt;
}

} // namespace

std::string_view request_path(std::string_view target) {
    return target.substr(0, target.find('?'));
}

std::string doh_host_hint(std::string_view authority) {
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        return lower(authority.substr(1, close == std::string_view::npos ? close : close - 1));
    }
    return lower(authority.substr(0, authority.find(':')));
}

DohDecision decode_doh_request(const HttpRequest& req, std::string_view served_path,
                               const DohLimits& limits) {
    DohDecision d;
    const std::string_view path = request_path(req.target);
    const bool path_ok =
        served_path.empty() || served_path == "/" || path == served_path ||
        (path.size() > served_path.size() && path.substr(0, served_path.size()) == served_path &&
         path[served_path.size()] == '/');
    if (!path_ok) {
        d.response =
            error_response(404, "not found: this listener serves " + std::string(served_path));
        return d;
    }
    // HEAD is GET without the body (RFC 9110 §9.3.2); the session leaves the body out.
    const bool get = req.method == "GET" || req.method == "HEAD";
    if (!get && req.method != "POST") {
        d.response = error_response(405, "method not allowed: use GET or POST (RFC 8484 §4.1)");
        d.response->headers.emplace_back("allow", "GET, HEAD, POST");
        return d;
    }
    if (req.too_large) {
        d.response = error_response(413, "request too large");
        return d;
    }

    if (get) {
        const std::size_t q = req.target.find('?');
        const std::string_view query = q == std::string::npos
                                           ? std::string_view{}
                                           : std::string_view(req.target).substr(q + 1);
        // The query string is parsed into a map only when the plain scan cannot answer.
        std::optional<std::map<std::string, std::string>> parsed_params;
        std::optional<std::string_view> dns = plain_query_param(query, "dns");
        if (!dns) {
            parsed_params = parse_query_string(query);
            if (auto it = parsed_params->find("dns"); it != parsed_params->end()) {
                dns = it->second;
            }
        }
        if (dns) {
            // 4 base64 characters per 3 bytes: anything longer cannot fit in a DNS message.
            if (dns->size() > (kMaxDnsMessage + 2) / 3 * 4) {
                d.response = error_response(413, "dns parameter larger than a DNS message");
                return d;
            }
            auto decoded = base64url_decode(*dns);
            if (!decoded) {
                d.response = error_response(400, "dns parameter is not base64url (RFC 8484 §6)");
                return d;
            }
            d.query.wire = std::move(*decoded);
        } else if (const auto& params = *parsed_params; wants_json(req, params)) {
            auto msg = json_query_from_params(params);
            if (!msg) {
                d.response = json_error(msg.error().detail);
                return d;
            }
            d.query.wire = wire::serialize(*msg);
            d.query.json = true;
        } else {
            d.response = error_response(400, "missing dns parameter");
            return d;
        }
    } else {
        const std::string* ct = req.header("content-type");
        if (ct == nullptr || media_type(*ct) != kDnsMessage) {
            d.response = error_response(415, "POST needs content-type application/dns-message");
            return d;
        }
        if (req.body.size() > std::min(limits.max_body_bytes, kMaxDnsMessage)) {
            d.response = error_response(413, "body larger than a DNS message");
            return d;
        }
        d.query.wire.assign(req.body.begin(), req.body.end());
    }

    if (d.query.wire.size() < kDnsHeaderSize) {
        d.response = error_response(400, "query too small");
        return d;
    }
    const auto parsed = wire::parse(d.query.wire);
    if (!parsed) {
        d.response = error_response(400, "malformed DNS query: " + parsed.failure.reason);
        return d;
    }
    d.query.pad =
        parsed.message->edns && parsed.message->edns->find(wire::edns_opt::Padding) != nullptr;
    return d;
}

HttpResponse encode_doh_reply(const Reply& reply, const DohQuery& query) {
    if (reply.upstream_timeout || reply.dropped || reply.wire.empty()) {
        return error_response(504, reply.upstream_timeout ? "upstream timeout" : "no answer");
    }
    HttpResponse r;
    r.max_age = reply.min_ttl; // the answer's freshness lifetime, from stages/
    if (query.json) {
        const auto parsed = wire::parse(reply.wire);
        if (!parsed) {
            return error_response(500, "unparsable answer");
        }
        r.content_type = kDnsJson;
        r.body = render_json(*parsed.message);
        return r;
    }
    r.content_type = kDnsMessage;
    if (query.pad) {
        const auto padded = pad_response(reply.wire);
        r.body.assign(padded.begin(), padded.end());
    } else {
        r.body.assign(reply.wire.begin(), reply.wire.end()); // no copy of the vector first
    }
    return r;
}

void ResolvingDoh::handle(DohQuery query, TransportInfo info, DohAnswerFn answer) {
    std::vector<std::uint8_t> wire = std::move(query.wire);
    query.wire.clear();
    resolver_.handle(std::move(wire), std::move(info),
                     [query = std::move(query), answer = std::move(answer)](Reply reply) {
                         DohAnswer a;
                         a.response = encode_doh_reply(reply, query);
                         answer(std::move(a));
                     });
}

namespace {

/// Answers sent when a request is refused before it is complete.
HttpResponse too_large_response() {
    return error_response(413, "request too large");
}

/// The decimal value of a content-length, or nullopt; any length over 9 digits counts as
/// 1e9 (more than any cap).
std::optional<std::size_t> content_length_value(std::string_view v) {
    if (v.empty() ||
        !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
        return std::nullopt;
    }
    const std::size_t nz = std::min(v.find_first_not_of('0'), v.size() - 1);
    const std::string_view digits = v.substr(nz);
    return digits.size() > 9 ? std::size_t{1000000000} : std::stoul(std::string(digits));
}

/// The `date` field of the current second, formatted once per second instead of once per
/// response (http_date() goes through snprintf; the field has one-second resolution, RFC 9110
/// §5.6.7). One per session: no shared mutable state.
class DateField {
public:
    std::string_view now() {
        const std::time_t t = std::time(nullptr);
        if (t != at_ || text_.empty()) {
            at_ = t;
            text_ = http_date(t);
        }
        return text_;
    }

private:
    std::time_t at_ = 0;
    std::string text_;
};

/// `prefix` followed by the decimal digits of `v`, in `buf` (no allocation, no locale).
template <std::size_t N>
std::string_view decimal(char (&buf)[N], std::uint64_t v, std::string_view prefix = {}) {
    static_assert(N >= 32);
    std::copy(prefix.begin(), prefix.end(), buf);
    const auto res = std::to_chars(buf + prefix.size(), buf + N, v);
    return {buf, static_cast<std::size_t>(res.ptr - buf)};
}

/// Request header fields the DoH logic reads (decode_doh_request, doh_info, the content-length
/// check). HTTP/2 requests keep only these in HttpRequest::headers; the others (user-agent,
/// accept-encoding, ...) still count against the header cap but are not copied.
bool kept_h2_header(std::string_view n) {
    return n == "accept" || n == "content-type" || n == "content-length" || n == "host" ||
           n == "cf-dns-location" || n == "cf-authorization";
}

nghttp2_nv header_field(std::string_view name, std::string_view value) {
    // nghttp2 copies names and values during submit, so views of locals are fine.
    return {const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
            const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())),
            name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

/// nghttp2's heap for one session (nghttp2_mem): blocks of up to 1 KiB are kept on per-size
/// free lists instead of going back to malloc. nghttp2 makes about five short-lived blocks per
/// request (the stream, the decoded :path, the response's header list and its two queue
/// items); with many streams in flight they overflow glibc's per-thread cache, and malloc and
/// free were the largest item of a DoH cache hit's profile. The spare blocks of a session are
/// capped (kMaxSpareBytes) and freed with it.
class SessionMemory {
public:
    SessionMemory() = default;
    SessionMemory(const SessionMemory&) = delete;
    SessionMemory& operator=(const SessionMemory&) = delete;
    ~SessionMemory() {
        for (Block*& list : free_) {
            while (list != nullptr) {
                Block* next = list->next;
                std::free(head_of(list));
                list = next;
            }
        }
    }

    nghttp2_mem* mem() noexcept { return &mem_; }

private:
    struct Head {
        std::size_t cls;      // size class, or kClasses for a block of its own size
        std::size_t capacity; // usable bytes after the header
    };
    struct Block {
        Block* next; // a spare block's first bytes
    };
    static constexpr std::size_t kHeader = alignof(std::max_align_t); // keeps malloc's alignment
    static_assert(sizeof(Head) <= kHeader);
    static constexpr std::size_t kClasses = 5; // 64, 128, 256, 512, 1024 bytes
    static constexpr std::size_t kMaxSpareBytes = 32 * 1024;

    static constexpr std::size_t capacity_of(std::size_t cls) { return std::size_t{64} << cls; }
    static std::size_t class_of(std::size_t n) {
        std::size_t cls = 0;
        while (cls < kClasses && capacity_of(cls) < n) {
            ++cls;
        }
        return cls;
    }
    static Head* head_of(void* p) {
        return reinterpret_cast<Head*>(static_cast<unsigned char*>(p) - kHeader);
    }

    void* allocate(std::size_t n) {
        const std::size_t cls = class_of(n);
        if (cls < kClasses && free_[cls] != nullptr) {
            Block* b = free_[cls];
            free_[cls] = b->next;
            spare_bytes_ -= capacity_of(cls);
            return b;
        }
        const std::size_t capacity = cls < kClasses ? capacity_of(cls) : n;
        void* raw = std::malloc(kHeader + capacity);
        if (raw == nullptr) {
            return nullptr;
        }
        new (raw) Head{cls, capacity};
        return static_cast<unsigned char*>(raw) + kHeader;
    }

    void release(void* p) {
        if (p == nullptr) {
            return;
        }
        Head* h = head_of(p);
        if (h->cls < kClasses && spare_bytes_ + h->capacity <= kMaxSpareBytes) {
            free_[h->cls] = new (p) Block{free_[h->cls]};
            spare_bytes_ += h->capacity;
            return;
        }
        std::free(h);
    }

    void* resize(void* p, std::size_t n) {
        if (p == nullptr) {
            return allocate(n);
        }
        if (n == 0) {
            release(p);
            return nullptr;
        }
        const std::size_t have = head_of(p)->capacity;
        if (n <= have) {
            return p;
        }
        void* q = allocate(n);
        if (q != nullptr) {
            std::memcpy(q, p, have);
            release(p);
        }
        return q;
    }

    static SessionMemory& self(void* ud) { return *static_cast<SessionMemory*>(ud); }
    static void* cb_malloc(std::size_t n, void* ud) { return self(ud).allocate(n); }
    static void cb_free(void* p, void* ud) { self(ud).release(p); }
    static void* cb_calloc(std::size_t count, std::size_t size, void* ud) {
        if (size != 0 && count > std::numeric_limits<std::size_t>::max() / size) {
            return nullptr;
        }
        void* p = self(ud).allocate(count * size);
        if (p != nullptr) {
            std::memset(p, 0, count * size);
        }
        return p;
    }
    static void* cb_realloc(void* p, std::size_t n, void* ud) { return self(ud).resize(p, n); }

    std::array<Block*, kClasses> free_{};
    std::size_t spare_bytes_ = 0;
    nghttp2_mem mem_{this, &cb_malloc, &cb_free, &cb_calloc, &cb_realloc};
};

// ---------------------------------------------------------------------------------------------
// HTTP/2

class H2Session final : public StreamSession {
public:
    H2Session(TlsConnection& conn, DohRequestHandler& handler, std::string path,
              const DohLimits& limits)
        : conn_(conn), handler_(handler), path_(std::move(path)), limits_(limits) {}

    bool init() {
        nghttp2_session_callbacks* raw_cbs = nullptr;
        if (nghttp2_session_callbacks_new(&raw_cbs) != 0) {
            return false;
        }
        util::CHandle<nghttp2_session_callbacks, nghttp2_session_callbacks_del> cbs{raw_cbs};
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), &on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs.get(), &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), &on_data_chunk);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), &on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), &on_stream_close);
        nghttp2_session* raw = nullptr;
        if (nghttp2_session_server_new3(&raw, cbs.get(), this, nullptr, memory_.mem()) != 0) {
            return false;
        }
        session_.reset(raw);
        const nghttp2_settings_entry settings[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
             static_cast<std::uint32_t>(limits_.max_streams)},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
             static_cast<std::uint32_t>(limits_.max_header_bytes)},
        };
        if (nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, 2) != 0) {
            return false;
        }
        flush(); // RFC 9113 §3.4: the server preface is a SETTINGS frame, sent first
        return true;
    }

    bool on_data(std::span<const std::uint8_t> bytes) override {
        const bool completed = frames_.feed(bytes);
        frame_since_.after_read(conn_.now(), completed, frames_.mid_frame());
        in_recv_ = true;
        const auto rv = nghttp2_session_mem_recv(session_.get(), bytes.data(), bytes.size());
        in_recv_ = false;
        if (rv < 0) {
            return false; // bad preface or a connection error nghttp2 could not report
        }
        if (std::exchange(progress_pending_, false)) {
            conn_.progress();
        }
        flush();
        return true;
    }

    [[nodiscard]] std::size_t in_flight() const override { return in_flight_; }

    // The oldest of: a frame still arriving, a stream whose request has not ended. Read after
    // every read and every answer: the walk over the open streams is skipped when every one
    // of them has its whole request (the usual case: a GET is one HEADERS frame).
    [[nodiscard]] std::optional<std::uint64_t> incomplete_since() const override {
        std::optional<std::uint64_t> since = frame_since_.get();
        if (unfinished_ == 0) {
            return since;
        }
        for (const auto& st : live_) {
            if (!st->complete && !st->answered) {
                since = std::min(since.value_or(st->opened_ms), st->opened_ms);
            }
        }
        return since;
    }

    void on_request_timeout() override { on_goodbye(); }

    // RFC 9113 §6.8: a first GOAWAY with the largest stream ID announces the shutdown and
    // still lets requests already on their way in; the last one (on_goodbye) closes.
    void on_drain() override {
        nghttp2_submit_shutdown_notice(session_.get());
        flush();
    }

    void on_goodbye() override {
        nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(session_.get()),
                              NGHTTP2_NO_ERROR, nullptr, 0);
        flush();
    }

private:
    /// One request stream. Found through nghttp2's own stream table (the stream's user data),
    /// owned by live_ while open, and kept in spare_ after it closes so that the next stream
    /// reuses its strings' and vectors' capacity.
    struct Stream {
        HttpRequest req;
        std::size_t header_bytes = 0;
        std::string response_body;
        std::size_t response_off = 0;
        std::uint64_t opened_ms = 0;
        std::size_t slot = 0;  // index in live_
        bool complete = false; // END_STREAM received
        bool answered = false; // answered before the request ended (413); body discarded

        // Heap bytes the buffers hold on to (their capacity), header values included.
        [[nodiscard]] std::size_t retained_bytes() const {
            std::size_t n = req.method.capacity() + req.target.capacity() +
                            req.authority.capacity() + req.body.capacity() +
                            response_body.capacity();
            for (const auto& [k, v] : req.headers) {
                n += k.capacity() + v.capacity();
            }
            return n;
        }

        void reset() {
            req.method.clear();
            req.target.clear();
            req.authority.clear();
            req.headers.clear();
            req.body.clear();
            req.keep_alive = true;
            req.too_large = false;
            header_bytes = 0;
            response_body.clear();
            response_off = 0;
            complete = false;
            answered = false;
        }
    };
    // Closed streams kept for reuse: at most this many per session, and only those whose
    // buffers stayed small (a 64 KiB POST body or answer is not kept alive by the pool).
    static constexpr std::size_t kSpareStreams = 64;
    static constexpr std::size_t kSpareStreamBytes = 4096;

    static H2Session& self(void* user_data) { return *static_cast<H2Session*>(user_data); }

    static int on_begin_headers(nghttp2_session* s, const nghttp2_frame* frame, void* ud) {
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            H2Session& me = self(ud);
            Stream& st = me.open_stream();
            st.opened_ms = me.conn_.now();
            if (nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, &st) != 0) {
                me.close_stream(st); // no such stream: nothing will ask for it
            }
        }
        return 0;
    }

    static int on_header(nghttp2_session* /*s*/, const nghttp2_frame* frame,
                         const std::uint8_t* name, std::size_t namelen, const std::uint8_t* value,
                         std::size_t valuelen, std::uint8_t /*flags*/, void* ud) {
        Stream* st = self(ud).find(frame->hd.stream_id);
        if (st == nullptr) {
            return 0;
        }
        st->header_bytes += namelen + valuelen + 32; // RFC 9113 §6.5.2 accounting
        if (st->header_bytes > self(ud).limits_.max_header_bytes) {
            st->req.too_large = true;
            return 0;
        }
        const std::string_view n(reinterpret_cast<const char*>(name), namelen);
        const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
        // assign(): a reused stream's strings keep their capacity.
        if (n == ":method") {
            st->req.method.assign(v);
        } else if (n == ":path") {
            st->req.target.assign(v);
        } else if (n == ":authority") {
            st->req.authority.assign(v);
        } else if ((n.empty() || n.front() != ':') && kept_h2_header(n)) {
            if (n == "host") {
                if (st->req.authority.empty()) {
                    st->req.authority.assign(v);
                }
            } else if (n == "content-length") {
                // A body we would refuse is refused now, without reading it.
                const auto len = content_length_value(v);
                st->req.too_large =
                    st->req.too_large ||
                    (len && *len > std::min(self(ud).limits_.max_body_bytes, kMaxDnsMessage));
            }
            st->req.headers.emplace_back(n, v); // HTTP/2 names arrive lower-case
        }
        return 0;
    }

    static int on_data_chunk(nghttp2_session* /*s*/, std::uint8_t /*flags*/, std::int32_t stream_id,
                             const std::uint8_t* data, std::size_t len, void* ud) {
        Stream* st = self(ud).find(stream_id);
        if (st == nullptr || st->req.too_large || st->answered) {
            return 0; // flow control still credits the bytes (nghttp2's automatic WINDOW_UPDATE)
        }
        if (st->req.body.size() + len > self(ud).limits_.max_body_bytes) {
            st->req.too_large = true; // answered 413 when this frame ends
            st->req.body.clear();
            return 0;
        }
        st->req.body.append(reinterpret_cast<const char*>(data), len);
        return 0;
    }

    static int on_frame_recv(nghttp2_session* /*s*/, const nghttp2_frame* frame, void* ud) {
        if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
            return 0;
        }
        H2Session& me = self(ud);
        Stream* st = me.find(frame->hd.stream_id);
        if (st == nullptr) {
            return 0;
        }
        if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
            me.settle(*st, &Stream::complete);
            if (!st->answered) {
                me.on_request(frame->hd.stream_id);
            }
        } else if (st->req.too_large && !st->answered) {
            // Answered now, before the body. RFC 9113 §8.1 would let us follow with
            // RST_STREAM(NO_ERROR), but curl 7.88 (Debian 12) then fails the transfer with
            // "Stream error in the HTTP/2 framing layer" instead of reporting the 413, so the
            // rest of the body is discarded as it arrives (on_data_chunk), never stored.
            me.settle(*st, &Stream::answered);
            me.respond(frame->hd.stream_id, too_large_response());
        }
        return 0;
    }

    static int on_stream_close(nghttp2_session* s, std::int32_t stream_id,
                               std::uint32_t /*error_code*/, void* ud) {
        // The stream is still in nghttp2's table during this call. A late reply for it finds
        // nothing and is dropped.
        if (auto* st = static_cast<Stream*>(nghttp2_session_get_stream_user_data(s, stream_id))) {
            nghttp2_session_set_stream_user_data(s, stream_id, nullptr);
            self(ud).close_stream(*st);
        }
        return 0;
    }

    static ssize_t read_body(nghttp2_session* /*s*/, std::int32_t stream_id, std::uint8_t* buf,
                             std::size_t length, std::uint32_t* data_flags,
                             nghttp2_data_source* /*source*/, void* ud) {
        Stream* st = self(ud).find(stream_id);
        if (st == nullptr) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // cannot happen: it closes the stream
        }
        const std::size_t n = std::min(length, st->response_body.size() - st->response_off);
        std::copy_n(st->response_body.data() + st->response_off, n, buf);
        st->response_off += n;
        if (st->response_off == st->response_body.size()) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
    }

    // Consecutive callbacks mostly concern one stream (its header fields, its end, its answer
    // at once from the cache): the last stream found is remembered, which saves most of
    // nghttp2's hash lookups. close_stream() forgets it.
    Stream* find(std::int32_t id) {
        if (id == last_id_ && last_stream_ != nullptr) {
            return last_stream_;
        }
        auto* st = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session_.get(), id));
        if (st != nullptr) {
            last_id_ = id;
            last_stream_ = st;
        }
        return st;
    }

    Stream& open_stream() {
        std::unique_ptr<Stream> st;
        if (spare_.empty()) {
            st = std::make_unique<Stream>();
        } else {
            st = std::move(spare_.back());
            spare_.pop_back();
            st->reset();
        }
        st->slot = live_.size();
        ++unfinished_;
        return *live_.emplace_back(std::move(st));
    }

    void close_stream(Stream& st) {
        if (last_stream_ == &st) {
            last_stream_ = nullptr;
        }
        if (!st.complete && !st.answered) {
            --unfinished_;
        }
        const std::size_t slot = st.slot;
        std::unique_ptr<Stream> gone = std::move(live_[slot]);
        if (slot + 1 != live_.size()) {
            live_[slot] = std::move(live_.back());
            live_[slot]->slot = slot;
        }
        live_.pop_back();
        if (spare_.size() < kSpareStreams && gone->retained_bytes() <= kSpareStreamBytes) {
            spare_.push_back(std::move(gone));
        }
    }

    // Sets `flag` (complete or answered); the stream's request stops counting as unfinished
    // at the first of the two.
    void settle(Stream& st, bool Stream::*flag) {
        if (!st.complete && !st.answered) {
            --unfinished_;
        }
        st.*flag = true;
    }

    // A request completed or an answer went out (TlsConnection::progress()). Inside
    // nghttp2_session_mem_recv, where cache hits are answered, once when it returns: the loop
    // time is the same for every request of one read, and each call re-arms the timer.
    void progressed() {
        if (in_recv_) {
            progress_pending_ = true;
            return;
        }
        conn_.progress();
    }

    void on_request(std::int32_t id) {
        Stream* st = find(id);
        if (st == nullptr) {
            return;
        }
        progressed();
        DohDecision d = decode_doh_request(st->req, path_, limits_);
        if (d.response) {
            respond(id, std::move(*d.response));
            return;
        }
        TransportInfo info = doh_info(st->req, conn_);
        ++in_flight_;
        handler_.handle(std::move(d.query), std::move(info),
                        [weak = conn_.weak_from_this(), this, id](DohAnswer answer) {
                            auto conn = weak.lock();
                            if (!conn || conn->closed()) {
                                return;
                            }
                            --in_flight_;
                            if (find(id) != nullptr) {
                                deliver(id, std::move(answer));
                            }
                            progressed();
                            flush();
                        });
    }

    void deliver(std::int32_t id, DohAnswer&& a) {
        switch (a.kind) {
        case DohAnswer::Kind::Respond:
            respond(id, std::move(a.response));
            return;
        case DohAnswer::Kind::GoAway:
            // Last stream ID below this one: the request was not processed (RFC 9113 §6.8);
            // nghttp2 closes it once the GOAWAY is out, streams below it finish first.
            nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, std::max(0, id - 2),
                                  a.h2_error, reinterpret_cast<const std::uint8_t*>(a.debug.data()),
                                  a.debug.size());
            return;
        case DohAnswer::Kind::ResetStream:
            nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, a.h2_error);
            return;
        }
    }

    void respond(std::int32_t id, HttpResponse&& r) {
        Stream* st = find(id);
        if (st == nullptr) {
            return;
        }
        conn_.count_http_status(r.status);
        // The values are formatted into stack buffers; nghttp2 copies them during submit.
        char status_buf[32];
        char length_buf[32];
        char cache_buf[48];
        const std::string_view status = decimal(status_buf, static_cast<std::uint64_t>(r.status));
        const std::string_view length = decimal(length_buf, r.body.size());
        constexpr std::size_t kFixed = 5; // :status, date, content-length, content-type, cache
        std::array<nghttp2_nv, kFixed + 3> fixed{};
        std::vector<nghttp2_nv> spilled; // only for more than 3 extra fields (none today)
        nghttp2_nv* nva = fixed.data();
        if (kFixed + r.headers.size() > fixed.size()) {
            spilled.resize(kFixed + r.headers.size());
            nva = spilled.data();
        }
        std::size_t n = 0;
        nva[n++] = header_field(":status", status);
        nva[n++] = header_field("date", date_.now()); // RFC 9110 §6.6.1
        nva[n++] = header_field("content-length", length);
        if (!r.content_type.empty()) {
            nva[n++] = header_field("content-type", r.content_type);
        }
        if (r.max_age) {
            nva[n++] = header_field("cache-control", decimal(cache_buf, *r.max_age, "max-age="));
        }
        for (const auto& [k, v] : r.headers) {
            nva[n++] = header_field(k, v);
        }
        // HEAD: the same fields, content-length included, and no DATA (RFC 9110 §9.3.2).
        const bool body = !r.body.empty() && st->req.method != "HEAD";
        if (body) {
            st->response_body = std::move(r.body);
        } else {
            st->response_body.clear();
        }
        st->response_off = 0;
        nghttp2_data_provider provider{};
        provider.read_callback = &read_body;
        nghttp2_submit_response(session_.get(), id, nva, n, body ? &provider : nullptr);
    }

    void flush() {
        if (in_recv_ || conn_.closed()) {
            return; // on_data() flushes once nghttp2 returns
        }
        // Every frame nghttp2 has ready goes out in one TlsConnection::send (one SSL_write),
        // gathered in a buffer that keeps its capacity from one flush to the next.
        out_.clear();
        for (;;) {
            const std::uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(session_.get(), &data);
            if (n < 0) {
                conn_.close();
                return;
            }
            if (n == 0) {
                break;
            }
            out_.insert(out_.end(), data, data + n);
            if (out_.size() >= 64 * 1024) {
                conn_.send(out_);
                out_.clear();
            }
        }
        conn_.send(out_);
        out_.clear();
        if (out_.capacity() > 256 * 1024) {
            out_.shrink_to_fit(); // a burst of large answers does not pin its buffer
        }
        if (nghttp2_session_want_read(session_.get()) == 0 &&
            nghttp2_session_want_write(session_.get()) == 0) {
            conn_.close_after_flush(); // GOAWAY exchanged, or a connection error was sent
        }
    }

    TlsConnection& conn_;
    DohRequestHandler& handler_;
    std::string path_;
    DohLimits limits_;
    std::vector<std::unique_ptr<Stream>> live_;  // open streams, in no order
    std::vector<std::unique_ptr<Stream>> spare_; // closed, for reuse
    std::size_t unfinished_ = 0;                 // open streams whose request has not ended
    std::int32_t last_id_ = 0;                   // find()'s last answer
    Stream* last_stream_ = nullptr;
    std::vector<std::uint8_t> out_; // flush()'s gathering buffer
    DateField date_;
    H2FrameBoundary frames_;
    IncompleteSince frame_since_;
    std::size_t in_flight_ = 0;
    bool in_recv_ = false;
    bool progress_pending_ = false; // progressed() inside nghttp2_session_mem_recv
    SessionMemory memory_;          // before session_, which frees into it as it goes
    util::Http2Session session_;    // last: deleting it may call back into the members above
};

// ---------------------------------------------------------------------------------------------
// HTTP/1.1

class H1Session final : public StreamSession {
public:
    H1Session(TlsConnection& conn, DohRequestHandler& handler, std::string path,
              const StreamLimits& limits, const DohLimits& doh_limits)
        : conn_(conn), handler_(handler), path_(std::move(path)), doh_limits_(doh_limits),
          parser_(doh_limits.max_header_bytes, doh_limits.max_body_bytes),
          max_pending_(std::max<std::size_t>(1, limits.max_in_flight)) {}

    bool on_data(std::span<const std::uint8_t> bytes) override {
        parser_.feed(bytes);
        pump();
        return true;
    }

    [[nodiscard]] std::size_t in_flight() const override { return in_flight_; }
    [[nodiscard]] std::optional<std::uint64_t> incomplete_since() const override {
        return incomplete_.get();
    }

    // RFC 9110 §15.5.9: 408 when the request did not arrive in time; the connection closes.
    void on_request_timeout() override {
        if (slots_.empty()) {
            const std::string bytes =
                serialize(error_response(408, "request not complete in time"), false, false);
            conn_.send({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        }
    }

    // The next answer (or the last one pending) says `connection: close` and ends it
    // (RFC 9112 §9.6); nothing is parsed after it.
    void on_drain() override {
        draining_ = true;
        if (!slots_.empty()) {
            slots_.back().close = true;
            stop_parsing_ = true;
        }
    }

private:
    struct Slot {
        bool ready = false;
        bool close = false;
        bool head = false;
        std::string bytes;
    };

    void pump() {
        if (pumping_) {
            return;
        }
        pumping_ = true;
        HttpRequest req;
        bool completed = false;
        bool need_more = false;
        while (!stop_parsing_ && slots_.size() < max_pending_ && !conn_.closed()) {
            const auto state = parser_.next(req);
            if (state == Http1Parser::State::NeedMore) {
                need_more = true;
                break;
            }
            if (state == Http1Parser::State::Error) {
                // The stream cannot be resynchronised: answer, then close (RFC 9112 §9.6).
                stop_parsing_ = true;
                auto& slot = slots_.emplace_back();
                slot.close = true;
                slot.ready = true;
                slot.bytes = serialize(
                    error_response(parser_.error_status(), parser_.error_reason()), false, false);
                break;
            }
            completed = true;
            on_request(req);
        }
        pumping_ = false;
        // Unparsed bytes while we wait for more are a request in progress; while the window
        // of pending answers is full the wait is ours and no request deadline runs.
        incomplete_.after_read(conn_.now(), completed, need_more && parser_.buffered() > 0);
        if (completed) {
            conn_.progress();
        }
        write_ready();
        // Pipelined requests beyond the window wait in the parser; bound what we buffer.
        if (!conn_.closed()) {
            conn_.set_reading(parser_.buffered() <
                              doh_limits_.max_header_bytes + doh_limits_.max_body_bytes);
        }
    }

    void on_request(const HttpRequest& req) {
        const std::uint64_t seq = base_seq_ + slots_.size();
        auto& slot = slots_.emplace_back();
        slot.close = !req.keep_alive || draining_;
        slot.head = req.method == "HEAD";
        if (slot.close) {
            stop_parsing_ = true; // RFC 9112 §9.6: nothing after `Connection: close`
        }
        DohDecision d = decode_doh_request(req, path_, doh_limits_);
        if (d.response) {
            slot.ready = true;
            slot.bytes = serialize(*d.response, !slot.close, slot.head);
            return;
        }
        ++in_flight_;
        handler_.handle(std::move(d.query), doh_info(req, conn_),
                        [weak = conn_.weak_from_this(), this, seq](DohAnswer answer) {
                            auto conn = weak.lock();
                            if (!conn || conn->closed()) {
                                return;
                            }
                            --in_flight_;
                            if (seq >= base_seq_ && seq - base_seq_ < slots_.size()) {
                                fill(slots_[seq - base_seq_], answer);
                            }
                            conn_.progress();
                            pump();
                        });
    }

    void fill(Slot& slot, const DohAnswer& answer) {
        slot.ready = true;
        if (answer.kind != DohAnswer::Kind::Respond) {
            // No GOAWAY or RST_STREAM in HTTP/1.1: the answers before this one go out, then
            // the connection closes with this request unanswered.
            slot.close = true;
            stop_parsing_ = true;
            return;
        }
        slot.bytes = serialize(answer.response, !slot.close, slot.head);
    }

    // Responses leave strictly in request order (RFC 9112 §9.3.2).
    void write_ready() {
        while (!slots_.empty() && slots_.front().ready && !conn_.closed()) {
            Slot slot = std::move(slots_.front());
            slots_.pop_front();
            ++base_seq_;
            conn_.send(
                {reinterpret_cast<const std::uint8_t*>(slot.bytes.data()), slot.bytes.size()});
            if (slot.close) {
                conn_.close_after_flush();
                return;
            }
        }
    }

    // HEAD: the same header fields, content-length included, and no body (RFC 9110 §9.3.2).
    std::string serialize(const HttpResponse& r, bool keep_alive, bool head) {
        conn_.count_http_status(r.status);
        char num[32];
        std::string out;
        out.reserve(160 + r.body.size());
        out.append("HTTP/1.1 ").append(decimal(num, static_cast<std::uint64_t>(r.status)));
        out.append(" ").append(reason_phrase(r.status)).append("\r\n");
        out.append("date: ").append(date_.now()).append("\r\n"); // RFC 9110 §6.6.1
        if (!r.content_type.empty()) {
            out.append("content-type: ").append(r.content_type).append("\r\n");
        }
        out.append("content-length: ").append(decimal(num, r.body.size())).append("\r\n");
        if (r.max_age) {
            out.append("cache-control: max-age=").append(decimal(num, *r.max_age)).append("\r\n");
        }
        for (const auto& [k, v] : r.headers) {
            out.append(k).append(": ").append(v).append("\r\n");
        }
        if (!keep_alive) {
            out += "connection: close\r\n";
        }
        out += "\r\n";
        if (!head) {
            out += r.body;
        }
        return out;
    }

    TlsConnection& conn_;
    DohRequestHandler& handler_;
    std::string path_;
    DohLimits doh_limits_;
    Http1Parser parser_;
    std::size_t max_pending_;
    std::deque<Slot> slots_;
    std::uint64_t base_seq_ = 0; // sequence number of slots_.front()
    IncompleteSince incomplete_;
    std::size_t in_flight_ = 0;
    DateField date_;
    bool pumping_ = false;
    bool stop_parsing_ = false;
    bool draining_ = false;
};

Result<ListenerPtr> doh_listener(uv_loop_t* loop, const util::Url& url, DohRequestHandler& handler,
                                 std::shared_ptr<DohRequestHandler> owned,
                                 std::shared_ptr<const tls::ServerContext> ctx,
                                 const StreamLimits& limits, const DohLimits& doh_limits,
                                 HandshakeGate* gate) {
    if (url.scheme != "https") {
        return fail(Errc::ConfigInvalid, "DoH listener needs an https:// URL: " + url.to_string());
    }
    util::Url effective = url;
    if (effective.path.empty()) {
        effective.path = "/dns-query"; // RFC 8484 §3 example and every client's default
    }
    auto server = TlsStreamServer::create(
        loop, effective, std::move(ctx), &tls::kAlpnDoh, limits,
        [&handler, owned = std::move(owned), limits, doh_limits,
         path = effective.path](TlsConnection& conn) -> std::unique_ptr<StreamSession> {
            if (conn.peer().alpn == "h2") {
                auto s = std::make_unique<H2Session>(conn, handler, path, doh_limits);
                if (!s->init()) {
                    return nullptr;
                }
                return s;
            }
            return std::make_unique<H1Session>(conn, handler, path, limits, doh_limits);
        },
        gate);
    if (!server) {
        return server.error();
    }
    return ListenerPtr(std::move(server).value());
}

} // namespace

Result<ListenerPtr> make_doh_listener(uv_loop_t* loop, const util::Url& url,
                                      DohRequestHandler& handler,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, const DohLimits& doh_limits,
                                      HandshakeGate* gate) {
    return doh_listener(loop, url, handler, nullptr, std::move(ctx), limits, doh_limits, gate);
}

Result<ListenerPtr> make_doh_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& resolver,
                                      std::shared_ptr<const tls::ServerContext> ctx,
                                      const StreamLimits& limits, const DohLimits& doh_limits) {
    auto owned = std::make_shared<ResolvingDoh>(resolver);
    DohRequestHandler& handler = *owned;
    return doh_listener(loop, url, handler, std::move(owned), std::move(ctx), limits, doh_limits,
                        nullptr);
}

} // namespace resolver::io
