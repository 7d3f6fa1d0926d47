// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <vector>

#include "resolver/wire/stream_framer.hpp"

using resolver::wire::StreamFramer;

namespace {
std::vector<std::uint8_t> message(std::size_t n) {
    return std::vector<std::uint8_t>(n, 0xAB);
}
std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}
} // namespace

TEST_SUITE_BEGIN("wire.framer");

TEST_CASE("messages come out whole, whatever the split") {
    const auto stream = cat({StreamFramer::frame(message(12)), StreamFramer::frame(message(300))});
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        StreamFramer f(512);
        std::vector<std::vector<std::uint8_t>> got;
        std::vector<std::uint8_t> m;
        REQUIRE(f.feed({stream.data(), split}));
        while (f.next(m)) {
            got.push_back(m);
        }
        REQUIRE(f.feed({stream.data() + split, stream.size() - split}));
        while (f.next(m)) {
            got.push_back(m);
        }
        CHECK(got == std::vector<std::vector<std::uint8_t>>{message(12), message(300)});
        CHECK(f.buffered() == 0);
    }
}

// Found by tests/fuzz/fuzz_framer: only the next length prefix was checked, so a zero length
// behind a first message in the same read came out as an empty message, and one above the
// listener's tcp.max_message_size was accepted.
TEST_CASE("a zero or oversized length is refused behind other messages too") {
    const std::vector<std::uint8_t> zero{0, 0};
    const auto big = StreamFramer::frame(message(513));
    for (const auto& bad : {zero, big}) {
        StreamFramer whole(512);
        CHECK_FALSE(whole.feed(cat({StreamFramer::frame(message(12)), bad})));
        // The same with the bad prefix arriving in a later read, after an incomplete body.
        StreamFramer later(512);
        const auto first = StreamFramer::frame(message(12));
        CHECK(later.feed({first.data(), 5}));
        CHECK(later.feed(cat({{first.begin() + 5, first.end()}, {bad.begin(), bad.begin() + 2}})) ==
              false);
    }
}

TEST_SUITE_END();
