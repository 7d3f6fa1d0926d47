// SPDX-License-Identifier: MIT
#include "probes/common/present.hpp"

#include <cstdlib>

#include "resolver/util/ldns.hpp"

#include "resolver/util/c_handles.hpp"
#include "resolver/wire/message.hpp"

namespace probes::common {
namespace {
using CString = resolver::util::CHandle<char, std::free>;

std::vector<std::string> lines(const ldns_rr_list* list) {
    std::vector<std::string> out;
    for (std::size_t i = 0; list != nullptr && i < ldns_rr_list_rr_count(list); ++i) {
        CString s(ldns_rr2str(ldns_rr_list_rr(list, i)));
        if (!s) {
            continue;
        }
        std::string line = s.get();
        while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) {
            line.pop_back();
        }
        out.push_back(std::move(line));
    }
    return out;
}
} // namespace

Presentation present(std::span<const std::uint8_t> wire) {
    Presentation p;
    // Only what our parser accepts reaches ldns, as everywhere else in the probe (an answer it
    // cannot parse is reported as such). ldns 1.8.3's ldns_wire2pkt is laxer and leaks: a TSIG
    // record followed by fewer records than ARCOUNT promises reads as OK and is never freed
    // (found by tests/fuzz/fuzz_wire).
    ldns_pkt* raw = nullptr;
    if (!resolver::wire::parse(wire) ||
        ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK || raw == nullptr) {
        p.header = ";; (answer not parsable)";
        return p;
    }
    resolver::util::LdnsPkt pkt(raw);
    CString rcode(ldns_pkt_rcode2str(ldns_pkt_get_rcode(pkt.get())));
    std::string flags;
    const std::pair<const char*, bool> bits[] = {
        {"qr", ldns_pkt_qr(pkt.get())}, {"aa", ldns_pkt_aa(pkt.get())},
        {"tc", ldns_pkt_tc(pkt.get())}, {"rd", ldns_pkt_rd(pkt.get())},
        {"ra", ldns_pkt_ra(pkt.get())}, {"ad", ldns_pkt_ad(pkt.get())},
        {"cd", ldns_pkt_cd(pkt.get())}};
    for (const auto& [name, on] : bits) {
        if (on) {
            flags += (flags.empty() ? "" : " ") + std::string(name);
        }
    }
    p.header = ";; status: " + std::string(rcode ? rcode.get() : "?") + ", flags: " + flags;
    if (ldns_pkt_edns(pkt.get())) {
        p.header += "; EDNS: udp " + std::to_string(ldns_pkt_edns_udp_size(pkt.get()));
        if (ldns_pkt_edns_do(pkt.get())) {
            p.header += " do";
        }
    }
    p.answer = lines(ldns_pkt_answer(pkt.get()));
    p.authority = lines(ldns_pkt_authority(pkt.get()));
    p.additional = lines(ldns_pkt_additional(pkt.get()));
    return p;
}

} // namespace probes::common
