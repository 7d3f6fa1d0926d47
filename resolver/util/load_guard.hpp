// SPDX-License-Identifier: MIT
#pragma once
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "resolver/core/result.hpp"

namespace resolver::util {

/// Runs one loader (start-up, reload, `explain`: never the query path) and turns anything it
/// throws into Errc::ConfigInvalid naming `what` (a file, or "policy reload"). Third-party
/// parsers report by exception (nlohmann-json: parse_error, type_error, out_of_range; toml++:
/// parse_error) and any allocation may throw std::bad_alloc on an absurd input: none of them
/// may end the process, and a reload that fails keeps the rules in force.
/// `f` returns a Result<T> or a Status; the guard returns the same type.
template <typename F>
auto guard_load(std::string_view what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        // The failed allocation has been unwound by now, so this short string can be built.
        return fail(Errc::ConfigInvalid,
                    std::string(what) + ": out of memory while loading (an absurdly large input?)");
    } catch (const std::exception& e) {
        return fail(Errc::ConfigInvalid, std::string(what) + ": " + e.what());
    } catch (...) {
        return fail(Errc::ConfigInvalid, std::string(what) + ": unknown error while loading");
    }
}

} // namespace resolver::util
