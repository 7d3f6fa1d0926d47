// SPDX-License-Identifier: MIT
#include "resolver/stages/resent_answers.hpp"

#include <algorithm>
#include <chrono>
#include <type_traits>

#include "resolver/util/hash.hpp"

namespace resolver::stages {
namespace {

static_assert(std::has_unique_object_representations_v<ResendKey::Fixed>,
              "padding in ResendKey::Fixed would make its byte comparison wrong");
static_assert(sizeof(ResendKey::Fixed) == 72, "the hash reads the fixed part as 9 words");

std::string_view text_of(std::span<const std::uint8_t> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

} // namespace

bool operator==(const ResendKey::Fixed& a, const ResendKey::Fixed& b) noexcept {
    return util::same_bytes(a, b);
}

bool ResentAnswers::KeyEqual::operator()(const StoredKey& a, const StoredKey& b) const noexcept {
    return a.hash == b.hash && a.fixed == b.fixed && a.query == b.query;
}

bool ResentAnswers::KeyEqual::operator()(const ResendKey& a, const StoredKey& b) const noexcept {
    return a.hash == b.hash && a.fixed == b.fixed &&
           std::equal(a.query.begin(), a.query.end(), b.query.begin(), b.query.end());
}

std::optional<ResendKey> ResentAnswers::key_of(const QueryContext& ctx,
                                               std::span<const std::uint8_t> wire) noexcept {
    const net::TransportInfo& t = ctx.transport;
    // Do53 only: a DoT or DoH query's location and identity also depend on the SNI, the HTTP
    // host, path and headers, which the key does not hold.
    if ((t.protocol != net::Transport::Udp && t.protocol != net::Transport::Tcp) ||
        ctx.policy == nullptr || wire.size() < 12) {
        return std::nullopt;
    }
    ResendKey k;
    ResendKey::Fixed& f = k.fixed;
    f.generation = ctx.policy->generation;
    f.set = ctx.policy->set.get();
    f.protocol = static_cast<std::uint8_t>(t.protocol);
    put_ip(t.src.ip, f.src, f.src_family);
    put_ip(t.dst.ip, f.dst, f.dst_family);
    put_ip(t.src_internal_ip, f.src_internal, f.src_internal_family);
    k.query = wire.subspan(2); // everything but the ID
    const auto* p = reinterpret_cast<const unsigned char*>(&f);
    std::uint64_t h = util::kHashSeed;
    for (std::size_t i = 0; i < 64; i += 16) {
        h = util::hash_mix(util::hash_load<std::uint64_t>(p + i) ^ h,
                           util::hash_load<std::uint64_t>(p + i + 8));
    }
    h = util::hash_mix(util::hash_load<std::uint64_t>(p + 64) ^ h, k.query.size());
    k.hash = util::hash_text(h, text_of(k.query));
    return k;
}

bool ResentAnswers::answer(QueryContext& ctx, std::span<const std::uint8_t> wire,
                           cache::Cache& cache) {
    if (table_.empty()) {
        return false;
    }
    const auto key = key_of(ctx, wire);
    if (!key) {
        return false;
    }
    const auto it = table_.find(*key);
    if (it == table_.end()) {
        return false;
    }
    const Sent& s = it->second;
    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(ctx.received_wall.time_since_epoch())
            .count();
    // The decision in time (a schedule boundary, a rule expiring), then the cache entry:
    // the same one, still fresh, as old in whole seconds as when these bytes were built.
    if (now_s >= s.decision->valid_until ||
        !cache.still_serves(s.cache_key, ctx.received_at, s.serial, s.age_s)) {
        return false;
    }
    ctx.src_ip = ctx.transport.src.ip;
    ctx.dst_ip = ctx.transport.dst.ip;
    ctx.src_internal_ip = ctx.transport.src_internal_ip;
    ctx.location = s.location;
    ctx.evaluation = s.evaluation;
    ctx.source = AnswerSource::Cache;
    ctx.cache_age_s = s.age_s;
    ctx.upstream_serial = s.serial;
    ctx.resent = true;
    ctx.wire_out.assign(s.answer.begin(), s.answer.end());
    ctx.wire_out[0] = wire[0]; // the query's own ID
    ctx.wire_out[1] = wire[1];
    ctx.truncated = s.truncated;
    ctx.rcode = s.rcode;
    ctx.min_ttl = s.min_ttl;
    ++stats_.resent;
    return true;
}

bool ResentAnswers::keeps(const QueryContext& ctx) const noexcept {
    const net::Transport t = ctx.transport.protocol;
    return max_entries_ != 0 && (t == net::Transport::Udp || t == net::Transport::Tcp) &&
           ctx.source == AnswerSource::Cache && ctx.disposition == Disposition::Answered &&
           !ctx.resent && !ctx.synth && ctx.decision && ctx.evaluation &&
           ctx.upstream_serial != 0 && ctx.wire_out.size() >= 12 &&
           ctx.wire_out.size() <= kMaxBytes;
}

void ResentAnswers::remember(const QueryContext& ctx, std::span<const std::uint8_t> wire,
                             cache::CacheKey cache_key) {
    if (!keeps(ctx) || wire.size() > kMaxBytes) {
        return; // a large query (TCP allows 65,535 octets) would be held as its key
    }
    const auto key = key_of(ctx, wire);
    if (!key) {
        return;
    }
    auto it = table_.find(*key);
    if (it == table_.end()) {
        if (table_.size() >= max_entries_) {
            table_.clear(); // afresh: what is asked again is kept again at once
        }
        it = table_.emplace(StoredKey(*key), Sent{}).first;
    }
    Sent& s = it->second;
    s.decision = ctx.decision;
    s.evaluation = ctx.evaluation;
    s.location = ctx.location;
    s.cache_key = std::move(cache_key);
    s.answer.assign(ctx.wire_out.begin(), ctx.wire_out.end());
    s.serial = ctx.upstream_serial;
    s.age_s = ctx.cache_age_s;
    s.min_ttl = ctx.min_ttl;
    s.rcode = ctx.rcode;
    s.truncated = ctx.truncated;
    ++stats_.kept;
}

} // namespace resolver::stages
