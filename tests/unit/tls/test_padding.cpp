// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "resolver/io/dot_listener.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;

namespace {
wire::Message query(bool edns, bool padding) {
    wire::Message m;
    m.id = 7;
    m.set_flag(wire::kFlagRd, true);
    m.question.push_back(
        {*wire::Name::from_text("example.com"), wire::rrtype::A, wire::rrclass::IN});
    if (edns) {
        m.edns.emplace();
        if (padding) {
            m.edns->options.push_back({wire::edns_opt::Padding, std::string(3, '\0')});
        }
    }
    return m;
}
} // namespace

TEST_SUITE_BEGIN("tls.padding");

TEST_CASE("only a query carrying the padding option asks for a padded answer") {
    CHECK(io::query_requests_padding(wire::serialize(query(true, true))));
    CHECK_FALSE(io::query_requests_padding(wire::serialize(query(true, false))));
    CHECK_FALSE(io::query_requests_padding(wire::serialize(query(false, false))));
    const std::vector<std::uint8_t> junk{1, 2, 3};
    CHECK_FALSE(io::query_requests_padding(junk));
}

TEST_CASE("responses are padded to a multiple of 468 bytes, content intact") {
    for (std::size_t answers : {0U, 1U, 5U, 20U, 40U}) {
        CAPTURE(answers);
        wire::Message r = wire::make_response(query(true, true), wire::rcode::NoError);
        for (std::size_t i = 0; i < answers; ++i) {
            r.answer.push_back({*wire::Name::from_text("example.com"), wire::rrtype::A,
                                wire::rrclass::IN, 60,
                                std::string{'\xC0', '\x00', '\x02', static_cast<char>(i)}});
        }
        r.add_ede(0, "some text");
        r.edns->options.push_back(
            {wire::edns_opt::Padding, std::string(1000, '\0')}); // stale padding
        const auto padded = io::pad_response(wire::serialize(r));
        CHECK(padded.size() % io::kResponsePaddingBlock == 0);
        const auto back = wire::parse(padded);
        REQUIRE(back);
        CHECK(back.message->id == 7);
        CHECK(back.message->answer.size() == answers);
        CHECK(back.message->edes().size() == 1);
        std::size_t paddings = 0;
        for (const auto& o : back.message->edns->options) {
            paddings += o.code == wire::edns_opt::Padding ? 1 : 0;
            if (o.code == wire::edns_opt::Padding) {
                CHECK(o.data.find_first_not_of('\0') == std::string::npos); // RFC 7830 §3: zeros
            }
        }
        CHECK(paddings == 1);
    }
}

TEST_CASE("padding adds an OPT record when the answer lacks one and leaves junk alone") {
    wire::Message r = wire::make_response(query(false, false), wire::rcode::NoError);
    const auto padded = io::pad_response(wire::serialize(r), 128);
    CHECK(padded.size() == 128);
    const std::vector<std::uint8_t> junk{1, 2, 3};
    CHECK(io::pad_response(junk) == junk);
}

TEST_SUITE_END();
