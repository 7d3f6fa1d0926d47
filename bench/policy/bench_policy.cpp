// SPDX-License-Identifier: MIT
// Policy engine benchmark (issue 4 targets): load 1,000,000 domains into a DOMAIN list plus
// 1,000,000 category rows and 500 rules through the production loader, then time
// evaluate_pre per query. Prints load time, resident bytes per domain and ns per query.
// Usage: bench_policy [domains] [queries]
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "resolver/attribution/location.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;

namespace {

/// CPU seconds of this process: on a shared machine the wall clock also counts time spent
/// waiting for a core, so the benchmark prints both.
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0;
    long resident = 0;
    statm >> pages >> resident;
    return resident * sysconf(_SC_PAGESIZE);
}

std::string domain(std::size_t i) {
    // Realistic-looking names of ~20 bytes: label + number + one of a few TLDs.
    static constexpr const char* kTlds[] = {"com", "net", "org", "io", "co.uk"};
    return "host" + std::to_string(i * 2654435761U % 100000000U) + ".example-" +
           std::to_string(i % 977) + "." + kTlds[i % 5];
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000000;
    const std::size_t queries = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 200000;

    PolicyTexts t;
    t.lists.reserve(n * 40);
    t.lists =
        R"([{"id":"11111111-2222-3333-4444-555555555555","name":"big","type":"DOMAIN","items":[)";
    for (std::size_t i = 0; i < n; ++i) {
        t.lists += (i == 0 ? "\"" : ",\"") + domain(i) + "\"";
    }
    t.lists += "]}]";
    t.categories = "domain,categories\n";
    for (std::size_t i = 0; i < n; ++i) {
        t.categories += "c" + domain(i) + "," + std::to_string(i % 2 ? 117 : 99) + "\n";
    }
    t.locations = R"([{"id":"loc","name":"L","networks":[{"network":"127.0.0.0/24"}]}])";
    t.rules = "[";
    for (int r = 0; r < 499; ++r) {
        std::string traffic;
        switch (r % 4) {
        case 0:
            traffic = "dns.fqdn == \\\"rule" + std::to_string(r) + ".example.com\\\"";
            break;
        case 1:
            traffic = "any(dns.domains[*] in {\\\"r" + std::to_string(r) +
                      ".example.net\\\" \\\"x" + std::to_string(r) + ".example.org\\\"})";
            break;
        case 2:
            traffic = "any(dns.content_category[*] in {" + std::to_string(200 + r % 50) + "})";
            break;
        default:
            traffic = "dns.query_rtype == \\\"TXT\\\" and dns.fqdn matches r\\\"^z" +
                      std::to_string(r) + "\\\\.\\\"";
            break;
        }
        t.rules += (r == 0 ? "" : ",") + std::string("{\"id\":\"r") + std::to_string(r) +
                   "\",\"precedence\":" + std::to_string(r + 1) +
                   ",\"action\":\"block\",\"filters\":[\"dns\"],\"traffic\":\"" + traffic + "\"}";
    }
    t.rules +=
        R"j(,{"id":"list","precedence":1000,"action":"block","filters":["dns"],"traffic":"any(dns.domains[*] in $11111111-2222-3333-4444-555555555555)"}])j";

    const long rss_before = rss_bytes();
    const double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    auto set = load_policy_texts(t);
    auto t1 = std::chrono::steady_clock::now();
    const double load_cpu = cpu_seconds() - c0;
    if (!set) {
        std::fprintf(stderr, "load failed: %s\n", set.error().detail.c_str());
        return 1;
    }
    // Drop the input texts so RSS reflects the loaded structures.
    std::string().swap(t.rules);
    std::string().swap(t.lists);
    std::string().swap(t.categories);
    const long rss_after = rss_bytes();
    const PolicySet& s = **set;
    const auto* list = s.find_list("11111111-2222-3333-4444-555555555555");
    const double load_s = std::chrono::duration<double>(t1 - t0).count();
    const std::size_t structure =
        list->domains.memory_bytes() + s.categories.table().memory_bytes();
    std::printf("load: %zu list domains + %zu category rows + %zu rules in %.3f s (%.3f s CPU)\n",
                n, n, s.dns_rules.size(), load_s, load_cpu);
    std::printf("memory: tables %.1f B/domain; RSS delta %.1f B/domain (after freeing inputs)\n",
                static_cast<double>(structure) / static_cast<double>(2 * n),
                static_cast<double>(rss_after - rss_before) / static_cast<double>(2 * n));

    std::vector<std::string> names;
    std::mt19937 rng(42);
    for (std::size_t i = 0; i < 4096; ++i) {
        switch (i % 3) {
        case 0:
            names.push_back("www." + domain(rng() % n)); // list hit via a parent
            break;
        case 1:
            names.push_back("c" + domain(rng() % n)); // category hit
            break;
        default:
            names.push_back("miss" + std::to_string(rng()) + ".example.com");
            break;
        }
    }
    Behaviour b;
    EvalOptions opt{1720000800, false};
    std::size_t blocked = 0;
    const double ec0 = cpu_seconds();
    auto e0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < queries; ++i) {
        QueryFacts q;
        q.qname = names[i % names.size()];
        q.qtype = resolver::wire::rrtype::A;
        q.location = &s.locations.locations[0];
        auto ev = evaluate_pre(s, q, b, opt);
        blocked += ev.blocked() ? 1 : 0;
    }
    auto e1 = std::chrono::steady_clock::now();
    const double ns =
        std::chrono::duration<double, std::nano>(e1 - e0).count() / static_cast<double>(queries);
    const double cpu_ns = (cpu_seconds() - ec0) * 1e9 / static_cast<double>(queries);
    std::printf("evaluate_pre: %.0f ns/query (%.0f ns CPU) over %zu queries (%zu blocked)\n", ns,
                cpu_ns, queries, blocked);
    std::printf("targets: load < 2 s %s, < 100 B/domain %s, < 2000 ns/query %s\n",
                load_s < 2 ? "OK" : "MISSED", structure < 100 * 2 * n ? "OK" : "MISSED",
                ns < 2000 ? "OK" : "MISSED");
    return 0;
}
