// SPDX-License-Identifier: MIT
#include "resolver/fault/listener_faults.hpp"

#include <optional>

#include "resolver/net/transport.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::fault {
namespace {

/// The listener fault of the first rule matching this query, if any.
std::optional<FaultAction> request_fault(const FaultPlan& plan,
                                         const std::vector<std::uint8_t>& query) {
    if (plan.empty()) {
        return std::nullopt;
    }
    const auto parsed = wire::parse(query);
    if (!parsed || parsed.message->question.size() != 1) {
        return std::nullopt;
    }
    const auto& q = parsed.message->question[0];
    const FaultRule* rule =
        plan.match(q.qname, q.qtype, net::transport_name(net::Transport::Https));
    if (rule == nullptr ||
        !(rule->action.goaway || rule->action.rst_stream || rule->action.http_status)) {
        return std::nullopt;
    }
    return rule->action;
}

io::DohAnswer injected(const FaultAction& f) {
    io::DohAnswer a;
    if (f.goaway) {
        a.kind = io::DohAnswer::Kind::GoAway;
        a.h2_error = *f.goaway;
        a.debug = "injected fault";
    } else if (f.rst_stream) {
        a.kind = io::DohAnswer::Kind::ResetStream;
        a.h2_error = *f.rst_stream;
    } else {
        a.response.status = static_cast<int>(*f.http_status);
        a.response.content_type = "text/plain";
        a.response.body = "injected fault: http=" + std::to_string(*f.http_status) + "\n";
    }
    return a;
}

} // namespace

io::HandshakeAction FaultyHandshakes::on_client_hello(std::string_view sni) {
    const FaultRule* rule = plan_->current().match_handshake(sni, transport_);
    if (rule == nullptr || !rule->action.handshake) {
        return io::HandshakeAction::Proceed;
    }
    switch (*rule->action.handshake) {
    case HandshakeFault::Alert:
        return io::HandshakeAction::Alert;
    case HandshakeFault::Close:
        return io::HandshakeAction::Close;
    case HandshakeFault::Stall:
        return io::HandshakeAction::Stall;
    }
    return io::HandshakeAction::Proceed;
}

void FaultyDohRequests::handle(io::DohQuery query, io::TransportInfo info, io::DohAnswerFn answer) {
    if (auto f = request_fault(plan_->current(), query.wire)) {
        answer(injected(*f));
        return;
    }
    inner_.handle(std::move(query), std::move(info), std::move(answer));
}

} // namespace resolver::fault
