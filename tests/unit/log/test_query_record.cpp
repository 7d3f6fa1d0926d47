// SPDX-License-Identifier: MIT
// The gateway_dns record: every one of the dataset's 82 fields (docs/gateway_dns_fields.json)
// in every record with its documented type, and the values the lab knows filled from the
// QueryContext, the identity map, the geo and category tables and the [log] constants.
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "resolver/log/query_record.hpp"
#include "tests/unit/stages/stage_lab.hpp"
#include "tests/unit/support/source_tree.hpp"

using namespace stage_lab;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    REQUIRE_MESSAGE(in, p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The dataset's field list, read from the one place it is kept.
const json& dataset_fields() {
    static const json fields = [] {
        auto doc = json::parse(slurp(test_support::source_root() / "docs/gateway_dns_fields.json"));
        return doc.at("fields");
    }();
    return fields;
}

bool has_type(const json& v, const std::string& type) {
    auto all = [&](auto&& pred) { return v.is_array() && std::all_of(v.begin(), v.end(), pred); };
    if (type == "string") {
        return v.is_string();
    }
    if (type == "int") {
        return v.is_number_integer();
    }
    if (type == "bool") {
        return v.is_boolean();
    }
    if (type == "int or string") {
        return v.is_number_integer() || v.is_string();
    }
    if (type == "array[string]") {
        return all([](const json& e) { return e.is_string(); });
    }
    if (type == "array[int]") {
        return all([](const json& e) { return e.is_number_integer(); });
    }
    if (type == "array[object]") {
        return all([](const json& e) { return e.is_object(); });
    }
    FAIL("unknown type in docs/gateway_dns_fields.json: " << type);
    return false;
}

/// Every dataset field present with its type; every other field is a Lab field.
void check_shape(const json& rec) {
    std::set<std::string> names;
    for (const auto& f : dataset_fields()) {
        const std::string name = f.at("name");
        names.insert(name);
        CAPTURE(name);
        REQUIRE(rec.contains(name));
        if (name == "RCode" && rec.value("LabDropped", false)) {
            CHECK(rec[name].is_null()); // nothing sent: no RCODE (docs/query-log.md)
            continue;
        }
        CHECK_MESSAGE(has_type(rec[name], f.at("type")), rec[name].dump());
    }
    CHECK(names.size() == 82);
    for (const auto& [k, v] : rec.items()) {
        CAPTURE(k);
        CHECK((names.count(k) == 1 || k.starts_with("Lab")));
    }
}

json record(const Outcome& o) {
    return json::parse(resolver::log::render_query_record(*o.ctx));
}

/// The sample export with an identity map and [log] constants.
stages::PolicySnapshotPtr policy_with_identities(const std::string& rules = "") {
    const auto fx = test_support::fixtures_dir();
    policy::PolicyTexts t;
    t.rules = rules.empty() ? slurp(fx / "policy/rules.json") : rules;
    t.lists = slurp(fx / "policy/lists.json");
    t.locations = slurp(fx / "policy/locations.json");
    t.categories = slurp(fx / "categories/categories.csv");
    t.category_ids = slurp(fx / "categories/ids.csv");
    t.geo = slurp(fx / "geo/geo.csv");
    t.identities = R"([
        {"token": "tok-ada", "email": "ada@example.com", "name": "Ada",
         "user_id": "5a1e0000-0000-4000-8000-000000000001",
         "device_id": "dad71818-0429-11ec-a0dc-000000000001", "device_name": "Laptop MB810",
         "registration_id": "dad71818-0429-11ec-a0dc-0000000000aa"},
        {"source_ip": "192.0.2.0/24", "email": "office@example.com"}
    ])";
    auto set = policy::load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    auto snap = std::make_shared<stages::PolicySnapshot>();
    snap->set = std::move(set).value();
    snap->generation = 1;
    snap->site.account_id = "699d98642c564d2e855e9661899b7252";
    snap->site.colo_code = "SJC";
    snap->site.colo_id = 46;
    snap->site.tenant_id = "tenant-7";
    snap->site.team_name = "acme";
    snap->site.instance = 0xabcdef0123456789ULL;
    return snap;
}

net::TransportInfo doh_with_token(const std::string& token) {
    auto t = stream(net::Transport::Https);
    t.http_authorization = token;
    return t;
}

