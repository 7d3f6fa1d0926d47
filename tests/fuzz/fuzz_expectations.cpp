// SPDX-License-Identifier: MIT
// Expectation files (probes/check/expectations.cpp, `dnslab-probe check` and scenarios):
// TOML cases with names, types, rcodes, answers and EDE codes, each evaluated against fixed
// observations (a blocked answer, a positive answer, a failed exchange). Asserted: an error
// has a message; a case that fails says why.
#include <cstdint>
#include <string>

#include "probes/check/expectations.hpp"
#include "probes/compare/observation.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
namespace wire = resolver::wire;
using probes::compare::Observation;

Observation observed(std::string_view qname, std::uint16_t rcode, std::string rdata) {
    wire::Message q;
    q.question.push_back({*wire::Name::from_text(qname), wire::rrtype::A});
    wire::Message m = wire::make_response(q, rcode);
    if (!rdata.empty()) {
        wire::ResourceRecord rr;
        rr.name = q.question[0].qname;
        rr.type = wire::rrtype::A;
        rr.ttl = 60;
        rr.rdata = std::move(rdata);
        m.answer.push_back(std::move(rr));
    }
    m.add_ede(15, "blocked");
    Observation o = probes::compare::normalize_wire(m);
    o.target = "lab";
    o.transport = "udp";
    return o;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto cases = probes::check::parse_cases(std::string(fuzz::as_text(data, size)));
    if (!cases) {
        FUZZ_CHECK(!cases.error().detail.empty(), "an error without a message");
        return 0;
    }
    std::vector<Observation> observations{
        observed("blocked.example.com", wire::rcode::NoError, std::string(4, '\0')),
        observed("www.example.com", wire::rcode::NoError, std::string("\xc0\x00\x02\x01", 4)),
        observed("nx.example.com", wire::rcode::NxDomain, "")};
    Observation failed;
    failed.error = "timed out";
    observations.push_back(failed);
    for (const auto& c : *cases) {
        for (const auto& o : observations) {
            for (const auto& why : probes::check::evaluate(c, o)) {
                FUZZ_CHECK(!why.empty(), "a failed expectation without a reason");
            }
        }
    }
    return 0;
}
