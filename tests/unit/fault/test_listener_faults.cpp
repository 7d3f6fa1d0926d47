// SPDX-License-Identifier: MIT
// Listener faults as decorators on the io/ hooks: FaultyDohRequests wraps a DohRequestHandler
// and FaultyHandshakes answers the HandshakeGate, both reading a switchable LivePlan.
#include <doctest/doctest.h>

#include <optional>

#include "resolver/fault/listener_faults.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;

namespace {

struct CountingInner final : io::DohRequestHandler {
    int calls = 0;
    void handle(io::DohQuery /*query*/, io::TransportInfo /*info*/,
                io::DohAnswerFn answer) override {
        ++calls;
        io::DohAnswer a;
        a.response.status = 200;
        answer(std::move(a));
    }
};

io::DohQuery query_for(std::string_view name, std::uint16_t type = wire::rrtype::A) {
    wire::Message m;
    m.question.push_back({*wire::Name::from_text(name), type, wire::rrclass::IN});
    io::DohQuery q;
    q.wire = wire::serialize(m);
    return q;
}

std::shared_ptr<fault::LivePlan> plan(std::string_view spec, fault::Site site) {
    auto p = fault::LivePlan::create(spec, "", site, "listener test");
    REQUIRE(p.has_value());
    return *p;
}

io::DohAnswer ask(io::DohRequestHandler& h, std::string_view name) {
    std::optional<io::DohAnswer> got;
    h.handle(query_for(name), {}, [&](io::DohAnswer a) { got = std::move(a); });
    REQUIRE(got.has_value());
    return *got;
}

} // namespace

TEST_SUITE_BEGIN("fault.listener");

TEST_CASE("FaultyDohRequests replaces the answer of matching queries and passes the rest") {
    CountingInner inner;
    auto p = plan("h503.example:http=503;away.example:goaway=ENHANCE_YOUR_CALM;"
                  "rst.example:rst_stream=REFUSED_STREAM",
                  fault::Site::DohListener);
    fault::FaultyDohRequests faulty(p, inner);

    const auto h503 = ask(faulty, "h503.example");
    CHECK(h503.kind == io::DohAnswer::Kind::Respond);
    CHECK(h503.response.status == 503);
    CHECK(h503.response.body == "injected fault: http=503\n");
    const auto away = ask(faulty, "away.example");
    CHECK(away.kind == io::DohAnswer::Kind::GoAway);
    CHECK(away.h2_error == 0xb); // ENHANCE_YOUR_CALM (RFC 9113 §7)
    const auto rst = ask(faulty, "rst.example");
    CHECK(rst.kind == io::DohAnswer::Kind::ResetStream);
    CHECK(rst.h2_error == 0x7); // REFUSED_STREAM
    CHECK(inner.calls == 0);
    CHECK(ask(faulty, "www.example").response.status == 200);
    CHECK(inner.calls == 1);
}

TEST_CASE("FaultyDohRequests reads the plan per request (a SIGHUP switch applies at once)") {
    CountingInner inner;
    auto p = plan("x.example:http=500", fault::Site::DohListener);
    fault::FaultyDohRequests faulty(p, inner);
    CHECK(ask(faulty, "x.example").response.status == 500);
    REQUIRE(p->replace(fault::FaultPlan{}).has_value());
    CHECK(ask(faulty, "x.example").response.status == 200);
}

TEST_CASE("FaultyHandshakes maps tls= rules by SNI and transport") {
    auto p = plan("alert.lab:tls=alert;close.lab:tls=close;stall.lab@https:tls=stall",
                  fault::Site::DohListener);
    fault::FaultyHandshakes doh(p, "https");
    fault::FaultyHandshakes dot(p, "tls");
    CHECK(doh.on_client_hello("alert.lab") == io::HandshakeAction::Alert);
    CHECK(doh.on_client_hello("close.lab") == io::HandshakeAction::Close);
    CHECK(doh.on_client_hello("stall.lab") == io::HandshakeAction::Stall);
    CHECK(dot.on_client_hello("stall.lab") == io::HandshakeAction::Proceed); // https only
    CHECK(doh.on_client_hello("fine.lab") == io::HandshakeAction::Proceed);
    CHECK(doh.on_client_hello("") == io::HandshakeAction::Proceed);
}

TEST_SUITE_END();
