// SPDX-License-Identifier: MIT
#include "resolver/fault/live_plan.hpp"

#include <algorithm>

namespace resolver::fault {

Result<std::shared_ptr<LivePlan>> LivePlan::create(std::string_view inline_spec, std::string file,
                                                   Site site, std::string owner) {
    auto inline_rules = FaultPlan::parse_inline(inline_spec);
    if (!inline_rules) {
        return fail(Errc::ConfigInvalid, owner + ": " + inline_rules.error().detail);
    }
    std::shared_ptr<LivePlan> live(
        new LivePlan(std::move(inline_rules).value(), std::move(file), site, std::move(owner)));
    auto plan = live->build();
    if (!plan) {
        return plan.error();
    }
    live->current_ = std::move(plan).value();
    return live;
}

bool LivePlan::in(const std::map<std::string, std::string>& params) {
    return params.count("fault") != 0 || params.count("faults") != 0;
}

Result<std::shared_ptr<LivePlan>> LivePlan::take_from(std::map<std::string, std::string>& params,
                                                      Site site, std::string owner,
                                                      LivePlans* registry) {
    auto take = [&](const char* key) {
        std::string value;
        if (auto it = params.find(key); it != params.end()) {
            value = std::move(it->second);
            params.erase(it);
        }
        return value;
    };
    const std::string spec = take("fault");
    auto plan = create(spec, take("faults"), site, std::move(owner));
    if (plan && registry != nullptr) {
        registry->add(*plan);
    }
    return plan;
}

Result<FaultPlan> LivePlan::build() const {
    FaultPlan plan = inline_;
    if (!file_.empty()) {
        auto from_file = FaultPlan::load_toml(file_);
        if (!from_file) {
            return fail(Errc::ConfigInvalid, owner_ + ": " + from_file.error().detail);
        }
        for (const auto& rule : from_file->rules()) {
            plan.add(rule);
        }
    }
    if (auto st = plan.check_site(site_); !st) {
        return fail(Errc::ConfigInvalid, owner_ + ": " + st.error().detail);
    }
    return plan;
}

Status LivePlan::reload() {
    auto plan = build();
    if (!plan) {
        return plan.error();
    }
    current_ = std::move(plan).value();
    return ok();
}

Status LivePlan::replace(FaultPlan plan) {
    if (auto st = plan.check_site(site_); !st) {
        return fail(Errc::ConfigInvalid, owner_ + ": " + st.error().detail);
    }
    current_ = std::move(plan);
    return ok();
}

void LivePlans::add(const std::shared_ptr<LivePlan>& plan) {
    if (plan && !plan->file().empty()) {
        plans_.push_back(plan);
    }
}

std::vector<LivePlans::Outcome> LivePlans::reload_all() {
    std::vector<Outcome> out;
    std::erase_if(plans_, [](const auto& w) { return w.expired(); });
    for (const auto& weak : plans_) {
        auto plan = weak.lock();
        auto st = plan->reload();
        out.push_back({plan->owner(), plan->file(), st ? std::string() : st.error().detail});
    }
    return out;
}

} // namespace resolver::fault
