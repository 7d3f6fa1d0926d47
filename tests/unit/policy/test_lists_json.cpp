// SPDX-License-Identifier: MIT
// The streamed (SAX) lists loader, the DomainTable it fills and the category CSV fast path:
// same lists and same error messages as the DOM loader they replaced.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "resolver/policy/lists_json.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;
namespace net = resolver::net;

TEST_SUITE_BEGIN("policy.lists_json");

namespace {

std::string load_error(const std::string& lists) {
    PolicyTexts t;
    t.lists = lists;
    auto r = load_policy_texts(t);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == resolver::Errc::ConfigInvalid);
    return r.error().detail;
}

} // namespace

TEST_CASE("lists stream in with keys in any order, envelopes and item shapes") {
    // Items before "type" and "id"; envelope keys around "result" (one holding its own
    // "result" that must not count); item objects with extra keys; non-string items skipped.
    const std::string text = R"j({
      "success": true, "errors": [], "messages": [{"result": [{"id": "decoy"}]}],
      "result_info": {"count": 4, "nested": [[1, 2], {"x": null}]},
      "result": [
        {"items": ["Www.Example.COM.", {"value": "ads.example.net", "created_at": "x",
                    "description": {"deep": [1]}}, 42, null, ["nested"], {"value": 7},
                    {"comment": "no value"}, ""],
         "count": 2, "type": "DOMAIN", "id": "d1", "name": "Domains", "extra": {"items": ["nope.example"]}},
        {"id": "i1", "type": "IP", "items": [{"value": "192.0.2.0/24"}, "2001:db8::1"]},
        {"id": "e1", "name": "Mail", "items": ["a@example.com", "b@example.com"], "type": "EMAIL"},
        {"id": "n1", "items": ["No-Type.Example"]}
      ]})j";
    auto lists = load_lists_json(text, "lists.json");
    REQUIRE_MESSAGE(lists, (lists ? "" : lists.error().detail));
    REQUIRE(lists->size() == 4);
    const PolicyList& d = *(*lists)[0];
    CHECK(d.id == "d1");
    CHECK(d.name == "Domains");
    CHECK(d.type == ListType::Domain);
    CHECK(d.size() == 2);
    CHECK(d.domains.contains("www.example.com"));
    CHECK(d.domains.contains("ads.example.net"));
    CHECK_FALSE(d.domains.contains("nope.example"));
    CHECK(d.domains.find_closest("a.b.ads.example.net")->name == "ads.example.net");
    const PolicyList& ip = *(*lists)[1];
    CHECK(ip.type == ListType::Ip);
    CHECK(ip.contains_ip(*net::IpAddr::parse("192.0.2.77")));
    CHECK(ip.contains_ip(*net::IpAddr::parse("2001:db8::1")));
    CHECK_FALSE(ip.contains_ip(*net::IpAddr::parse("192.0.3.1")));
    const PolicyList& mail = *(*lists)[2];
    CHECK(mail.type == ListType::Email);
    CHECK(mail.other.count("b@example.com") == 1);
    CHECK(mail.size() == 2);
    const PolicyList& untyped = *(*lists)[3];
    CHECK(untyped.type == ListType::Domain); // DOMAIN when "type" is absent
    CHECK(untyped.domains.contains("no-type.example"));

    // A bare array works the same, and the policy set keeps the last list of a repeated id.
    PolicyTexts t;
    t.lists = R"j([{"id":"x","items":["one.example"]},{"id":"x","items":["two.example"]}])j";
    auto set = load_policy_texts(t);
    REQUIRE(set);
    REQUIRE((*set)->find_list("x") != nullptr);
    CHECK((*set)->find_list("x")->contains_string("two.example"));
    CHECK_FALSE((*set)->find_list("x")->contains_string("one.example"));
}

