// SPDX-License-Identifier: MIT
// The DoH request/response logic of the DoH listener: base64url, query strings, the JSON API
// and the HTTP status decisions of RFC 8484 and the behaviour reference §7.3.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "resolver/io/doh_json.hpp"
#include "resolver/io/doh_listener.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;
using namespace resolver::io;

namespace {
std::vector<std::uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

std::vector<std::uint8_t> query_wire(std::string_view name, std::uint16_t type,
                                     bool padding = false) {
    wire::Message m;
    m.set_flag(wire::kFlagRd, true);
    m.question.push_back({*wire::Name::from_text(name), type, wire::rrclass::IN});
    if (padding) {
        m.edns.emplace();
        m.edns->options.push_back({wire::edns_opt::Padding, std::string(20, '\0')});
    }
    return wire::serialize(m);
}

HttpRequest get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest r;
    r.method = "GET";
    r.target = std::move(target);
    r.authority = "abc.cloudflare-gateway.com";
    r.headers = std::move(headers);
    return r;
}

HttpRequest post(std::string body, std::string content_type = "application/dns-message") {
    HttpRequest r;
    r.method = "POST";
    r.target = "/dns-query";
    r.headers = {{"content-type", std::move(content_type)}};
    r.body = std::move(body);
    return r;
}

int status_of(const HttpRequest& r, DohLimits limits = {}) {
    const auto d = decode_doh_request(r, "/dns-query", limits);
    return d.response ? d.response->status : 200;
}
} // namespace

TEST_SUITE_BEGIN("tls.doh");

TEST_CASE("base64url round-trips every length without padding") {
    for (std::size_t n = 0; n < 40; ++n) {
        std::vector<std::uint8_t> data(n);
        for (std::size_t i = 0; i < n; ++i) {
            data[i] = static_cast<std::uint8_t>(i * 37 + 250);
        }
        const auto text = base64url_encode(data);
        CHECK(text.find('=') == std::string::npos);
        CHECK(text.find('+') == std::string::npos);
        CHECK(text.find('/') == std::string::npos);
        const auto back = base64url_decode(text);
        REQUIRE(back.has_value());
        CHECK(*back == data);
    }
}

TEST_CASE("base64url matches the RFC 8484 §4.1.1 example and rejects bad input") {
    // The RFC's www.example.com A query.
    const std::string example = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";
    const auto decoded = base64url_decode(example);
    REQUIRE(decoded.has_value());
    CHECK(decoded->size() == 33);
    CHECK(base64url_encode(*decoded) == example);
    CHECK(base64url_decode("AAAB+AAA") == std::nullopt); // standard alphabet
    CHECK(base64url_decode("AAAAA") == std::nullopt);    // dangling 6 bits
    CHECK(base64url_decode("AA==").has_value());         // padding tolerated
}

TEST_CASE("query strings are split and percent-decoded, first value wins") {
    const auto p = parse_query_string("name=exa%6Dple.com&type=AAAA&type=A&do&cd=1&bad=%zz");
    CHECK(p.at("name") == "example.com");
    CHECK(p.at("type") == "AAAA");
    CHECK(p.at("do").empty());
    CHECK(p.at("cd") == "1");
    CHECK(p.count("bad") == 0);
    CHECK(percent_decode("%4") == std::nullopt);
}

TEST_CASE("the JSON API builds an ID 0 RD query with type, DO and CD") {
    auto q = json_query_from_params(
        {{"name", "example.com"}, {"type", "MX"}, {"do", "1"}, {"cd", "true"}});
    REQUIRE(q.has_value());
    CHECK(q->id == 0);
    CHECK(q->flag(wire::kFlagRd));
    CHECK(q->flag(wire::kFlagCd));
    CHECK(q->question.at(0).qtype == wire::rrtype::MX);
    REQUIRE(q->edns.has_value());
    CHECK(q->edns->dnssec_ok);

    auto numeric =
        json_query_from_params({{"name", "example.com"}, {"type", "65"}, {"cd", "false"}});
    REQUIRE(numeric.has_value());
    CHECK(numeric->question.at(0).qtype == wire::rrtype::HTTPS);
    CHECK_FALSE(numeric->flag(wire::kFlagCd));
    CHECK_FALSE(numeric->edns.has_value());

    CHECK_FALSE(json_query_from_params({{"type", "A"}}).has_value());
    CHECK_FALSE(json_query_from_params({{"name", "x.com"}, {"type", "NOPE"}}).has_value());
    auto bad_cd = json_query_from_params({{"name", "x.com"}, {"cd", "2"}});
    REQUIRE_FALSE(bad_cd.has_value());
    CHECK(bad_cd.error().detail.find("Invalid CD flag `2`") != std::string::npos);
}