/// Decodes standard base64 (the test's own decoder, independent of the renderer's).
std::vector<std::uint8_t> unbase64(const std::string& s) {
    static const std::string abc =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::vector<std::uint8_t> out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        if (c == '=') {
            break;
        }
        const auto v = abc.find(c);
        REQUIRE(v != std::string::npos);
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

/// Parses one stand-alone wire record by wrapping it in a message with ANCOUNT 1.
wire::ResourceRecord parse_record_bytes(const std::vector<std::uint8_t>& bytes) {
    std::vector<std::uint8_t> msg = {0, 0, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    msg.insert(msg.end(), bytes.begin(), bytes.end());
    auto parsed = wire::parse({msg.data(), msg.size()});
    REQUIRE_MESSAGE(parsed, parsed.failure.reason);
    REQUIRE(parsed.message->answer.size() == 1);
    return parsed.message->answer[0];
}

} // namespace

TEST_CASE("gateway_dns record: all 82 fields with their types, whatever the outcome") {
    Lab lab(policy_with_identities());
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN CNAME edge.example.net.",
                            "edge.example.net. 300 IN A 192.0.2.80"}));
    lab.upstream("badip.example.com", wire::rrtype::A,
                 answering({"badip.example.com. 300 IN A 192.0.2.66"}));
    std::vector<Outcome> outs;
    outs.push_back(lab.run(query("www.example.com")));             // allowed, upstream
    outs.push_back(lab.run(query("www.example.com")));             // cache hit
    outs.push_back(lab.run(query("blocked.example.com")));         // pre-resolution block
    outs.push_back(lab.run(query("badip.example.com")));           // post-resolution block
    outs.push_back(lab.run(query("portal.example.com")));          // override
    outs.push_back(lab.run(query("corp.internal")));               // resolver policy, timeout
    outs.push_back(lab.run_bytes({0x12, 0x34, 0x01, 0x00, 0x00})); // too short: dropped
    outs.push_back(lab.run_bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7})); // FORMERR
    for (std::size_t i = 0; i < outs.size(); ++i) {
        CAPTURE(i);
        check_shape(record(outs[i]));
    }
    CHECK(record(outs[6]).value("LabDropped", false));
    CHECK(record(outs[7])["RCode"] == 1);
}

