// SPDX-License-Identifier: MIT
#include "resolver/stages/query_context.hpp"

#include <utility>

namespace resolver::stages {
namespace {

// reuse() names every member: a member added to these structs must be reset there too (and
// set in tests/unit/stages/test_query_context.cpp). These sizes make the build say so.
// (x86-64 libstdc++ sizes, the only ABI the lab builds for.)
static_assert(sizeof(net::TransportInfo) == 248, "a new TransportInfo member: reset it in clear()");
static_assert(sizeof(attribution::LocationMatch) == 128, "a new member: reset it in reuse()");
static_assert(sizeof(QueryContext) == 2632, "a new QueryContext member: reset it in reuse()");

void clear(net::TransportInfo& t) {
    t.protocol = net::Transport::Udp;
    t.src = {};
    t.dst = {};
    t.listener = {};
    t.sni.clear();
    t.http_host.clear();
    t.http_path.clear();
    t.http_location.clear();
    t.http_authorization.clear();
    t.src_internal_ip.reset();
    t.datagram = true;
}

/// Keeps a finished message's sections (their vectors, records and names) for the next
/// query: swapped into the recycled message, whose own (usually empty) sections go with the
/// finished one. Only storage crosses: the recycled message is always assigned over before use.
void keep(std::optional<wire::Message>& finished, wire::Message& recycled) {
    if (!finished) {
        return;
    }
    recycled.question.swap(finished->question);
    recycled.answer.swap(finished->answer);
    recycled.authority.swap(finished->authority);
    recycled.additional.swap(finished->additional);
    finished.reset();
}

} // namespace

void reuse(QueryContext& ctx) {
    // The response holds the answer sections (moved there from the upstream answer), so it
    // is the message with the most storage worth keeping.
    keep(ctx.response ? ctx.response : ctx.upstream_answer, ctx.recycled_message);
    ctx.upstream_answer.reset();
    keep(ctx.query, ctx.recycled_query);

    // Everything else back to its initializer, in declaration order; strings and vectors are
    // emptied, keeping their capacity.
    ctx.id = 0;
    clear(ctx.transport);
    ctx.received_at = {};
    ctx.received_wall = {};
    ctx.query_size = 0;

    ctx.drop_reason.clear();
    ctx.policy.reset();
    ctx.qname_text.clear();
    ctx.edns_location.reset();
    ctx.request_categories.reset();

    ctx.src_ip.reset();
    ctx.dst_ip.reset();
    ctx.src_internal_ip.reset();
    ctx.location.location = nullptr;
    ctx.location.reason = attribution::MatchReason();
    ctx.location.doh_subdomain.clear();
    ctx.location.dot_subdomain.clear();
    ctx.facts = policy::QueryFacts();
    ctx.evaluation.reset();
    ctx.decision.reset();
    ctx.synth.reset();
    ctx.custom_resolver_address.clear();

    if (ctx.route != kDefaultRoute) { // usually unchanged: no copy
        ctx.route = kDefaultRoute;
    }
    ctx.route_urls.clear();
    ctx.route_addresses.clear();
    ctx.route_key.clear();
    ctx.route_prefer_fastest = false;
    ctx.route_error.reset();
    ctx.internal_dns.reset();
    ctx.custom_resolve.reset();
    ctx.client_subnet.reset();
    ctx.client_subnet_text.clear();
    ctx.client_subnet_echo.reset();
    ctx.source = AnswerSource::None;
    ctx.cache_age_s = 0;
    ctx.resent = false;

    ctx.upstream_request.reset();
    ctx.upstream_server.clear();
    ctx.upstream_error.reset();
    ctx.upstream_serial = 0;
    ctx.upstream_ttls.clear();
    ctx.initial_resolved_ips.clear();
    ctx.applied_max_ttl = 0;

    ctx.disposition = Disposition::Pending;
    ctx.wire_out.clear();
    ctx.ede_codes.clear();
    ctx.truncated = false;
    ctx.rcode = 0;
    ctx.min_ttl = 0;
    ctx.finished_at = {};
}

} // namespace resolver::stages
