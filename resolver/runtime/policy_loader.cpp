// SPDX-License-Identifier: MIT
#include "resolver/runtime/policy_loader.hpp"

#include <algorithm>
#include <vector>

#include "resolver/policy/load.hpp"
#include "resolver/util/load_guard.hpp"

namespace resolver::runtime {

namespace {

stages::SiteConstants site_constants(const config::Config::LogConstants& l,
                                     std::uint64_t instance) {
    stages::SiteConstants s;
    s.account_id = l.account_id.value_or(s.account_id);
    s.tenant_id = l.tenant_id.value_or(s.tenant_id);
    s.colo_code = l.colo_code.value_or(s.colo_code);
    s.colo_id = l.colo_id.value_or(s.colo_id);
    s.team_name = l.team_name.value_or(s.team_name);
    s.instance = instance;
    return s;
}

Result<stages::PolicySnapshotPtr> load_unguarded(const config::Config& cfg,
                                                 std::uint64_t generation, std::uint64_t instance) {
    auto behaviour = policy::parse_behaviour_toml(cfg.behaviour_toml);
    if (!behaviour) {
        return fail(Errc::ConfigInvalid, "[behaviour] " + behaviour.error().detail);
    }
    if (!cfg.gateway_domain.empty()) {
        behaviour->gateway_domain = cfg.gateway_domain;
    }
    if (cfg.max_ttl_secs != 0 && (cfg.max_ttl_secs < 60 || cfg.max_ttl_secs > 36000)) {
        return fail(Errc::ConfigInvalid,
                    "[policy] max_ttl_secs must be 0 (none) or 60..36000 (Gateway's range)");
    }
    policy::PolicyFiles files;
    files.rules = cfg.rules_file;
    files.lists = cfg.lists_file;
    files.locations = cfg.locations_file;
    files.categories = cfg.categories_file;
    files.geo = cfg.geo_file;
    files.mmdb = cfg.mmdb_file;
    files.identities = cfg.identities_file;
    files.applications = cfg.applications_file;
    files.app_types = cfg.app_types_file;
    files.indicator_feeds = cfg.indicator_feeds_file;
    files.category_ids = cfg.category_ids_file;
    // The same [behaviour] the snapshot carries: the rules compile as the evaluator reads them.
    files.expressions = behaviour->expression_options();
    auto set = policy::load_policy(files);
    if (!set) {
        return set.error();
    }
    if (cfg.policy_strict) {
        // Every warning counts except the rules of other filters (http, l4), which a DNS
        // resolver never runs, on Gateway either.
        std::vector<const std::string*> fatal;
        std::size_t skipped = 0;
        for (const auto& w : (*set)->warnings) {
            const auto& sk = (*set)->skipped_rules;
            auto it = std::find_if(sk.begin(), sk.end(),
                                   [&](const policy::SkippedRule& s) { return s.warning == w; });
            if (it != sk.end() && it->other_filter()) {
                continue;
            }
            skipped += it != sk.end() ? 1 : 0;
            fatal.push_back(&w);
        }
        if (!fatal.empty()) {
            std::string why = "[policy] strict: " + std::to_string(fatal.size()) +
                              " loader warning(s), " + std::to_string(skipped) +
                              " rule(s) skipped:";
            for (const auto* w : fatal) {
                why += "\n  " + *w;
            }
            return fail(Errc::ConfigInvalid, std::move(why));
        }
    }
    auto snap = std::make_shared<stages::PolicySnapshot>();
    snap->set = std::move(set).value();
    snap->behaviour = std::move(behaviour).value();
    snap->generation = generation;
    snap->account_max_ttl = cfg.max_ttl_secs;
    snap->site = site_constants(cfg.log, instance);
    snap->routes.internal_views = cfg.internal_views;
    for (const auto& [zone, id] : cfg.internal_zones) {
        std::string name = zone;
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        while (!name.empty() && name.back() == '.') {
            name.pop_back();
        }
        snap->routes.internal_zones[name] = id;
    }
    snap->routes.default_vnet = cfg.default_vnet;
    snap->routes.vnets = cfg.vnets;
    return stages::PolicySnapshotPtr(std::move(snap));
}
} // namespace

Result<stages::PolicySnapshotPtr>
load_policy_snapshot(const config::Config& cfg, std::uint64_t generation, std::uint64_t instance) {
    // Every loader below guards itself; this is the last line for anything they missed, so
    // neither start-up, `explain` nor a SIGHUP reload can end in std::terminate.
    return util::guard_load("policy", [&] { return load_unguarded(cfg, generation, instance); });
}

} // namespace resolver::runtime