TEST_CASE("gateway_dns record: the values the lab knows") {
    Lab lab(policy_with_identities());
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN CNAME edge.example.net.",
                            "edge.example.net. 300 IN A 192.0.2.80",
                            "edge.example.net. 300 IN A 203.0.113.9"}));
    auto rec = record(lab.run(query("www.example.com"), doh_with_token("tok-ada")));
    // Site constants from [log].
    CHECK(rec["AccountID"] == "699d98642c564d2e855e9661899b7252");
    CHECK(rec["ColoCode"] == "SJC");
    CHECK(rec["ColoID"] == 46);
    CHECK(rec["TenantID"] == "tenant-7");
    CHECK(rec["QueryID"] == "abcdef01234567890000000000000001");
    // Identity from the map, by token.
    CHECK(rec["Email"] == "ada@example.com");
    CHECK(rec["UserID"] == "5a1e0000-0000-4000-8000-000000000001");
    CHECK(rec["DeviceID"] == "dad71818-0429-11ec-a0dc-000000000001");
    CHECK(rec["DeviceName"] == "Laptop MB810");
    CHECK(rec["RegistrationID"] == "dad71818-0429-11ec-a0dc-0000000000aa");
    // Names.
    CHECK(rec["QueryName"] == "www.example.com");
    CHECK(rec["QueryNameReversed"] == "com.example.www");
    CHECK(rec["CNAMEs"] == json{"edge.example.net"});
    CHECK(rec["CNAMEsReversed"] == json{"net.example.edge"});
    // Geo: 127.0.0.1 is CH/EU in fixtures/geo; one code per resolved IP.
    CHECK(rec["SrcIPCountryCode"] == "CH");
    CHECK(rec["SrcIPContinentCode"] == "EU");
    CHECK(rec["ResolvedIPs"] == json{"192.0.2.80", "203.0.113.9"});
    CHECK(rec["ResolvedIPCountryCodes"] == json{"US", "DE"});
    CHECK(rec["ResolvedIPContinentCodes"] == json{"NA", "EU"});
    CHECK(rec["InitialResolvedIPs"] == json{"192.0.2.80", "203.0.113.9"});
    // Categories: example.com is 155 Technology, its parent 26 Technology too.
    CHECK(rec["InitialCategoryIDs"] == json{26, 155});
    CHECK(rec["InitialCategoryNames"] == json{"Technology", "Technology"});
    CHECK(rec["QueryCategoryNames"].size() == rec["QueryCategoryIDs"].size());
    CHECK(rec["CNAMECategoryNames"].size() == rec["CNAMECategoryIDs"].size());
    // Records: base64 wire records that parse back to the answer, and the JSON text.
    REQUIRE(rec["ResourceRecords"].size() == 3);
    CHECK(rec["ResourceRecords"][0]["type"] == "5");
    CHECK(rec["ResourceRecords"][1]["type"] == "1");
    auto cname = parse_record_bytes(unbase64(rec["ResourceRecords"][0]["data"]));
    CHECK(cname.name.to_gateway_text() == "www.example.com");
    CHECK(cname.type == wire::rrtype::CNAME);
    CHECK(wire::rdata_target(cname)->to_gateway_text() == "edge.example.net");
    auto a = parse_record_bytes(unbase64(rec["ResourceRecords"][2]["data"]));
    CHECK(wire::address_text(a) == "203.0.113.9");
    CHECK(rec["RData"] == rec["ResourceRecords"]);
    auto rrs = json::parse(rec["ResourceRecordsJSON"].get<std::string>());
    CHECK(rrs[0] == json{{"name", "www.example.com"},
                         {"type", "CNAME"},
                         {"class", "IN"},
                         {"ttl", 300},
                         {"rdata", "edge.example.net."}});
    CHECK(rrs[2]["rdata"] == "203.0.113.9");
    // No schedule, no block page, scripted server is no address.
    CHECK(rec["TimeZone"] == "");
    CHECK(rec["TimeZoneInferredMethod"] == "");
    CHECK(rec["RedirectTargetURI"] == "");
    CHECK(rec["AuthoritativeNameServerIPs"] == json::array());
    // No application catalogue, no indicator feeds, no Internal DNS here: present, empty.
    CHECK(rec["ApplicationID"] == 0);
    CHECK(rec["QueryIndicatorFeedIDs"] == json::array());
    CHECK(rec["InternalDNSViewID"] == "");
    // The Lab* fields stay.
    CHECK(rec["LabAnswerSource"] == "upstream");
    CHECK(rec["LabQueryID"] == 1);
}

TEST_CASE("gateway_dns record: identity by source address, and the non-identity user") {
    Lab lab(policy_with_identities());
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.80"}));
    auto office = record(lab.run(query("www.example.com"), udp_from("192.0.2.7")));
    CHECK(office["Email"] == "office@example.com");
    CHECK(office["UserID"] == "");
    CHECK(office["SrcIPCountryCode"] == "US");
    CHECK(office["SrcIPContinentCode"] == "NA");
    auto anon = record(lab.run(query("www.example.com"), udp_from("127.0.0.9")));
    CHECK(anon["Email"] == "non_identity@acme.cloudflareaccess.com");
    CHECK(anon["DeviceID"] == "");
    CHECK(anon["QueryID"] != office["QueryID"]);
    CHECK(anon["IsResponseCached"] == true);
}

TEST_CASE("gateway_dns record: InitialResolvedIPs keeps the upstream's addresses of a block") {
    Lab lab(policy_with_identities());
    lab.upstream("badip.example.com", wire::rrtype::A,
                 answering({"badip.example.com. 300 IN A 192.0.2.66"}));
    auto rec = record(lab.run(query("badip.example.com")));
    CHECK(rec["ResolverDecision"] == "blockedRule");
    CHECK(rec["ResolvedIPs"] == json{"0.0.0.0"});
    CHECK(rec["InitialResolvedIPs"] == json{"192.0.2.66"});
    CHECK(rec["Policy"] == rec["PolicyID"]);
    // A pre-resolution block asks nobody: nothing was resolved.
    auto pre = record(lab.run(query("blocked.example.com")));
    CHECK(pre["InitialResolvedIPs"] == json::array());
    CHECK(pre["ResolvedIPCountryCodes"] == json{""}); // 0.0.0.0 has no country
}

