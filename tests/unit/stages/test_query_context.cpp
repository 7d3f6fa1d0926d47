// SPDX-License-Identifier: MIT
// reuse(): a recycled context holds nothing of its last query. Every member is set, the
// context recycled, and each member compared with a fresh context's; a member reuse() forgets
// fails here (and a new member fails the size assertions in query_context.cpp first).
#include <doctest/doctest.h>

#include "resolver/stages/decision_cache.hpp"
#include "resolver/stages/query_context.hpp"

namespace net = resolver::net;
namespace stages = resolver::stages;
namespace wire = resolver::wire;
using resolver::Errc;

namespace {

wire::Message message_with_records() {
    wire::Message m;
    m.id = 7;
    m.flags = 0x8180;
    m.question.push_back({*wire::Name::from_text("a-rather-long-name.example.com"), 1, 1});
    wire::ResourceRecord rr{*wire::Name::from_text("a-rather-long-name.example.com"), 1, 1, 300,
                            std::string("\xc0\x00\x02\x01", 4)};
    m.answer.push_back(rr);
    m.authority.push_back(rr);
    m.additional.push_back(rr);
    m.edns.emplace();
    m.edns->options.push_back({65011, "somewhere"});
    return m;
}

/// Every member of ctx away from its initializer.
void fill(stages::QueryContext& ctx) {
    const auto ip = net::IpAddr::parse("192.0.2.1");
    ctx.id = 99;
    ctx.transport.protocol = net::Transport::Https;
    ctx.transport.src = {ip, 1234};
    ctx.transport.dst = {ip, 443};
    ctx.transport.listener = std::string("https://127.0.0.1:443/dns-query");
    ctx.transport.sni = ctx.transport.http_host = ctx.transport.http_path =
        ctx.transport.http_location = ctx.transport.http_authorization =
            "a text longer than the small-string buffer";
    ctx.transport.src_internal_ip = ip;
    ctx.transport.datagram = false;
    ctx.received_at = std::chrono::steady_clock::time_point(std::chrono::seconds(5));
    ctx.received_wall = std::chrono::system_clock::time_point(std::chrono::seconds(5));
    ctx.query_size = 40;
    ctx.query = message_with_records();
    ctx.drop_reason = "dropped for a reason";
    ctx.policy = stages::empty_policy();
    ctx.qname_text = "a-rather-long-name.example.com";
    ctx.edns_location = "somewhere";
    ctx.request_categories = std::vector<std::int64_t>{2, 67};
    ctx.src_ip = ctx.dst_ip = ctx.src_internal_ip = ip;
    static const resolver::attribution::Location location{};
    ctx.location.location = &location;
    ctx.location.reason = std::string("src-network:192.0.2.0/24");
    ctx.location.doh_subdomain = ctx.location.dot_subdomain = "sub";
    ctx.facts.qname = ctx.qname_text;
    ctx.facts.qtype = 28;
    ctx.facts.src_ip = ip;
    ctx.facts.request_categories = std::vector<std::int64_t>{2};
    ctx.facts.query_id = 99;
    ctx.evaluation = std::make_shared<const resolver::policy::Evaluation>();
    ctx.decision = std::make_shared<stages::Decision>();
    ctx.synth.emplace();
    ctx.custom_resolver_address = "192.0.2.53";
    ctx.route = "custom";
    ctx.route_urls = {"udp://192.0.2.53:53"};
    ctx.route_addresses = {"192.0.2.53"};
    ctx.route_key = "custom|udp://192.0.2.53:53";
    ctx.route_prefer_fastest = true;
    ctx.route_error = resolver::Error{Errc::UpstreamFailure, "unreachable"};
    ctx.internal_dns.emplace();
    ctx.custom_resolve.emplace();
    ctx.client_subnet = wire::EdnsOption{8, "subnet"};
    ctx.client_subnet_text = "192.0.2.0/24";
    ctx.client_subnet_echo = wire::EdnsOption{8, "echo"};
    ctx.source = stages::AnswerSource::Upstream;
    ctx.cache_age_s = 3;
    ctx.resent = true;
    ctx.upstream_request.emplace();
    ctx.upstream_server = "udp://192.0.2.53:53";
    ctx.upstream_error = resolver::Error{Errc::UpstreamTimeout, "timed out"};
    ctx.upstream_answer = message_with_records();
    ctx.upstream_serial = 12;
    ctx.upstream_ttls = {300};
    ctx.initial_resolved_ips = {*ip};
    ctx.applied_max_ttl = 60;
    ctx.disposition = stages::Disposition::Answered;
    ctx.response = message_with_records();
    ctx.wire_out = {1, 2, 3};
    ctx.ede_codes = {15};
    ctx.truncated = true;
    ctx.rcode = 3;
    ctx.min_ttl = 60;
    ctx.finished_at = std::chrono::steady_clock::time_point(std::chrono::seconds(6));
}

} // namespace

