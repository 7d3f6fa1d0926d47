// SPDX-License-Identifier: MIT
#pragma once
#include <cassert>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace resolver {

/// What went wrong, coarse enough to pick an RCODE, a counter and a log level.
enum class Errc : std::uint8_t {
    MalformedQuery,   // client sent bytes that are not a DNS query (-> FORMERR or drop)
    UnsupportedQuery, // well-formed but outside what we serve (-> NOTIMP / REFUSED)
    UpstreamTimeout,  // no usable answer before the deadline
    UpstreamFailure,  // SERVFAIL/REFUSED from upstream, TLS or HTTP errors, refused connection
    ConfigInvalid,    // only ever seen at startup or reload
    Overloaded,       // a lab limit refused the work (in-flight caps): the detail names it
    Internal,         // a C library returned something we did not expect
};

struct Error {
    Errc code;
    std::string detail; // for logs and humans; never parsed by code
};

/// A value or an Error. A small subset of C++23 std::expected, so that moving to
/// std::expected later is a mechanical rename.
template <typename T>
class [[nodiscard]] Result {
public:
    // Implicit on purpose, so that both `return value;` and `return fail(...);` read naturally.
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & {
        assert(has_value());
        return std::get<0>(state_);
    }
    [[nodiscard]] const T& value() const& {
        assert(has_value());
        return std::get<0>(state_);
    }
    [[nodiscard]] T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(state_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    [[nodiscard]] const Error& error() const& {
        assert(!has_value());
        return std::get<1>(state_);
    }

private:
    std::variant<T, Error> state_;
};

using Status = Result<std::monostate>;
[[nodiscard]] inline Status ok() {
    return std::monostate{};
}
[[nodiscard]] inline Error fail(Errc code, std::string detail) {
    return Error{code, std::move(detail)};
}

} // namespace resolver