TEST_CASE(
    "JSON rendering follows 1.1.1.1's shape, with presentation-format data and EDE comments") {
    wire::Message q = *json_query_from_params({{"name", "Example.com"}, {"type", "A"}});
    wire::Message r = wire::make_response(q, wire::rcode::NoError);
    r.set_flag(wire::kFlagRa, true);
    const auto name = *wire::Name::from_text("example.com");
    r.answer.push_back({name, wire::rrtype::A, wire::rrclass::IN, 300,
                        std::string{'\xC0', '\x00', '\x02', '\x01'}});
    r.answer.push_back(
        {name, wire::rrtype::MX, wire::rrclass::IN, 60,
         std::string{'\x00', '\x0A'} + wire::Name::from_text("mx.example.com")->wire()});
    r.answer.push_back(
        {name, wire::rrtype::TXT, wire::rrclass::IN, 60, std::string("\x05hello\x02hi", 9)});
    r.authority.push_back({name, 65280, wire::rrclass::IN, 5, std::string("\x01\xff", 2)});
    r.add_ede(17, "blocked by policy");

    const auto j = nlohmann::json::parse(render_json(r));
    CHECK(j["Status"] == 0);
    CHECK(j["RD"] == true);
    CHECK(j["RA"] == true);
    CHECK(j["TC"] == false);
    CHECK(j["AD"] == false);
    CHECK(j["CD"] == false);
    CHECK(j["Question"][0]["name"] == "Example.com");
    CHECK(j["Question"][0]["type"] == 1);
    CHECK(j["Answer"].size() == 3);
    CHECK(
        j["Answer"][0] ==
        nlohmann::json{{"name", "example.com"}, {"type", 1}, {"TTL", 300}, {"data", "192.0.2.1"}});
    CHECK(j["Answer"][1]["data"] == "10 mx.example.com.");
    CHECK(j["Answer"][2]["data"] == "\"hello\" \"hi\"");
    CHECK(j["Authority"][0]["data"] == "\\# 2 01ff");
    CHECK_FALSE(j.contains("Additional"));
    CHECK(j["Comment"][0] == "EDE(17): blocked by policy");
    // Key order as 1.1.1.1 prints it.
    CHECK(render_json(r).rfind("{\"Status\":0,\"TC\":false,\"RD\":true", 0) == 0);
}

// Found by tests/fuzz/fuzz_wire: ldns decodes a type's fields and ignores what follows, so
// an A record with 12 bytes of RDATA was shown as an address made of its first 4 bytes.
TEST_CASE("JSON data of RDATA malformed for its type is the RFC 3597 form of every byte") {
    const auto name = *wire::Name::from_text("example.com");
    const wire::ResourceRecord a_long{name, wire::rrtype::A, wire::rrclass::IN, 60,
                                      std::string("\x00\x01\x00\x02\x00\x35\x03srv\xc0\x0c", 12)};
    CHECK(rdata_text(a_long) == "\\# 12 00010002003503737276c00c");
    const wire::ResourceRecord mx_tail{name, wire::rrtype::MX, wire::rrclass::IN, 60,
                                       std::string{'\x00', '\x0A'} +
                                           wire::Name::from_text("mx.example.com")->wire() + "!"};
    CHECK(rdata_text(mx_tail).rfind("\\# 19 000a", 0) == 0);
    const wire::ResourceRecord a_ok{name, wire::rrtype::A, wire::rrclass::IN, 60,
                                    std::string("\xc0\x00\x02\x01", 4)};
    CHECK(rdata_text(a_ok) == "192.0.2.1");
    // Also found by fuzz_wire: empty RDATA was rendered as "".
    const wire::ResourceRecord a_empty{name, wire::rrtype::A, wire::rrclass::IN, 60, ""};
    CHECK(rdata_text(a_empty) == "\\# 0");
}

TEST_CASE("GET ?dns= and POST wire queries are accepted; padding is noticed") {
    const auto wire = query_wire("example.com", wire::rrtype::A, true);
    auto d = decode_doh_request(get("/dns-query?dns=" + base64url_encode(wire)), "/dns-query", {});
    REQUIRE_FALSE(d.response.has_value());
    CHECK(d.query.wire == wire);
    CHECK(d.query.pad);
    CHECK_FALSE(d.query.json);

    auto p = decode_doh_request(
        post(std::string(wire.begin(), wire.end()), "Application/DNS-Message; q=1"), "/dns-query",
        {});
    REQUIRE_FALSE(p.response.has_value());
    CHECK(p.query.wire == wire);

    auto j = decode_doh_request(
        get("/dns-query?name=example.com", {{"accept", "application/dns-json"}}), "/dns-query", {});
    REQUIRE_FALSE(j.response.has_value());
    CHECK(j.query.json);
    auto ct = decode_doh_request(get("/dns-query/sub?name=example.com&ct=application/dns-json"),
                                 "/dns-query", {});
    REQUIRE_FALSE(ct.response.has_value());
    CHECK(ct.query.json);
}

