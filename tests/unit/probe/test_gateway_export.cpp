// SPDX-License-Identifier: MIT
// gateway-export without a network: the HTTP/1.1 response parser, the API envelope and its
// pagination shapes, the fetch over a scripted API, and the folder it writes (loaded by the
// resolver's policy loader as it is).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "probes/gateway_export/cloudflare_api.hpp"
#include "probes/gateway_export/export.hpp"
#include "probes/gateway_export/http1_response.hpp"
#include "resolver/policy/load.hpp"

namespace ge = probes::gateway_export;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Parser = ge::Http1ResponseParser;

namespace {

Parser::State feed(Parser& p, std::string_view bytes) {
    return p.feed({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

/// Feeds one byte at a time: every split point of the stream must give the same response.
Parser::State feed_bytewise(Parser& p, std::string_view bytes) {
    Parser::State s = p.state();
    for (char c : bytes) {
        s = feed(p, std::string_view(&c, 1));
    }
    return s;
}

ge::HttpResponse ok_json(const json& body, int status = 200) {
    ge::HttpResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
}

json env(const json& result, const json& info = json()) {
    json e = {{"success", true},
              {"errors", json::array()},
              {"messages", json::array()},
              {"result", result}};
    if (!info.is_null()) {
        e["result_info"] = info;
    }
    return e;
}

/// A scripted API: target -> response; records what was asked.
struct FakeApi {
    std::map<std::string, ge::HttpResponse> routes;
    std::vector<std::string> asked;
    ge::Getter getter() {
        return [this](const std::string& target) -> resolver::Result<ge::HttpResponse> {
            asked.push_back(target);
            auto it = routes.find(target);
            if (it == routes.end()) {
                return ok_json(
                    {{"success", false},
                     {"errors", {{{"code", 7003}, {"message", "No route for " + target}}}}},
                    404);
            }
            return it->second;
        };
    }
};

} // namespace

TEST_CASE("HTTP/1.1 response: Content-Length and chunked bodies, at every split point") {
    const std::string cl = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Content-Length: 11\r\n\r\n{\"a\":[1,2]}";
    const std::string chunked =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;name=value\r\n{\"a\"\r\n7\r\n:[1,2]}\r\n0\r\nX-Trailer: t\r\n\r\n";
    const std::string bare_lf = "HTTP/1.1 200 OK\nContent-Length: 11\n\n{\"a\":[1,2]}";
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                                "Content-Length: 11\r\n\r\n{\"a\":[1,2]}";
    for (const auto& text : {cl, chunked, bare_lf, interim}) {
        CAPTURE(text);
        Parser whole(65536, 1 << 20);
        REQUIRE(feed(whole, text) == Parser::State::Done);
        Parser bytewise(65536, 1 << 20);
        REQUIRE(feed_bytewise(bytewise, text) == Parser::State::Done);
        for (Parser* p : {&whole, &bytewise}) {
            CHECK(p->response().status == 200);
            CHECK(p->response().body == "{\"a\":[1,2]}");
            CHECK(p->response().keep_alive);
            CHECK(p->leftover() == 0);
        }
    }
    Parser p(65536, 1 << 20);
    feed(p, cl);
    CHECK(*p.response().header("content-type") == "application/json");
    CHECK(p.response().reason == "OK");
}

TEST_CASE("HTTP/1.1 response: bodies delimited by the close, keep-alive rules, no-body codes") {
    Parser close(65536, 1 << 20);
    CHECK(feed(close, "HTTP/1.1 200 OK\r\n\r\npartial") == Parser::State::NeedMore);
    CHECK(feed(close, " and the rest") == Parser::State::NeedMore);
    CHECK(close.finish_at_eof() == Parser::State::Done);
    CHECK(close.response().body == "partial and the rest");
    CHECK_FALSE(close.response().keep_alive);

    Parser http10(65536, 1 << 20);
    CHECK(feed(http10, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == Parser::State::Done);
    CHECK_FALSE(http10.response().keep_alive);
    Parser conn_close(65536, 1 << 20);
    feed(conn_close, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    CHECK_FALSE(conn_close.response().keep_alive);
    Parser both(65536, 1 << 20); // chunked wins over Content-Length, and the connection goes
    CHECK(feed(both, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\nok\r\n0\r\n\r\n") == Parser::State::Done);
    CHECK(both.response().body == "ok");
    CHECK_FALSE(both.response().keep_alive);
    Parser no_content(65536, 1 << 20);
    CHECK(feed(no_content, "HTTP/1.1 204 No Content\r\n\r\n") == Parser::State::Done);
    Parser same_twice(65536, 1 << 20);
    CHECK(feed(same_twice, "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok") ==
          Parser::State::Done);
    Parser truncated(65536, 1 << 20);
    feed(truncated, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
    CHECK(truncated.finish_at_eof() == Parser::State::Error);
    CHECK(truncated.error() == "connection closed before the response was complete");
}

TEST_CASE("HTTP/1.1 response: what would misframe the body is an error") {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer coding"},
        {"HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n", "folding"},
        {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "bad header line"},
        {"HTTP/2 200\r\n\r\n", "bad status line"},
        {"HTTP/1.1 2000 OK\r\n\r\n", "bad status line"},
        {"SSH-2.0-OpenSSH\r\n", "bad status line"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX", "CRLF"},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"},
    };
    for (const auto& [text, why] : bad) {
        CAPTURE(text);
        Parser p(65536, 1 << 20);
        CHECK(feed(p, text) == Parser::State::Error);
        CHECK(p.error().find(why) != std::string::npos);
    }
    Parser head_cap(64, 1 << 20);
    CHECK(feed(head_cap, "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a')) ==
          Parser::State::Error);
    CHECK(head_cap.error().find("response head larger than 64 bytes") != std::string::npos);
    Parser body_cap(65536, 10);
    CHECK(feed(body_cap, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n") == Parser::State::Error);
    Parser chunk_cap(65536, 10);
    CHECK(feed(chunk_cap, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
                          "8\r\n") == Parser::State::Error);
    Parser close_cap(65536, 10);
    CHECK(feed(close_cap, "HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x')) ==
          Parser::State::Error);
}

TEST_CASE("API envelope: errors are stated as the API states them") {
    auto forbidden = ok_json({{"success", false},
                              {"errors",
                               {{{"code", 10000}, {"message", "Authentication error"}},
                                {{"code", 9109}, {"message", "Invalid access token"}}}},
                              {"messages", json::array()},
                              {"result", nullptr}},
                             403);
    auto r = ge::parse_envelope(forbidden, "GET /accounts/a/gateway/rules");
    REQUIRE_FALSE(r);
    CHECK(r.error().detail == "GET /accounts/a/gateway/rules: HTTP 403: error 10000: "
                              "Authentication error; error 9109: Invalid access token");
    auto refused_200 = ok_json({{"success", false},
                                {"errors", {{{"code", 7000}, {"message", "No route"}}}},
                                {"result", nullptr}});
    CHECK(ge::parse_envelope(refused_200, "GET x").error().detail ==
          "GET x: the API answered success=false: error 7000: No route");
    ge::HttpResponse proxy;
    proxy.status = 502;
    proxy.body = "<html>Bad gateway</html>";
    CHECK(ge::parse_envelope(proxy, "GET x").error().detail ==
          "GET x: HTTP 502: <html>Bad gateway</html>");
    auto limited = ok_json(
        {{"success", false}, {"errors", {{{"code", 10429}, {"message", "Rate limited"}}}}}, 429);
    limited.headers.emplace_back("retry-after", "120");
    CHECK(ge::parse_envelope(limited, "GET x").error().detail ==
          "GET x: HTTP 429: error 10429: Rate limited (Retry-After: 120)");
    CHECK(ge::parse_envelope(ok_json({{"success", true}}), "GET x").error().detail ==
          "GET x: the envelope has no result");
    ge::HttpResponse not_json;
    not_json.status = 200;
    not_json.body = "hello";
    CHECK(ge::parse_envelope(not_json, "GET x").error().detail ==
          "GET x: HTTP 200 but not an API envelope: hello");
    json with_messages = env(json::array({1}));
    with_messages["messages"] = {{{"code", 1}, {"message", "note"}}};
    auto good = ge::parse_envelope(ok_json(with_messages), "GET x");
    REQUIRE(good);
    CHECK(good->result == json::array({1}));
    CHECK(good->messages == std::vector<std::string>{"1: note"});
}

TEST_CASE("pagination: page numbers, total_count only, cursors") {
    FakeApi api;
    const std::string p = "/client/v4/accounts/a/gateway/rules";
    api.routes[p] = ok_json(env(json::array({{{"id", "r1"}}, {{"id", "r2"}}}),
                                {{"page", 1}, {"per_page", 2}, {"count", 2}, {"total_pages", 3}}));
    api.routes[p + "?page=2&per_page=2"] =
        ok_json(env(json::array({{{"id", "r3"}}, {{"id", "r4"}}}),
                    {{"page", 2}, {"per_page", 2}, {"count", 2}, {"total_pages", 3}}));
    api.routes[p + "?page=3&per_page=2"] = ok_json(
        env(json::array({{{"id", "r5"}}}), {{"page", 3}, {"per_page", 2}, {"total_pages", 3}}));
    auto c = ge::fetch_collection(api.getter(), p);
    REQUIRE_MESSAGE(c, (c ? "" : c.error().detail));
    CHECK(c->pages == 3);
    CHECK(c->items.size() == 5);
    CHECK(c->items[4]["id"] == "r5");

    // The list-items shape: total_count without total_pages, result as arrays of items.
    const std::string items = "/client/v4/accounts/a/gateway/lists/l1/items";
    api.routes[items] = ok_json(
        env(json::array({json::array({{{"value", "a.example"}}, {{"value", "b.example"}}})}),
            {{"page", 1}, {"per_page", 2}, {"count", 2}, {"total_count", 3}}));
    api.routes[items + "?page=2&per_page=2"] =
        ok_json(env(json::array({{{"value", "c.example"}}}),
                    {{"page", 2}, {"per_page", 2}, {"total_count", 3}}));
    auto it = ge::fetch_collection(api.getter(), items, true);
    REQUIRE_MESSAGE(it, (it ? "" : it.error().detail));
    CHECK(it->items ==
          json::array(
              {{{"value", "a.example"}}, {{"value", "b.example"}}, {{"value", "c.example"}}}));

    const std::string cur = "/client/v4/accounts/a/gateway/app_types";
    api.routes[cur] = ok_json(env(json::array({1, 2}), {{"cursor", "abc/+="}, {"per_page", 2}}));
    api.routes[cur + "?cursor=abc%2F%2B%3D&per_page=2"] =
        ok_json(env(json::array({3}), {{"cursors", {{"after", "next"}}}}));
    api.routes[cur + "?cursor=next"] = ok_json(env(json::array(), {{"cursor", ""}}));
    auto cc = ge::fetch_collection(api.getter(), cur);
    REQUIRE_MESSAGE(cc, (cc ? "" : cc.error().detail));
    CHECK(cc->items == json::array({1, 2, 3}));
    CHECK(cc->pages == 3);
}

TEST_CASE("pagination: a misbehaving server cannot loop the export") {
    FakeApi api;
    const std::string p = "/v4/x";
    // Ignores `page`: hands out page 1 again.
    api.routes[p] =
        ok_json(env(json::array({1}), {{"page", 1}, {"per_page", 1}, {"total_pages", 9}}));
    api.routes[p + "?page=2&per_page=1"] = api.routes[p];
    auto a = ge::fetch_collection(api.getter(), p);
    REQUIRE_FALSE(a);
    CHECK(a.error().detail ==
          "GET /v4/x?page=2&per_page=1: asked for page 2, the API answered page 1");
    // A cursor that does not move.
    api.routes["/v4/c"] = ok_json(env(json::array({1}), {{"cursor", "same"}}));
    api.routes["/v4/c?cursor=same"] = api.routes["/v4/c"];
    CHECK(ge::fetch_collection(api.getter(), "/v4/c").error().detail ==
          "GET /v4/c?cursor=same: the pagination cursor did not advance");
    // Claims more, delivers nothing.
    api.routes["/v4/e"] = ok_json(env(json::array(), {{"page", 1}, {"total_count", 5}}));
    CHECK(ge::fetch_collection(api.getter(), "/v4/e").error().detail ==
          "GET /v4/e: page 1 is empty, but result_info says more follow");
    // An error on a later page fails the whole collection.
    api.routes["/v4/f"] = ok_json(env(json::array({1}), {{"page", 1}, {"total_pages", 2}}));
    auto f = ge::fetch_collection(api.getter(), "/v4/f");
    REQUIRE_FALSE(f);
    CHECK(f.error().detail == "GET /v4/f?page=2: HTTP 404: error 7003: No route for /v4/f?page=2");
    api.routes["/v4/o"] = ok_json(env(json{{"id", 1}}));
    CHECK(ge::fetch_collection(api.getter(), "/v4/o").error().detail ==
          "GET /v4/o: result is not an array");
}

namespace {

/// A small account in the API's shapes: two lists whose items come from their own calls.
FakeApi sample_account() {
    FakeApi api;
    const std::string a = "/client/v4/accounts/acc1/gateway";
    api.routes[a + "/rules"] = ok_json(env(json::array(
        {{{"id", "r-block"},
          {"name", "Block listed"},
          {"precedence", 10},
          {"enabled", true},
          {"action", "block"},
          {"filters", {"dns"}},
          {"traffic", "any(dns.domains[*] in $11111111-2222-4333-8444-555555555555)"}},
         {{"id", "r-route"},
          {"name", "Route"},
          {"precedence", 20},
          {"enabled", true},
          {"action", "resolve"},
          {"filters", {"dns_resolver"}},
          {"traffic", "any(dns.domains[*] == \"corp.internal\")"},
          {"rule_settings",
           {{"dns_resolvers", {{"ipv4", {{{"ip", "127.0.0.1"}, {"port", 5354}}}}}}}}}})));
    api.routes[a + "/locations"] =
        ok_json(env(json::array({{{"id", "loc-1"},
                                  {"name", "HQ"},
                                  {"client_default", true},
                                  {"doh_subdomain", "hq1"},
                                  {"networks", {{{"network", "127.0.0.0/8"}}}}}})));
    api.routes[a + "/lists"] =
        ok_json(env(json::array({{{"id", "11111111-2222-4333-8444-555555555555"},
                                  {"name", "Blocked"},
                                  {"type", "DOMAIN"},
                                  {"count", 3}},
                                 {{"id", "66666666-2222-4333-8444-555555555555"},
                                  {"name", "Bad IPs"},
                                  {"type", "IP"},
                                  {"count", 1}}})));
    api.routes[a + "/lists/11111111-2222-4333-8444-555555555555/items"] =
        ok_json(env(json::array({json::array(
                        {{{"value", "blocked.example.com"}}, {{"value", "ads.example.net"}}})}),
                    {{"page", 1}, {"per_page", 2}, {"total_count", 3}}));
    api.routes[a + "/lists/11111111-2222-4333-8444-555555555555/items?page=2&per_page=2"] =
        ok_json(env(json::array({{{"value", "third.example.org"}, {"description", "p2"}}}),
                    {{"page", 2}, {"per_page", 2}, {"total_count", 3}}));
    api.routes[a + "/lists/66666666-2222-4333-8444-555555555555/items"] =
        ok_json(env(json::array({{{"value", "192.0.2.66"}}})));
    api.routes[a + "/categories"] = ok_json(env(json::array(
        {{{"id", 21},
          {"name", "Security threats"},
          {"subcategories", {{{"id", 117}, {"name", "Malware"}}, {{"id", 80}, {"name", "C2"}}}}},
         {{"id", 9},
          {"name", "Government & Politics"},
          {"subcategories", {{{"id", 137}, {"name", "Politics, Advocacy, and \"Gov\""}}}}},
         {{"id", 300}, {"name", "Future category"}}})));
    api.routes[a + "/app_types"] = ok_json(env(
        json::array({{{"id", 505}, {"name", "ChatGPT"}, {"application_type_id", 25}},
                     {{"id", 25}, {"name", "Artificial Intelligence"}, {"description", "AI"}}})));
    return api;
}

} // namespace

TEST_CASE("fetch_export: every call, list items merged across pages, a count mismatch stops it") {
    FakeApi api = sample_account();
    auto f = ge::fetch_export(api.getter(), "/client/v4", "acc1");
    REQUIRE_MESSAGE(f, (f ? "" : f.error().detail));
    CHECK(f->rules.items.size() == 2);
    CHECK(f->list_items == 4);
    CHECK(f->item_pages == 3);
    CHECK(f->requests == api.asked.size());
    CHECK(f->requests == 8);
    CHECK(f->lists.items[0]["items"].size() == 3);
    CHECK(f->lists.items[0]["items"][2]["value"] == "third.example.org");
    CHECK(f->lists.items[1]["items"][0]["value"] == "192.0.2.66");

    api.routes
        ["/client/v4/accounts/acc1/gateway/lists/66666666-2222-4333-8444-555555555555/items"] =
        ok_json(env(json::array()));
    auto changed = ge::fetch_export(api.getter(), "/client/v4", "acc1");
    REQUIRE_FALSE(changed);
    CHECK(changed.error().detail.find("list 66666666-2222-4333-8444-555555555555 (\"Bad IPs\"): "
                                      "the lists call says 1 items, its items call returned 0") !=
          std::string::npos);

    FakeApi broken = sample_account();
    broken.routes.erase("/client/v4/accounts/acc1/gateway/app_types");
    auto err = ge::fetch_export(broken.getter(), "/client/v4", "acc1");
    REQUIRE_FALSE(err);
    CHECK(err.error().detail ==
          "GET /client/v4/accounts/acc1/gateway/app_types: HTTP 404: error 7003: No route for "
          "/client/v4/accounts/acc1/gateway/app_types");
}

TEST_CASE("build_files: the folder the resolver loads as it is, with names and a manifest") {
    FakeApi api = sample_account();
    auto f = ge::fetch_export(api.getter(), "/client/v4", "acc1");
    REQUIRE(f);
    std::vector<std::string> warnings;
    const ge::ExportMeta meta{
        "acc1", "https://api.example/client/v4", "v4",
        std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))};
    auto files = ge::build_files(*f, meta, warnings);
    std::map<std::string, std::string> by;
    for (const auto& file : files) {
        by[file.path] = file.content;
    }
    for (const char* p : {"rules.json", "lists.json", "locations.json", "categories.json",
                          "category_ids.csv", "app_types.json", "resolver.toml", "scenario.toml",
                          "README.md", "zones/README.md", "manifest.json"}) {
        CHECK_MESSAGE(by.count(p) == 1, p);
    }
    CHECK(by["category_ids.csv"] == "id,name,parent\n"
                                    "9,Government & Politics,0\n"
                                    "21,Security threats,0\n"
                                    "80,C2,21\n"
                                    "117,Malware,21\n"
                                    "137,\"Politics, Advocacy, and \"\"Gov\"\"\",9\n");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("category 300 \"Future category\" is outside") == 0);
    auto m = json::parse(by["manifest.json"]);
    CHECK(m["schema"] == "dnslab.gateway-export.v1");
    CHECK(m["created"] == "2026-01-01T00:00:00Z");
    CHECK(m["account_id"] == "acc1");
    CHECK(m["api_versions_seen"] == json::array({"v4"}));
    CHECK(m["counts"] == json{{"rules", 2},
                              {"dns_rules", 1},
                              {"resolver_rules", 1},
                              {"locations", 1},
                              {"lists", 2},
                              {"list_items", 4},
                              {"categories", 2},
                              {"subcategories", 3},
                              {"applications", 1},
                              {"application_types", 1}});
    CHECK(m["pages"]["list_items"] == 3);
    CHECK(m["warnings"].size() == 1);
    CHECK(by["resolver.toml"].find("account_id = \"acc1\"") != std::string::npos);

    // The resolver's own loader takes the files as they are; the merged items are enforced.
    resolver::policy::PolicyTexts t;
    t.rules = by["rules.json"];
    t.lists = by["lists.json"];
    t.locations = by["locations.json"];
    t.category_ids = by["category_ids.csv"];
    auto set = resolver::policy::load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    CHECK((*set)->dns_rules.size() == 1);
    CHECK((*set)->resolver_rules.size() == 1);
    CHECK((*set)->categories.name_of(137) == "Politics, Advocacy, and \"Gov\"");
    const auto* list = (*set)->find_list("11111111-2222-4333-8444-555555555555");
    REQUIRE(list != nullptr);
}

TEST_CASE("write_folder: all or nothing, next to the destination") {
    const fs::path root =
        fs::temp_directory_path() / ("dnslab-export-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    const std::vector<ge::OutputFile> files = {{"a.json", "{}"}, {"zones/README.md", "x"}};
    REQUIRE(ge::write_folder(root / "out", files));
    CHECK(fs::exists(root / "out/a.json"));
    CHECK(fs::exists(root / "out/zones/README.md"));
    // A non-empty destination is never replaced or merged into.
    auto again = ge::write_folder(root / "out", {{"b.json", "{}"}});
    REQUIRE_FALSE(again);
    CHECK_FALSE(fs::exists(root / "out/b.json"));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(root)) {
        ++entries;
    }
    CHECK(entries == 1); // no *.partial-* folder left behind
    fs::remove_all(root);
}

TEST_CASE("run_export: bad usage is refused before any request") {
    std::ostringstream out, err;
    ge::ExportOptions o;
    o.account = "acc1";
    o.out = fs::temp_directory_path() / ("dnslab-export-usage-" + std::to_string(::getpid()));
    CHECK(ge::run_export(o, out, err) == 2);
    CHECK(err.str().find("CLOUDFLARE_API_TOKEN is not set") != std::string::npos);
    o.token = "tok with space";
    CHECK(ge::run_export(o, out, err) == 2);
    o.token = "secret-token";
    o.account = "../../x";
    CHECK(ge::run_export(o, out, err) == 2);
    o.account = "acc1";
    o.api_base = "http://api.example/client/v4";
    CHECK(ge::run_export(o, out, err) == 2);
    CHECK(err.str().find("--api-base must be an https:// URL") != std::string::npos);
    CHECK(err.str().find("secret-token") == std::string::npos);
    CHECK_FALSE(fs::exists(o.out));
}
