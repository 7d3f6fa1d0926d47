// SPDX-License-Identifier: MIT
#include "resolver/stages/stage.hpp"

namespace resolver::stages {
namespace {

constexpr std::uint16_t kOpcodeMask = 0x7800;

/// A response to a message whose question cannot (or must not) be echoed: the header
/// only, with the client's ID, opcode and RD (RFC 1035 §4.1.1).
wire::Message header_only(std::uint16_t id, std::uint16_t flags, std::uint16_t rcode) {
    wire::Message r;
    r.id = id;
    r.flags = static_cast<std::uint16_t>(wire::kFlagQr | (flags & (kOpcodeMask | wire::kFlagRd)));
    r.set_rcode(rcode);
    return r;
}

/// Classes we answer: IN, and CH for the upstream's server-identity names (id.server).
bool served_class(std::uint16_t qclass) {
    return qclass == wire::rrclass::IN || qclass == wire::rrclass::CH;
}

} // namespace

std::optional<std::string_view> screen(std::span<const std::uint8_t> wire) noexcept {
    if (wire.size() < 12) {
        return "message shorter than a header";
    }
    if ((wire[2] & 0x80) != 0) {
        return "QR set: a response, not a query";
    }
    return std::nullopt;
}

Next decode(QueryContext& ctx, std::span<const std::uint8_t> wire, const StageConfig& cfg) {
    if (auto why = screen(wire)) {
        ctx.drop_reason = *why;
        return Next::Drop;
    }
    // Trailing bytes after a whole query are ignored, as Unbound, BIND and dnsdist do.
    auto parsed = wire::parse(wire, {.allow_trailing = true}, std::move(ctx.recycled_query));
    if (!parsed) {
        const auto& f = parsed.failure;
        ctx.drop_reason = f.reason;
        // An opcode we do not implement is NOTIMP even when the rest is unreadable.
        const bool query_opcode = (f.flags & kOpcodeMask) == 0;
        ctx.response =
            header_only(f.id, f.flags, query_opcode ? wire::rcode::FormErr : wire::rcode::NotImp);
        return Next::Answer;
    }
    ctx.query = std::move(parsed.message);
    const wire::Message& q = *ctx.query;
    if (q.opcode() != 0) {
        // RFC 1035 §4.1.1 NOTIMP; the question is echoed when there is exactly one, without
        // RA (what Unbound sends: the service offered is for queries only).
        ctx.drop_reason = "opcode " + std::to_string(q.opcode()) + " is not implemented";
        ctx.response = header_only(q.id, q.flags, wire::rcode::NotImp);
        if (q.question.size() == 1) {
            ctx.response->question = q.question;
        }
        return Next::Answer;
    }
    if (q.question.size() != 1) {
        ctx.drop_reason = "QDCOUNT is " + std::to_string(q.question.size()) + ", not 1";
        ctx.response = header_only(q.id, q.flags, wire::rcode::FormErr);
        return Next::Answer;
    }
    if (q.edns && q.edns->version > 0) {
        answer_error(ctx, wire::rcode::BadVers, cfg); // RFC 6891 §6.1.3, answered as version 0
        return Next::Answer;
    }
    const auto& question = q.question[0];
    if (question.qtype == 252 /* AXFR */ || question.qtype == 251 /* IXFR */) {
        ctx.drop_reason = "zone transfers are not served";
        answer_error(ctx, wire::rcode::NotImp, cfg);
        return Next::Answer;
    }
    if (!served_class(question.qclass)) {
        // HS, NONE, ANY and unassigned classes: no upstream serves them; refuse at once
        // instead of waiting for a timeout (Unbound does the same).
        ctx.drop_reason = "class " + wire::class_name(question.qclass) + " is not served";
        answer_error(ctx, wire::rcode::Refused, cfg);
        return Next::Answer;
    }
    question.qname.to_gateway_text(ctx.qname_text); // into the recycled storage
    if (q.edns) {
        if (const auto* loc = q.edns->find(wire::edns_opt::Location)) {
            ctx.edns_location = loc->data;
        }
        if (const auto* cats = q.edns->find(wire::edns_opt::RequestCategories)) {
            ctx.request_categories = policy::parse_request_categories(cats->data);
        }
    }
    return Next::Continue;
}

} // namespace resolver::stages
