// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "resolver/net/transport.hpp"

namespace resolver::io {

// The transport facts moved to net/ (stages read them without knowing io/); these names
// stay so that listener code reads as before.
using Endpoint = net::Endpoint;
using TransportInfo = net::TransportInfo;

/// What the pipeline hands back to the listener for one query.
struct Reply {
    std::vector<std::uint8_t> wire; // empty when `dropped`
    bool dropped = false;           // send nothing (still logged by the pipeline)
    bool upstream_timeout = false;  // DoH maps this to HTTP 504 (RFC 8484 leaves it open)
    std::uint32_t min_ttl = 0;      // freshness for DoH cache-control: the smallest answer TTL, or
                                    // min(SOA TTL, MINIMUM) for a negative answer (RFC 8484 §5.1)
};

class ReplyFn;
/// What converts to a ReplyFn: anything callable with a Reply, but a ReplyFn itself.
template <typename F>
concept ReplyCallable =
    !std::is_same_v<std::decay_t<F>, ReplyFn> && std::is_invocable_v<std::decay_t<F>&, Reply>;

/// Called exactly once per query, on the loop thread that received it; possibly before
/// QueryHandler::handle returns. Must be safe to call after the connection went away.
///
/// A move-only callable like std::function<void(Reply)>, with room inline for what a
/// listener captures (the UDP listener's peer address and its shared state fit), so that a
/// UDP query costs no allocation for its reply path; a larger callable lives on the heap.
class ReplyFn {
public:
    static constexpr std::size_t kInline = 64;

    ReplyFn() noexcept = default;
    template <ReplyCallable F>
    ReplyFn(F&& f) { // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
        using Fn = std::decay_t<F>;
        if constexpr (sizeof(Fn) <= kInline && alignof(Fn) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<Fn>) {
            new (storage_) Fn(std::forward<F>(f));
            ops_ = &kInlineOps<Fn>;
        } else {
            new (storage_) Fn*(new Fn(std::forward<F>(f)));
            ops_ = &kHeapOps<Fn>;
        }
    }
    ReplyFn(ReplyFn&& o) noexcept { take(o); }
    ReplyFn& operator=(ReplyFn&& o) noexcept {
        if (this != &o) {
            reset();
            take(o);
        }
        return *this;
    }
    ReplyFn(const ReplyFn&) = delete;
    ReplyFn& operator=(const ReplyFn&) = delete;
    ~ReplyFn() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }
    void operator()(Reply r) { ops_->call(storage_, std::move(r)); }

private:
    struct Ops {
        void (*call)(void* self, Reply&& r);
        void (*move)(void* from, void* to) noexcept; // leaves `from` destroyed
        void (*destroy)(void* self) noexcept;
    };
    template <typename Fn>
    static constexpr Ops kInlineOps{
        [](void* self, Reply&& r) { (*static_cast<Fn*>(self))(std::move(r)); },
        [](void* from, void* to) noexcept {
            new (to) Fn(std::move(*static_cast<Fn*>(from)));
            static_cast<Fn*>(from)->~Fn();
        },
        [](void* self) noexcept { static_cast<Fn*>(self)->~Fn(); },
    };
    template <typename Fn>
    static constexpr Ops kHeapOps{
        [](void* self, Reply&& r) { (**static_cast<Fn**>(self))(std::move(r)); },
        [](void* from, void* to) noexcept { new (to) Fn*(*static_cast<Fn**>(from)); },
        [](void* self) noexcept { delete *static_cast<Fn**>(self); },
    };

    void take(ReplyFn& o) noexcept {
        if (o.ops_ != nullptr) {
            o.ops_->move(o.storage_, storage_);
            ops_ = std::exchange(o.ops_, nullptr);
        }
    }
    void reset() noexcept {
        if (ops_ != nullptr) {
            std::exchange(ops_, nullptr)->destroy(storage_);
        }
    }

    alignas(std::max_align_t) unsigned char storage_[kInline];
    const Ops* ops_ = nullptr;
};

/// The pipeline as listeners see it.
class QueryHandler {
public:
    virtual ~QueryHandler() = default;
    /// Takes one DNS message (framing already removed; read during the call only, so a
    /// listener may pass its receive buffer) and answers through `reply`.
    virtual void handle(std::span<const std::uint8_t> wire, TransportInfo&& info,
                        ReplyFn reply) = 0;
    /// Takes back the bytes of a reply once they are sent, so that their memory can hold a
    /// later answer (a UDP listener answers tens of thousands a second). Default: freed.
    virtual void reclaim(std::vector<std::uint8_t> sent) { (void)sent; }
};

} // namespace resolver::io