TEST_CASE("DoH errors map to the documented HTTP status codes") {
    const auto wire = query_wire("example.com", wire::rrtype::A);
    const std::string b64 = base64url_encode(wire);
    CHECK(status_of(get("/dns-query")) == 400);          // missing query
    CHECK(status_of(get("/dns-query?dns=***")) == 400);  // not base64url
    CHECK(status_of(get("/dns-query?dns=AAAA")) == 400); // too small
    CHECK(status_of(get("/dns-query?dns=" + base64url_encode(bytes("0123456789abcdefgh")))) ==
          400); // garbage
    CHECK(status_of(get("/dns-query?dns=" + std::string(90000, 'A'))) == 413);
    CHECK(status_of(get("/other?dns=" + b64)) == 404);
    CHECK(status_of(get("/dns-queryX?dns=" + b64)) == 404);
    CHECK(status_of(get("/dns-query/loc1?dns=" + b64)) == 200); // lab path form
    auto put = get("/dns-query");
    put.method = "PUT";
    const auto d = decode_doh_request(put, "/dns-query", {});
    REQUIRE(d.response.has_value());
    CHECK(d.response->status == 405);
    CHECK(d.response->headers.at(0).first == "allow");
    CHECK(status_of(post(std::string(wire.begin(), wire.end()), "text/plain")) == 415);
    CHECK(status_of(post(std::string(70000, 'x'))) == 413);
    CHECK(status_of(post("short")) == 400);
    auto big = post(std::string(wire.begin(), wire.end()));
    big.too_large = true;
    CHECK(status_of(big) == 413);
    auto json_err = decode_doh_request(
        get("/dns-query?name=x.com&cd=2", {{"accept", "application/dns-json"}}), "/dns-query", {});
    REQUIRE(json_err.response.has_value());
    CHECK(json_err.response->status == 400);
    CHECK(nlohmann::json::parse(json_err.response->body)["error"].get<std::string>().find("CD") !=
          std::string::npos);
}

namespace {
// SOA RDATA (RFC 1035 §3.3.13): MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM.
std::string soa_rdata(std::uint32_t minimum) {
    std::string r;
    for (const std::string_view label : {"ns", "example", "", "host", "example", ""}) {
        r.push_back(static_cast<char>(label.size())); // MNAME then RNAME, uncompressed
        r.append(label);
    }
    for (const std::uint32_t v : {1U, 7200U, 900U, 1209600U, minimum}) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            r.push_back(static_cast<char>((v >> shift) & 0xFF));
        }
    }
    return r;
}

wire::ResourceRecord record(std::string_view owner, std::uint16_t type, std::uint32_t ttl,
                            std::string rdata) {
    return {*wire::Name::from_text(owner), type, wire::rrclass::IN, ttl, std::move(rdata)};
}
} // namespace

TEST_CASE("replies become 200 with cache-control, or 504 on upstream timeout") {
    wire::Message q = *json_query_from_params({{"name", "example.com"}});
    wire::Message nx = wire::make_response(q, wire::rcode::NxDomain);
    nx.authority.push_back(record("example.com", wire::rrtype::SOA, 3600, soa_rdata(300)));
    const auto resp = wire::serialize(nx);
    // min_ttl is the freshness stages/ computed: for this NXDOMAIN, the SOA's 300.
    const auto ok = encode_doh_reply(Reply{resp, false, false, 300}, DohQuery{{}, false, false});
    CHECK(ok.status == 200);
    CHECK(ok.content_type == "application/dns-message");
    CHECK(ok.max_age == 300u);
    CHECK(ok.body == std::string(resp.begin(), resp.end()));
    const auto json = encode_doh_reply(Reply{resp, false, false, 300}, DohQuery{{}, true, false});
    CHECK(json.content_type == "application/dns-json");
    CHECK(json.max_age == 300u);
    CHECK(nlohmann::json::parse(json.body)["Status"] == 3);
    CHECK(encode_doh_reply(Reply{{}, false, true, 0}, DohQuery{}).status == 504);
    CHECK(encode_doh_reply(Reply{{}, true, false, 0}, DohQuery{}).status == 504);
}

TEST_CASE("HEAD is decoded as GET; the 405 allow lists it") {
    const auto wire = query_wire("example.com", wire::rrtype::A);
    auto head = get("/dns-query?dns=" + base64url_encode(wire));
    head.method = "HEAD";
    const auto d = decode_doh_request(head, "/dns-query", {});
    CHECK_FALSE(d.response.has_value());
    CHECK(d.query.wire == wire);
    auto put = get("/dns-query");
    put.method = "PUT";
    const auto refused = decode_doh_request(put, "/dns-query", {});
    REQUIRE(refused.response.has_value());
    CHECK(refused.response->headers.at(0).second == "GET, HEAD, POST");
}

TEST_CASE("the Host hint drops the port, IPv6 brackets and case") {
    CHECK(doh_host_hint("ABC.cloudflare-gateway.com:8443") == "abc.cloudflare-gateway.com");
    CHECK(doh_host_hint("[::1]:443") == "::1");
    CHECK(doh_host_hint("localhost") == "localhost");
    CHECK(request_path("/dns-query/x?dns=1") == "/dns-query/x");
}

TEST_SUITE_END();
