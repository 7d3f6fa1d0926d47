// SPDX-License-Identifier: MIT
// The category inputs (resolver/policy/categories.cpp): the `domain,categories` CSV (with IP
// and CIDR rows) and the `id,name,parent` ID table CSV, loaded as load_policy_texts does. The
// first input byte picks the file: even = domain CSV over the built-in IDs, odd = ID table
// followed by a fixed domain CSV. Asserted: an error names the file; a lookup returns sorted,
// unique IDs that are in the ID table.
#include <algorithm>
#include <cstdint>
#include <string>

#include "resolver/policy/load.hpp"
#include "resolver/net/ip.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace resolver::policy;

namespace {
void check_ids(const CategoryDb& db, const std::vector<std::int64_t>& ids, std::string_view what) {
    FUZZ_CHECK(std::is_sorted(ids.begin(), ids.end()) &&
                   std::adjacent_find(ids.begin(), ids.end()) == ids.end(),
               "lookup(" + std::string(what) + ") is not sorted and unique");
    for (auto id : ids) {
        FUZZ_CHECK(id > 0 && id < 256, "lookup(" + std::string(what) + ") gave ID " +
                                           std::to_string(id) + " " + db.name_of(id));
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const bool id_table = (data[0] & 1) != 0;
    const std::string text(fuzz::as_text(data + 1, size - 1));
    PolicyTexts texts;
    if (id_table) {
        texts.category_ids = text;
        texts.categories = "domain,categories\nexample.com,1\n";
    } else {
        texts.categories = text;
    }
    auto set = load_policy_texts(texts);
    if (!set) {
        const char* file = id_table ? "category ids" : "categories";
        // With a custom ID table the fixed domain CSV may name an ID the table lacks.
        const bool named = set.error().detail.rfind(file, 0) == 0 ||
                           (id_table && set.error().detail.rfind("categories", 0) == 0);
        FUZZ_CHECK(named, "an error that does not name the file: " + set.error().detail);
        return 0;
    }
    const CategoryDb& db = (*set)->categories;
    for (std::string_view name : {"example.com", "www.example.com", "com", ".", "", "a.b.c.d.e"}) {
        check_ids(db, db.lookup(name), name);
    }
    for (std::string_view ip : {"192.0.2.1", "2001:db8::1", "0.0.0.0", "255.255.255.255"}) {
        check_ids(db, db.lookup_ip(*resolver::net::IpAddr::parse(ip)), ip);
    }
    for (std::int64_t id = 0; id < 257; ++id) {
        (void)db.is_security(id);
        (void)db.name_of(id);
    }
    return 0;
}
