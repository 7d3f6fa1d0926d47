// SPDX-License-Identifier: MIT
// The rules export loader (resolver/policy/load.cpp, Cloudflare's /gateway/rules JSON): JSON
// parsing, rule fields, settings, schedules (time zones from the system zoneinfo), expiration
// and every expression compiled, with a lists export so `$<id>` references resolve. Asserted:
// an error names the rules file; a loaded set evaluates a query.
#include <cstdint>
#include <string>

#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/net/ip.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
using namespace resolver::policy;

constexpr const char* kLists = R"([
  {"id": "9e1f4c2a-1b7d-4e3a-8c55-6a0d2f3b0001", "type": "DOMAIN", "items": [{"value": "corp.example.com"}]},
  {"id": "9e1f4c2a-1b7d-4e3a-8c55-6a0d2f3b0003", "type": "IP", "items": [{"value": "198.51.100.0/24"}]}
])";
constexpr const char* kLocations =
    R"([{"id": "loc", "name": "HQ", "networks": [{"network": "192.0.2.0/24"}]}])";
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    PolicyTexts texts;
    texts.rules = std::string(fuzz::as_text(data, size));
    texts.lists = kLists;
    texts.locations = kLocations;
    auto set = load_policy_texts(texts);
    if (!set) {
        FUZZ_CHECK(set.error().detail.rfind("rules", 0) == 0,
                   "an error that does not name the rules file: " + set.error().detail);
        return 0;
    }
    const PolicySet& s = **set;
    QueryFacts q;
    q.qname = "www.corp.example.com";
    q.src_ip = resolver::net::IpAddr::parse("192.0.2.10");
    q.location = s.locations.locations.empty() ? nullptr : &s.locations.locations.front();
    const Behaviour b;
    Evaluation ev = evaluate_pre(s, q, b, EvalOptions{1735787045, true, nullptr});
    if (!ev.finished) {
        evaluate_post(s, q, ResponseFacts{}, b, EvalOptions{1735787045, true, nullptr}, ev);
    }
    return 0;
}
