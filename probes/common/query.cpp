// SPDX-License-Identifier: MIT
#include "probes/common/query.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <sstream>

namespace probes::common {
namespace wire = resolver::wire;
using resolver::Errc;
using resolver::fail;
using resolver::Result;

namespace {
std::optional<std::string> from_hex(std::string_view h) {
    if (h.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string out;
    for (std::size_t i = 0; i < h.size(); i += 2) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(h.data() + i, h.data() + i + 2, v, 16);
        if (ec != std::errc() || p != h.data() + i + 2) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(v));
    }
    return out;
}
} // namespace

Result<wire::EdnsOption> parse_raw_option(const std::string& text) {
    auto colon = text.find(':');
    unsigned code = 0;
    const std::string code_s = text.substr(0, colon);
    auto [p, ec] = std::from_chars(code_s.data(), code_s.data() + code_s.size(), code);
    if (code_s.empty() || ec != std::errc() || p != code_s.data() + code_s.size() || code > 65535) {
        return fail(Errc::ConfigInvalid, "bad --opt '" + text + "': want CODE:HEX");
    }
    auto data = from_hex(colon == std::string::npos ? "" : text.substr(colon + 1));
    if (!data) {
        return fail(Errc::ConfigInvalid,
                    "bad --opt '" + text + "': HEX must be pairs of hex digits");
    }
    return wire::EdnsOption{static_cast<std::uint16_t>(code), *data};
}

Result<std::string> ecs_option_data(const std::string& cidr) {
    auto slash = cidr.find('/');
    const std::string addr = cidr.substr(0, slash);
    std::array<unsigned char, 16> buf{};
    std::uint16_t family = 0;
    unsigned max_prefix = 0;
    if (inet_pton(AF_INET, addr.c_str(), buf.data()) == 1) {
        family = 1; // RFC 7871 §6: IANA address family numbers
        max_prefix = 32;
    } else if (inet_pton(AF_INET6, addr.c_str(), buf.data()) == 1) {
        family = 2;
        max_prefix = 128;
    } else {
        return fail(Errc::ConfigInvalid, "bad --ecs '" + cidr + "': not an address/prefix");
    }
    unsigned prefix = max_prefix;
    if (slash != std::string::npos) {
        const std::string ps = cidr.substr(slash + 1);
        auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), prefix);
        if (ps.empty() || ec != std::errc() || p != ps.data() + ps.size() || prefix > max_prefix) {
            return fail(Errc::ConfigInvalid, "bad --ecs '" + cidr + "': bad prefix length");
        }
    }
    std::string data;
    data.push_back(static_cast<char>(family >> 8));
    data.push_back(static_cast<char>(family & 0xFF));
    data.push_back(static_cast<char>(prefix));
    data.push_back(0); // SCOPE PREFIX-LENGTH must be 0 in queries (RFC 7871 §6)
    const unsigned bytes = (prefix + 7) / 8;
    for (unsigned i = 0; i < bytes; ++i) {
        unsigned char b = buf[i];
        if (i == bytes - 1 && prefix % 8 != 0) {
            b = static_cast<unsigned char>(
                b & (0xFF << (8 - prefix % 8))); // RFC 7871 §6: zero the rest
        }
        data.push_back(static_cast<char>(b));
    }
    return data;
}

Result<std::vector<QuestionSpec>> parse_question_list(const std::string& text) {
    std::vector<QuestionSpec> out;
    std::istringstream in(text);
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (auto hash = line.find('#'); hash != std::string::npos) {
            line.resize(hash);
        }
        std::istringstream words(line);
        std::string name, type;
        if (!(words >> name)) {
            continue;
        }
        words >> type;
        QuestionSpec q{name, wire::rrtype::A};
        if (!type.empty()) {
            auto t = wire::type_from_name(type);
            if (!t) {
                return fail(Errc::ConfigInvalid,
                            "line " + std::to_string(line_no) + ": unknown type '" + type + "'");
            }
            q.type = *t;
        }
        if (!wire::Name::from_text(name)) {
            return fail(Errc::ConfigInvalid,
                        "line " + std::to_string(line_no) + ": bad name '" + name + "'");
        }
        out.push_back(q);
    }
    return out;
}

Result<std::vector<std::uint8_t>> build_query(const QuestionSpec& q, const QueryOptions& opts,
                                              std::uint16_t id) {
    auto name = wire::Name::from_text(q.name);
    if (!name) {
        return fail(Errc::ConfigInvalid, "bad query name '" + q.name + "'");
    }
    wire::Message m;
    m.id = id;
    m.set_flag(wire::kFlagRd, opts.rd);
    m.set_flag(wire::kFlagCd, opts.cd);
    m.question.push_back(wire::Question{*name, q.type, wire::rrclass::IN});
    if (!opts.no_edns) {
        auto& e = m.edns.emplace();
        e.udp_size = opts.bufsize;
        e.dnssec_ok = opts.dnssec_ok;
        if (opts.nsid) {
            e.options.push_back({wire::edns_opt::Nsid, ""});
        }
        if (!opts.ecs.empty()) {
            auto data = ecs_option_data(opts.ecs);
            if (!data) {
                return data.error();
            }
            e.options.push_back({wire::edns_opt::Ecs, *data});
        }
        if (!opts.cookie.empty()) {
            e.options.push_back({wire::edns_opt::Cookie, opts.cookie});
        }
        if (!opts.location.empty()) {
            e.options.push_back({wire::edns_opt::Location, opts.location});
        }
        for (const auto& o : opts.raw) {
            e.options.push_back(o);
        }
        if (opts.padding) {
            // RFC 8467 §4.1: pad queries to a multiple of 128 octets. The option header
            // itself takes 4 octets.
            const auto unpadded = wire::serialize(m).size() + 4;
            const auto pad = (128 - unpadded % 128) % 128;
            e.options.push_back({wire::edns_opt::Padding, std::string(pad, '\0')});
        }
    }
    return wire::serialize(m);
}

} // namespace probes::common
