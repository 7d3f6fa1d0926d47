// SPDX-License-Identifier: MIT
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "resolver/fault/live_plan.hpp"
#include "resolver/io/doh_listener.hpp"
#include "resolver/io/tls_stream.hpp"

namespace resolver::fault {

/// Faults of a lab DoT/DoH listener (a helper resolver playing a misbehaving upstream), as
/// decorators on the listener's generic hooks: io/ and tls/ know nothing of fault plans.
/// Both read the plan per connection or request, so a SIGHUP switch (LivePlan::reload)
/// applies to what arrives after it. Loop thread only.

/// The `tls=` rules of a plan as an io::HandshakeGate: the first handshake rule whose pattern
/// matches the ClientHello's SNI on `transport` ("tls" or "https", the listener URL scheme)
/// alerts, closes or stalls the handshake; every other connection proceeds.
class FaultyHandshakes final : public io::HandshakeGate {
public:
    FaultyHandshakes(std::shared_ptr<const LivePlan> plan, std::string transport)
        : plan_(std::move(plan)), transport_(std::move(transport)) {}
    io::HandshakeAction on_client_hello(std::string_view sni) override;

private:
    std::shared_ptr<const LivePlan> plan_;
    std::string transport_;
};

/// Decorates a DoH listener's request handling (as FaultyUpstream decorates an Upstream): the
/// first rule matching the query's name and type on transport "https" with goaway (HTTP/2
/// GOAWAY with that code, the request left unprocessed; HTTP/1.1 closes the connection),
/// rst_stream (RST_STREAM) or http (that status, a text body) replaces the answer; every
/// other request goes to `inner`, which must outlive this decorator.
class FaultyDohRequests final : public io::DohRequestHandler {
public:
    FaultyDohRequests(std::shared_ptr<const LivePlan> plan, io::DohRequestHandler& inner)
        : plan_(std::move(plan)), inner_(inner) {}
    void handle(io::DohQuery query, io::TransportInfo info, io::DohAnswerFn answer) override;

private:
    std::shared_ptr<const LivePlan> plan_;
    io::DohRequestHandler& inner_;
};

} // namespace resolver::fault
