// SPDX-License-Identifier: MIT
// Fault plans (resolver/fault/plan.cpp) in both spellings: the same input is parsed as an
// inline `fault=` spec and as a `[[fault]]` TOML file. Every plan that loads is checked for
// each site, matched against queries and handshakes, and applied to a real answer. Asserted:
// errors have a message; a faulted answer still serializes to bytes that parse (or, when the
// plan asks for malformed bytes, keeps at least the header).
#include <cstdint>
#include <string>

#include "resolver/fault/plan.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
using namespace resolver::fault;
namespace wire = resolver::wire;

wire::Message query(std::string_view name, std::uint16_t type) {
    wire::Message q;
    q.id = 0x1234;
    q.set_flag(wire::kFlagRd, true);
    q.question.push_back({*wire::Name::from_text(name), type});
    return q;
}

void exercise(const FaultPlan& plan) {
    for (auto site : {Site::Upstream, Site::DotListener, Site::DohListener}) {
        (void)plan.check_site(site);
    }
    for (std::string_view sni : {"", "dns.example.com", "x"}) {
        for (std::string_view t : {"", "tls", "https"}) {
            (void)plan.match_handshake(sni, t);
        }
    }
    wire::ResourceRecord soa;
    soa.name = *wire::Name::from_text("example.com");
    soa.type = wire::rrtype::SOA;
    soa.rdata = std::string(2, '\0') + std::string(20, '\x01');
    for (std::string_view name : {"www.example.com", "blockme.example.com", "."}) {
        for (std::uint16_t type : {wire::rrtype::A, wire::rrtype::MX}) {
            const wire::Message q = query(name, type);
            for (std::string_view t : {"", "udp", "tcp", "fixture"}) {
                const FaultRule* rule = plan.match(q.question[0].qname, type, t);
                if (rule == nullptr) {
                    continue;
                }
                (void)rule->action.describe();
                wire::Message answer = wire::make_response(q, wire::rcode::NoError);
                apply_message_faults(rule->action, q, answer, &soa);
                std::vector<std::uint8_t> bytes = wire::serialize(answer);
                FUZZ_CHECK(wire::parse(bytes).message.has_value(),
                           "a faulted answer does not parse: " + rule->action.describe());
                apply_wire_faults(rule->action, bytes);
                FUZZ_CHECK(bytes.size() >= 12, "wire faults cut into the header");
            }
        }
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    for (auto plan : {FaultPlan::parse_inline(text), FaultPlan::parse_toml(text, "faults.toml")}) {
        if (!plan) {
            FUZZ_CHECK(!plan.error().detail.empty(), "an error without a message");
            continue;
        }
        exercise(*plan);
    }
    for (std::string_view code : {"0", "REFUSED_STREAM", "0x1f", "99999999999"}) {
        (void)h2_error_code(code);
    }
    return 0;
}
