// SPDX-License-Identifier: MIT
#include "resolver/stages/query_context.hpp"

#include <memory>
#include <new>

namespace resolver::stages {
namespace {

/// What crosses from one query to the next: storage only.
struct ContextStorage {
    std::string qname_text;
    std::string upstream_server;
    std::vector<std::uint32_t> upstream_ttls;
    std::vector<net::IpAddr> initial_resolved_ips;
    wire::Message message;
    wire::Message query;
};

ContextStorage take_storage(QueryContext& ctx) {
    ContextStorage s{std::move(ctx.qname_text),       std::move(ctx.upstream_server),
                     std::move(ctx.upstream_ttls),    std::move(ctx.initial_resolved_ips),
                     std::move(ctx.recycled_message), std::move(ctx.recycled_query)};
    s.qname_text.clear();
    s.upstream_server.clear();
    s.upstream_ttls.clear();
    s.initial_resolved_ips.clear();
    // The response holds the answer sections (moved there from the upstream answer), so it
    // is the message with the most storage worth keeping.
    if (ctx.response) {
        s.message = std::move(*ctx.response);
    } else if (ctx.upstream_answer) {
        s.message = std::move(*ctx.upstream_answer);
    }
    if (ctx.query) {
        s.query = std::move(*ctx.query);
    }
    return s;
}

void give_storage(QueryContext& ctx, ContextStorage&& storage) {
    ctx.qname_text = std::move(storage.qname_text);
    ctx.upstream_server = std::move(storage.upstream_server);
    ctx.upstream_ttls = std::move(storage.upstream_ttls);
    ctx.initial_resolved_ips = std::move(storage.initial_resolved_ips);
    ctx.recycled_message = std::move(storage.message);
    ctx.recycled_query = std::move(storage.query);
}

} // namespace

void reuse(QueryContext& ctx) {
    ContextStorage kept = take_storage(ctx);
    std::destroy_at(&ctx);
    // Default-initialised: every member has its own initializer, so the ~2 KB context is not
    // zero-filled first as value-initialisation (construct_at) would do on every query.
    ::new (static_cast<void*>(&ctx)) QueryContext;
    give_storage(ctx, std::move(kept));
}

} // namespace resolver::stages