TEST_CASE("gateway_dns record: AuthoritativeNameServerIPs is the server of an AA answer") {
    Lab lab(policy_with_identities());
    Script aa = answering({"www.example.com. 300 IN A 192.0.2.80"});
    aa.server = "192.0.2.53:53";
    lab.upstream("www.example.com", wire::rrtype::A, aa);
    Script recursive = answering({"www.example.net. 300 IN A 192.0.2.81"});
    recursive.server = "[2001:db8::53]:53";
    recursive.tamper = [](wire::Message& m) { m.set_flag(wire::kFlagAa, false); };
    lab.upstream("www.example.net", wire::rrtype::A, recursive);
    Script v6 = answering({"mail.example.net. 300 IN A 192.0.2.82"});
    v6.server = "[2001:db8::53]:853";
    lab.upstream("mail.example.net", wire::rrtype::A, v6);
    CHECK(record(lab.run(query("www.example.com")))["AuthoritativeNameServerIPs"] ==
          json{"192.0.2.53"});
    CHECK(record(lab.run(query("www.example.com")))["AuthoritativeNameServerIPs"] ==
          json{"192.0.2.53"}); // from the cache, which remembers the server
    CHECK(record(lab.run(query("www.example.net")))["AuthoritativeNameServerIPs"] == json::array());
    CHECK(record(lab.run(query("mail.example.net")))["AuthoritativeNameServerIPs"] ==
          json{"2001:db8::53"});
}

TEST_CASE("gateway_dns record: TimeZone of a scheduled rule, RedirectTargetURI of a block page") {
    Lab lab(policy_with_identities());
    lab.clock().advance(7h); // Wednesday 2024-07-03 17:00 UTC = 19:00 in Paris: in schedule
    auto casino = record(lab.run(query("casino.example.com")));
    CHECK(casino["PolicyName"] == "Block gambling in the evening");
    CHECK(casino["TimeZone"] == "Europe/Paris");
    CHECK(casino["TimeZoneInferredMethod"] == "fromRule");

    const std::string rules = R"({"success": true, "result": [
        {"id": "r-redirect", "name": "Redirect", "precedence": 1, "enabled": true,
         "action": "block", "filters": ["dns"], "traffic": "dns.fqdn == \"go.example.com\"",
         "rule_settings": {"block_page_enabled": true,
                           "block_page": {"target_uri": "https://blocked.example.org/why"}}},
        {"id": "r-plain", "name": "Plain", "precedence": 2, "enabled": true,
         "action": "block", "filters": ["dns"], "traffic": "dns.fqdn == \"no.example.com\"",
         "rule_settings": {"block_page": {"target_uri": "https://blocked.example.org/off"}}},
        {"id": "r-utc", "name": "Nightly", "precedence": 3, "enabled": true,
         "action": "block", "filters": ["dns"], "traffic": "dns.fqdn == \"utc.example.com\"",
         "schedule": {"wed": "00:00-24:00"}}]})";
    Lab custom(policy_with_identities(rules));
    auto go = record(custom.run(query("go.example.com")));
    CHECK(go["RedirectTargetURI"] == "https://blocked.example.org/why");
    // The block page is off: no redirect is shown, whatever the URI says.
    CHECK(record(custom.run(query("no.example.com")))["RedirectTargetURI"] == "");
    auto utc = record(custom.run(query("utc.example.com")));
    CHECK(utc["PolicyID"] == "r-utc");
    CHECK(utc["TimeZone"] == "UTC");
    CHECK(utc["TimeZoneInferredMethod"] == "fromLocalTime");
}

TEST_CASE("gateway_dns record: the root and names with escaped dots reverse by labels") {
    Lab lab(policy_with_identities());
    lab.upstream(".", wire::rrtype::NS, answering({". 300 IN NS a.root-servers.net."}));
    auto root = record(lab.run(query(".", wire::rrtype::NS)));
    CHECK(root["QueryName"] == ".");
    CHECK(root["QueryNameReversed"] == ".");
    lab.upstream("a\\.b.example.com", wire::rrtype::A, answering({}));
    auto escaped = record(lab.run(query("a\\.b.example.com")));
    CHECK(escaped["QueryNameReversed"] == "com.example.a\\.b");
}

TEST_CASE("docs/query-log.md lists every dataset field with its type") {
    const std::string doc = slurp(test_support::source_root() / "docs/query-log.md");
    for (const auto& f : dataset_fields()) {
        const std::string name = f.at("name");
        const std::string row = "| `" + name + "` | " + f.at("type").get<std::string>() + " |";
        CHECK_MESSAGE(doc.find(row) != std::string::npos, row);
    }
}
