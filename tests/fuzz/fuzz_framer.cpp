// SPDX-License-Identifier: MIT
// The DNS-over-stream framer (resolver/wire/stream_framer.hpp: RFC 1035 §4.2.2 / RFC 7766 §8
// length prefixes) shared by the TCP and DoT listeners and the stream clients, fed the input
// in pieces whose sizes the input chooses (as TCP may deliver them) with a small cap.
// Asserted: the framer keeps its contract, that a length of 0 or above the cap is refused
// by feed() and never yielded; the messages yielded, framed again, are exactly the bytes
// consumed; the split does not change what comes out.
#include <cstdint>
#include <string>
#include <vector>

#include "resolver/wire/stream_framer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
using resolver::wire::StreamFramer;

constexpr std::size_t kCap = 512; // a listener's tcp.max_message_size

struct Outcome {
    std::vector<std::vector<std::uint8_t>> messages;
    bool refused = false;
};

Outcome run(std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> splits) {
    StreamFramer framer(kCap);
    Outcome out;
    std::size_t at = 0;
    for (std::size_t k = 0; at < bytes.size(); ++k) {
        const std::size_t piece =
            splits.empty() ? bytes.size() : 1 + splits[k % splits.size()] % 64;
        const auto chunk = bytes.subspan(at, std::min(piece, bytes.size() - at));
        at += chunk.size();
        if (!framer.feed(chunk)) {
            out.refused = true;
            return out;
        }
        std::vector<std::uint8_t> msg;
        while (framer.next(msg)) {
            FUZZ_CHECK(!msg.empty() && msg.size() <= kCap,
                       "next() yielded a " + std::to_string(msg.size()) + "-byte message");
            out.messages.push_back(msg);
        }
    }
    return out;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The first byte sizes the split table that follows; the rest is the stream.
    const std::size_t n = size == 0 ? 0 : std::min<std::size_t>(data[0], size - 1);
    const std::span<const std::uint8_t> splits(data + (size == 0 ? 0 : 1), n);
    const std::span<const std::uint8_t> stream(data + (size == 0 ? 0 : 1 + n),
                                               size == 0 ? 0 : size - 1 - n);
    const Outcome whole = run(stream, {});
    const Outcome pieces = run(stream, splits);
    std::vector<std::uint8_t> reframed;
    for (const auto& m : whole.messages) {
        const auto f = StreamFramer::frame(m);
        reframed.insert(reframed.end(), f.begin(), f.end());
    }
    FUZZ_CHECK(reframed.size() <= stream.size() &&
                   std::equal(reframed.begin(), reframed.end(), stream.begin()),
               "the messages yielded are not the stream's bytes");
    if (!whole.refused && !pieces.refused) {
        FUZZ_CHECK(whole.messages == pieces.messages, "the split changes the messages");
    }
    return 0;
}