TEST_CASE("reuse: every member of a recycled context is what a fresh one holds") {
    stages::QueryContext ctx;
    fill(ctx);
    std::weak_ptr<const stages::PolicySnapshot> policy = ctx.policy;
    std::weak_ptr<stages::Decision> decision = ctx.decision;
    stages::reuse(ctx);
    const stages::QueryContext fresh;
    // What the query held is released now, not when the slot is next used.
    CHECK(policy.expired());
    CHECK(decision.expired());

    const auto& t = ctx.transport;
    CHECK(ctx.id == fresh.id);
    CHECK(t.protocol == fresh.transport.protocol);
    CHECK(t.src.ip == fresh.transport.src.ip);
    CHECK(t.src.port == fresh.transport.src.port);
    CHECK(t.dst.ip == fresh.transport.dst.ip);
    CHECK(t.dst.port == fresh.transport.dst.port);
    CHECK(t.listener.view() == fresh.transport.listener.view());
    CHECK(t.sni.empty());
    CHECK(t.http_host.empty());
    CHECK(t.http_path.empty());
    CHECK(t.http_location.empty());
    CHECK(t.http_authorization.empty());
    CHECK(t.src_internal_ip == fresh.transport.src_internal_ip);
    CHECK(t.datagram == fresh.transport.datagram);
    CHECK(ctx.received_at == fresh.received_at);
    CHECK(ctx.received_wall == fresh.received_wall);
    CHECK(ctx.query_size == fresh.query_size);

    CHECK_FALSE(ctx.query.has_value());
    CHECK(ctx.drop_reason.empty());
    CHECK(ctx.policy == nullptr);
    CHECK(ctx.qname_text.empty());
    CHECK_FALSE(ctx.edns_location.has_value());
    CHECK_FALSE(ctx.request_categories.has_value());

    CHECK_FALSE(ctx.src_ip.has_value());
    CHECK_FALSE(ctx.dst_ip.has_value());
    CHECK_FALSE(ctx.src_internal_ip.has_value());
    CHECK(ctx.location.location == nullptr);
    CHECK(ctx.location.reason.view() == fresh.location.reason.view());
    CHECK(ctx.location.doh_subdomain.empty());
    CHECK(ctx.location.dot_subdomain.empty());
    CHECK(ctx.facts.qname.empty());
    CHECK(ctx.facts.qtype == fresh.facts.qtype);
    CHECK_FALSE(ctx.facts.src_ip.has_value());
    CHECK_FALSE(ctx.facts.request_categories.has_value());
    CHECK(ctx.facts.query_id == fresh.facts.query_id);
    CHECK(ctx.evaluation == nullptr);
    CHECK(ctx.decision == nullptr);
    CHECK_FALSE(ctx.synth.has_value());
    CHECK(ctx.custom_resolver_address.empty());

    CHECK(ctx.route == fresh.route);
    CHECK(ctx.route_urls.empty());
    CHECK(ctx.route_addresses.empty());
    CHECK(ctx.route_key.empty());
    CHECK(ctx.route_prefer_fastest == fresh.route_prefer_fastest);
    CHECK_FALSE(ctx.route_error.has_value());
    CHECK_FALSE(ctx.internal_dns.has_value());
    CHECK_FALSE(ctx.custom_resolve.has_value());
    CHECK_FALSE(ctx.client_subnet.has_value());
    CHECK(ctx.client_subnet_text.empty());
    CHECK_FALSE(ctx.client_subnet_echo.has_value());
    CHECK(ctx.source == fresh.source);
    CHECK(ctx.cache_age_s == fresh.cache_age_s);
    CHECK(ctx.resent == fresh.resent);

    CHECK_FALSE(ctx.upstream_request.has_value());
    CHECK(ctx.upstream_server.empty());
    CHECK_FALSE(ctx.upstream_error.has_value());
    CHECK_FALSE(ctx.upstream_answer.has_value());
    CHECK(ctx.upstream_serial == fresh.upstream_serial);
    CHECK(ctx.upstream_ttls.empty());
    CHECK(ctx.initial_resolved_ips.empty());
    CHECK(ctx.applied_max_ttl == fresh.applied_max_ttl);

    CHECK(ctx.disposition == fresh.disposition);
    CHECK_FALSE(ctx.response.has_value());
    CHECK(ctx.wire_out.empty());
    CHECK(ctx.ede_codes.empty());
    CHECK(ctx.truncated == fresh.truncated);
    CHECK(ctx.rcode == fresh.rcode);
    CHECK(ctx.min_ttl == fresh.min_ttl);
    CHECK(ctx.finished_at == fresh.finished_at);
}

TEST_CASE("reuse: the sections of the last response and query are kept as storage") {
    stages::QueryContext ctx;
    fill(ctx);
    const auto* answer_storage = ctx.response->answer.data();
    const auto* question_storage = ctx.query->question.data();
    stages::reuse(ctx);
    // Storage only (decode and the cache assign over them): the same buffers, no new ones.
    CHECK(ctx.recycled_message.answer.data() == answer_storage);
    CHECK(ctx.recycled_query.question.data() == question_storage);
}
