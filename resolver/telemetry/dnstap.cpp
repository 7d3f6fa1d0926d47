// SPDX-License-Identifier: MIT
#include "resolver/telemetry/dnstap.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fstrm.h>

#include "dnstap.pb-c.h"
#include "resolver/log/json_writer.hpp"
#include "resolver/util/url.hpp"

namespace resolver::telemetry {
namespace {
constexpr std::string_view kContentType = "protobuf:dnstap.Dnstap";
constexpr unsigned kQueueSize = 8192; // frames per loop; a power of two (fstrm requires it)

ProtobufCBinaryData bytes(std::span<const std::uint8_t> s) {
    return {s.size(), const_cast<std::uint8_t*>(s.data())}; // protobuf-c only reads it
}
ProtobufCBinaryData bytes(std::string_view s) {
    return bytes({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

/// The address bytes dnstap wants: 4 octets for INET, 16 for INET6.
std::span<const std::uint8_t> address_bytes(const net::IpAddr& a) {
    return a.v4 ? std::span<const std::uint8_t>(a.bytes).subspan(12)
                : std::span<const std::uint8_t>(a.bytes);
}

Dnstap__SocketProtocol socket_protocol(net::Transport t) {
    switch (t) {
    case net::Transport::Udp:
        return DNSTAP__SOCKET_PROTOCOL__UDP;
    case net::Transport::Tcp:
        return DNSTAP__SOCKET_PROTOCOL__TCP;
    case net::Transport::Tls:
        return DNSTAP__SOCKET_PROTOCOL__DOT;
    case net::Transport::Https:
        return DNSTAP__SOCKET_PROTOCOL__DOH;
    }
    return DNSTAP__SOCKET_PROTOCOL__UDP;
}

void set_time(std::chrono::system_clock::time_point t, protobuf_c_boolean& has_sec,
              std::uint64_t& sec, protobuf_c_boolean& has_nsec, std::uint32_t& nsec) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    has_sec = has_nsec = 1;
    sec = static_cast<std::uint64_t>(ns / 1000000000);
    nsec = static_cast<std::uint32_t>(ns % 1000000000);
}

std::optional<net::IpAddr> ip_of(const net::Endpoint& e) {
    return e.ip;
}

struct ServerAddress {
    net::IpAddr ip;
    std::uint16_t port = 0;
};

/// "ip:port", "[v6]:port" or a URL with an IP host: the server's address, when it has one.
std::optional<ServerAddress> server_address(std::string_view text) {
    if (text.find("://") == std::string_view::npos) {
        const std::string as_url = "udp://" + std::string(text);
        return server_address(as_url);
    }
    auto url = util::parse_url(text.substr(0, text.find(',')));
    if (!url || !util::is_ip_literal(url->host)) {
        return std::nullopt;
    }
    auto ip = net::IpAddr::parse(url->host);
    if (!ip) {
        return std::nullopt;
    }
    const auto t = net::transport_from_name(url->scheme);
    return ServerAddress{*ip, url->port_or(t ? net::row(*t).default_port : 53)};
}

/// The transport of an upstream URL (the first member of a group); none for fixture:.
std::optional<net::Transport> upstream_protocol(std::string_view url) {
    const auto colon = url.find(':');
    return net::transport_from_name(url.substr(0, colon));
}

std::string forwarder_extra(const stages::QueryContext& ctx, const upstream::Upstream& up,
                            const std::string* error) {
    std::string out;
    log::JsonWriter w(out);
    w.begin_object().field("LabQueryID", static_cast<std::uint64_t>(ctx.id));
    w.field("Upstream", up.url()).field("Route", ctx.route);
    if (ctx.upstream_request) {
        w.field("Purpose", ctx.upstream_request->purpose == stages::UpstreamRequest::Purpose::Answer
                               ? "answer"
                               : "target");
    }
    if (error != nullptr) {
        w.field("UpstreamError", *error);
    }
    w.end_object();
    return out;
}

void client_endpoints(const stages::QueryContext& ctx, DnstapEvent& e) {
    e.protocol = ctx.transport.protocol;
    e.query_address = ip_of(ctx.transport.src);
    e.query_port = ctx.transport.src.port;
    e.response_address = ip_of(ctx.transport.dst);
    e.response_port = ctx.transport.dst.port;
    e.query_time = ctx.received_wall;
}
} // namespace

void Frame::Free::operator()(std::uint8_t* p) const noexcept {
    std::free(p);
}

std::optional<Frame> encode(const DnstapEvent& e, std::string_view identity,
                            std::string_view version) {
    Dnstap__Message m;
    dnstap__message__init(&m);
    m.type = static_cast<Dnstap__Message__Type>(e.type);
    if (e.protocol) {
        m.has_socket_protocol = 1;
        m.socket_protocol = socket_protocol(*e.protocol);
    }
    const net::IpAddr* family_from = e.query_address      ? &*e.query_address
                                     : e.response_address ? &*e.response_address
                                                          : nullptr;
    if (family_from != nullptr) {
        m.has_socket_family = 1;
        m.socket_family =
            family_from->v4 ? DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
    }
    if (e.query_address) {
        m.has_query_address = 1;
        m.query_address = bytes(address_bytes(*e.query_address));
        m.has_query_port = 1;
        m.query_port = e.query_port;
    }
    if (e.response_address) {
        m.has_response_address = 1;
        m.response_address = bytes(address_bytes(*e.response_address));
        m.has_response_port = 1;
        m.response_port = e.response_port;
    }
    if (e.query_time) {
        set_time(*e.query_time, m.has_query_time_sec, m.query_time_sec, m.has_query_time_nsec,
                 m.query_time_nsec);
    }
    if (e.response_time) {
        set_time(*e.response_time, m.has_response_time_sec, m.response_time_sec,
                 m.has_response_time_nsec, m.response_time_nsec);
    }
    if (!e.query_message.empty()) {
        m.has_query_message = 1;
        m.query_message = bytes(e.query_message);
    }
    if (!e.response_message.empty()) {
        m.has_response_message = 1;
        m.response_message = bytes(e.response_message);
    }
    Dnstap__Dnstap d;
    dnstap__dnstap__init(&d);
    d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
    d.message = &m;
    d.has_identity = !identity.empty();
    d.identity = bytes(identity);
    d.has_version = !version.empty();
    d.version = bytes(version);
    d.has_extra = !e.extra.empty();
    d.extra = bytes(std::string_view(e.extra));
    const std::size_t n = dnstap__dnstap__get_packed_size(&d);
    Frame f;
    f.data.reset(static_cast<std::uint8_t*>(std::malloc(n)));
    if (!f.data) {
        return std::nullopt;
    }
    f.size = dnstap__dnstap__pack(&d, f.data.get());
    return f;
}

Result<std::unique_ptr<DnstapWriter>> DnstapWriter::open(const std::string& spec,
                                                         std::size_t queues) {
    const auto colon = spec.find(':');
    const std::string kind = spec.substr(0, colon);
    const std::string path = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if ((kind != "unix" && kind != "file") || path.empty()) {
        return fail(Errc::ConfigInvalid, "dnstap: want unix:PATH or file:PATH, got '" + spec + "'");
    }
    if (kind == "file") {
        // fstrm opens the file on its I/O thread and reports nothing; fail here instead.
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            return fail(Errc::ConfigInvalid,
                        "dnstap " + spec + ": cannot write: " + std::strerror(errno));
        }
        ::close(fd);
    }
    fstrm_writer_options* wopt = fstrm_writer_options_init();
    fstrm_writer_options_add_content_type(wopt, kContentType.data(), kContentType.size());
    fstrm_writer* writer = nullptr;
    if (kind == "file") {
        fstrm_file_options* fopt = fstrm_file_options_init();
        fstrm_file_options_set_file_path(fopt, path.c_str());
        writer = fstrm_file_writer_init(fopt, wopt);
        fstrm_file_options_destroy(&fopt);
    } else {
        fstrm_unix_writer_options* uopt = fstrm_unix_writer_options_init();
        fstrm_unix_writer_options_set_socket_path(uopt, path.c_str());
        writer = fstrm_unix_writer_init(uopt, wopt);
        fstrm_unix_writer_options_destroy(&uopt);
    }
    fstrm_writer_options_destroy(&wopt);
    if (writer == nullptr) {
        return fail(Errc::ConfigInvalid, "dnstap " + spec + ": cannot create the writer");
    }
    fstrm_iothr_options* iopt = fstrm_iothr_options_init();
    fstrm_iothr_options_set_num_input_queues(iopt, queues);
    fstrm_iothr_options_set_queue_model(iopt, FSTRM_IOTHR_QUEUE_MODEL_SPSC);
    fstrm_iothr_options_set_input_queue_size(iopt, kQueueSize);
    fstrm_iothr_options_set_reopen_interval(iopt, 1); // seconds: a restarted reader is seen soon
    std::unique_ptr<DnstapWriter> w(new DnstapWriter());
    w->iothr_ = fstrm_iothr_init(iopt, &writer); // takes the writer
    fstrm_iothr_options_destroy(&iopt);
    if (w->iothr_ == nullptr) {
        if (writer != nullptr) {
            fstrm_writer_destroy(&writer);
        }
        return fail(Errc::ConfigInvalid, "dnstap " + spec + ": cannot start the I/O thread");
    }
    w->spec_ = spec;
    return w;
}

DnstapWriter::~DnstapWriter() {
    if (iothr_ != nullptr) {
        fstrm_iothr_destroy(&iothr_);
    }
}

fstrm_iothr_queue* DnstapWriter::queue(std::size_t idx) const {
    return fstrm_iothr_get_input_queue_idx(iothr_, idx);
}

bool DnstapWriter::submit(fstrm_iothr_queue* q, Frame f) {
    const fstrm_res r =
        fstrm_iothr_submit(iothr_, q, f.data.get(), f.size, fstrm_free_wrapper, nullptr);
    if (r != fstrm_res_success) {
        return false; // still ours: `f` frees it
    }
    (void)f.data.release(); // adopted by the I/O thread, which frees it with fstrm_free_wrapper
    return true;
}

std::string client_response_extra(const stages::QueryContext& ctx) {
    std::string out;
    log::JsonWriter w(out);
    w.begin_object().field("LabQueryID", static_cast<std::uint64_t>(ctx.id));
    if (ctx.evaluation) {
        const auto& ev = *ctx.evaluation;
        w.field("ResolverDecision", policy::decision_name(ev.decision));
        w.field("PolicyID", ev.rule ? ev.rule->id : std::string());
        w.field("PolicyName", ev.rule ? ev.rule->name : std::string());
        w.field("ResolverPolicyID", ev.route.rule ? ev.route.rule->id : std::string());
    }
    const auto& loc = ctx.location;
    w.field("Location", loc.location ? loc.location->name : std::string());
    w.field("LocationID", loc.location ? loc.location->id : std::string());
    if (ctx.policy) {
        w.field("LabPolicyGeneration", static_cast<std::uint64_t>(ctx.policy->generation));
    }
    if (ctx.disposition != stages::Disposition::Answered) {
        w.field("Dropped", true);
    }
    w.end_object();
    return out;
}

DnstapObserver::DnstapObserver(DnstapWriter& writer, fstrm_iothr_queue* queue,
                               const core::Clock& clock, std::string identity, std::string version)
    : writer_(writer), queue_(queue), clock_(clock), identity_(std::move(identity)),
      version_(std::move(version)) {}

void DnstapObserver::emit(const DnstapEvent& e) {
    auto f = encode(e, identity_, version_);
    if (!f) {
        ++encode_failures_;
        return;
    }
    if (writer_.submit(queue_, std::move(*f))) {
        ++frames_;
    } else {
        ++queue_full_;
    }
}

void DnstapObserver::on_client_query(const stages::QueryContext& ctx,
                                     std::span<const std::uint8_t> wire) {
    DnstapEvent e;
    e.type = DnstapType::ClientQuery;
    client_endpoints(ctx, e);
    e.query_message = wire;
    e.extra = "{\"LabQueryID\":" + std::to_string(ctx.id) + "}";
    emit(e);
}

void DnstapObserver::on_client_response(const stages::QueryContext& ctx,
                                        std::span<const std::uint8_t> wire) {
    DnstapEvent e;
    e.type = DnstapType::ClientResponse;
    client_endpoints(ctx, e);
    e.response_time =
        ctx.received_wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                ctx.finished_at - ctx.received_at);
    e.response_message = wire;
    e.extra = client_response_extra(ctx);
    emit(e);
}

void DnstapObserver::on_forwarder_query(const stages::QueryContext& ctx,
                                        const upstream::Upstream& upstream) {
    DnstapEvent e;
    e.type = DnstapType::ForwarderQuery;
    e.protocol = upstream_protocol(upstream.url());
    if (auto a = server_address(upstream.url())) {
        e.response_address = a->ip;
        e.response_port = a->port;
    }
    e.query_time = clock_.wall();
    if (ctx.upstream_request) {
        e.query_message = ctx.upstream_request->wire;
    }
    e.extra = forwarder_extra(ctx, upstream, nullptr);
    emit(e);
}

void DnstapObserver::on_forwarder_response(const stages::QueryContext& ctx,
                                           const upstream::Upstream& upstream,
                                           const Result<upstream::Exchange>& result,
                                           std::chrono::steady_clock::time_point sent_at) {
    DnstapEvent e;
    e.type = DnstapType::ForwarderResponse;
    e.protocol = upstream_protocol(upstream.url());
    const auto now_wall = clock_.wall();
    e.response_time = now_wall;
    e.query_time = now_wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                  clock_.now() - sent_at);
    // Who answered (a group fails over), else the upstream's first server.
    auto a = result ? server_address(result->server) : std::nullopt;
    if (!a) {
        a = server_address(upstream.url());
    }
    if (a) {
        e.response_address = a->ip;
        e.response_port = a->port;
    }
    if (ctx.upstream_request) {
        e.query_message = ctx.upstream_request->wire;
    }
    if (result) {
        e.response_message = result->wire;
    }
    e.extra = forwarder_extra(ctx, upstream, result ? nullptr : &result.error().detail);
    emit(e);
}

void DnstapObserver::add_to(DnstapStats& s) const {
    s.enabled = true;
    s.frames += frames_;
    s.queue_full += queue_full_;
    s.encode_failures += encode_failures_;
}

} // namespace resolver::telemetry
