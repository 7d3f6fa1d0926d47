// SPDX-License-Identifier: MIT
// The capture reader (resolver/fixture/capture.cpp: libpcap, then our Ethernet/802.1Q/SLL/
// raw IP/loopback, IPv4/IPv6, UDP/TCP decoding) on a capture file written from the input,
// and the recorded-answers index built over it (resolver/fixture/recorded.cpp), as a
// scenario's `recorded:` upstream loads it. Asserted: an error names the file; every payload
// is within the capture's size.
#include <cstdint>
#include <string>

#include "resolver/fixture/capture.hpp"
#include "resolver/fixture/recorded.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz::TempDir dir;
    const auto path = dir.write("capture.pcap", fuzz::as_text(data, size)).string();
    auto payloads = resolver::fixture::read_capture(path);
    if (!payloads) {
        FUZZ_CHECK(payloads.error().detail.find(path) != std::string::npos,
                   "an error that does not name the file: " + payloads.error().detail);
        return 0;
    }
    for (const auto& p : *payloads) {
        FUZZ_CHECK(p.size() <= size, "a payload larger than the capture");
        (void)resolver::wire::parse(p);
    }
    auto recorded = resolver::fixture::RecordedAnswers::load(path);
    if (recorded) {
        resolver::wire::Message q;
        q.question.push_back({*resolver::wire::Name::from_text("example.com"), 1});
        (void)recorded->answer(q);
    }
    return 0;
}
