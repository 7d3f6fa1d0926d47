// SPDX-License-Identifier: MIT
// A private libuv loop for unit tests that drive handles.
#pragma once
#include <doctest/doctest.h>
#include <uv.h>

namespace test_support {

/// A private libuv loop; the destructor drains it (running the close callbacks) and checks
/// that it closes, i.e. that the test left no handle open.
struct Loop {
    uv_loop_t loop{};
    Loop() { REQUIRE(uv_loop_init(&loop) == 0); }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    ~Loop() {
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
};

} // namespace test_support