TEST_CASE("lists errors keep the file, line/column and list id") {
    // Syntax: line and column of the offending byte.
    const std::string broken = "[\n {\"id\": \"l1\",\n  \"items\": [oops]}]";
    std::string e = load_error(broken);
    CHECK(e.rfind("lists: line 3 column 13: list #1 (id \"l1\") key \"items[0]\": invalid JSON "
                  "([json.exception.parse_error.101]",
                  0) == 0);
    // The same words as the DOM loaders for the same text, with their own item noun.
    PolicyTexts dom;
    dom.rules = broken;
    auto dom_error = load_policy_texts(dom);
    REQUIRE_FALSE(dom_error);
    const std::string list_ctx = "list #1";
    CHECK(dom_error.error().detail ==
          "rules" + e.substr(5).replace(e.find(list_ctx) - 5, list_ctx.size(), "rule #1"));
    // Trailing garbage is a syntax error too (strict parse).
    CHECK(load_error(R"([{"id":"l1"}] x)").find("invalid JSON") != std::string::npos);
    // A syntax error after a content error is the one reported (the whole text is parsed).
    e = load_error("[{\"id\":\"l1\",\"type\":\"IP\",\"items\":[\"bad\"]},\n{\"id\":}]");
    CHECK(e.find("lists: line 2 column") != std::string::npos);

    CHECK(load_error(R"({"success":true,"result":{"id":"l1"}})") ==
          "lists: expected a JSON array of lists or an API envelope with \"result\"");
    CHECK(load_error("42").find("expected a JSON array of lists") != std::string::npos);
    CHECK(load_error(R"([{"name":"anonymous","items":["a.example"]}])") ==
          "lists: a list has no \"id\"");
    CHECK(load_error(R"(["not-an-object"])") == "lists: a list has no \"id\"");
    CHECK(load_error(R"([{"id":17,"items":[]}])") == "lists: a list has no \"id\"");
    CHECK(load_error(R"([{"id":"l2","type":"HOST","items":["a.example"]}])") ==
          "lists: list l2: unknown type \"HOST\"");
    // The list id arrives after the bad item: still named, first bad item wins.
    const std::string long_name(300, 'a');
    CHECK(load_error(R"([{"items":["ok.example",")" + long_name + R"(","x"],"id":"l3"}])") ==
          "lists: list l3: bad domain \"" + long_name + "\"");
    CHECK(load_error(R"([{"id":"l4","items":[{"value":"10.0.0.0/33"}],"type":"IP"}])") ==
          "lists: list l4: bad IP or CIDR \"10.0.0.0/33\"");
    // Checks in the DOM loader's order: id before type before items.
    CHECK(load_error(R"([{"type":"HOST","items":[")" + long_name + R"("]}])") ==
          "lists: a list has no \"id\"");
}

TEST_CASE("DomainTable: growth, reservation, merged values, closest parent") {
    DomainTable grown;
    DomainTable reserved;
    reserved.reserve_more(5000, 5000 * 24);
    const std::uint8_t v[] = {7};
    for (int i = 0; i < 5000; ++i) {
        const std::string n = "h" + std::to_string(i) + ".example.com";
        REQUIRE(grown.insert(n, v));
        REQUIRE(reserved.insert(n));
    }
    CHECK(grown.size() == 5000);
    CHECK(reserved.size() == 5000);
    for (int i = 0; i < 5000; i += 7) {
        const std::string n = "h" + std::to_string(i) + ".example.com";
        REQUIRE(grown.find(n));
        CHECK((*grown.find(n))[0] == 7);
        CHECK(reserved.contains(n));
    }
    CHECK_FALSE(grown.contains("h5000.example.com"));
    CHECK_FALSE(grown.contains("example.com"));
    CHECK_FALSE(grown.find_closest("example.com"));
    CHECK(grown.find_closest("a.b.h42.example.com")->name == "h42.example.com");
    // A duplicate merges values instead of adding an entry.
    const std::uint8_t w[] = {9, 7};
    REQUIRE(grown.insert("h1.example.com", w));
    CHECK(grown.size() == 5000);
    auto merged = grown.find("h1.example.com");
    REQUIRE(merged);
    CHECK(std::vector<std::uint8_t>(merged->begin(), merged->end()) ==
          std::vector<std::uint8_t>{7, 9});
    CHECK_FALSE(grown.insert(std::string(256, 'x')));
    CHECK_FALSE(grown.insert(""));
    // Per entry: ~22-byte name records plus 8-byte slots at load <= 1/2.
    CHECK(grown.memory_bytes() < 5000 * 80);

    std::string buf = "stale contents";
    normalize_domain("WWW.Example.Org..", buf);
    CHECK(buf == "www.example.org");
    normalize_domain("", buf);
    CHECK(buf == ".");
}

TEST_CASE("category CSV: unquoted fast path and quoted rows agree") {
    PolicyTexts t;
    t.categories = "domain,categories,comment\n"
                   " Plain.Example , 117 \n"
                   "\"quoted.example\",\"99 117\"\r\n"
                   "\n"
                   "198.51.100.0/24,117\n"
                   "plain.example,80\n";
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const CategoryDb& c = (*set)->categories;
    CHECK(c.domain_count() == 2);
    CHECK(c.lookup("www.plain.example") == std::vector<std::int64_t>{21, 80, 117});
    CHECK(c.lookup("quoted.example") == std::vector<std::int64_t>{8, 21, 99, 117});
    CHECK(c.lookup_ip(*net::IpAddr::parse("198.51.100.9")) == std::vector<std::int64_t>{21, 117});

    for (auto [csv, needle] : {
             std::pair{"domain,categories\na.example,117,extra\n",
                       "line 2: expected domain,categories"},
             std::pair{"domain,categories\n\"a.example\",\"117\",\"x\"\n",
                       "line 2: expected domain,categories"},
             std::pair{"domain,categories\n ,117\n", "line 2: expected domain,categories"},
             std::pair{"domain,categories\nok.example,117\nb.example,117 x\n",
                       "line 3: bad category ID 'x'"},
             std::pair{"domain,categories\nok.example,256\n", "line 2: bad category ID '256'"},
             std::pair{"domain\nok.example\n", "line 1: expected header domain,categories"},
         }) {
        PolicyTexts bad;
        bad.categories = csv;
        auto r = load_policy_texts(bad);
        CAPTURE(csv);
        REQUIRE_FALSE(r);
        CHECK(r.error().detail.find(needle) != std::string::npos);
    }
}

TEST_SUITE_END();
