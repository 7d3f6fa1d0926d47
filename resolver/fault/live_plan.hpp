// SPDX-License-Identifier: MIT
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/fault/plan.hpp"

namespace resolver::fault {

class LivePlans;

/// The fault plan of one upstream or listener, switchable while the resolver runs: the inline
/// rules (`fault=SPEC`, fixed) come first, then the rules of the TOML file (`faults=FILE`),
/// which reload() reads again. Loop-thread only: readers take current() per query, so a
/// switch applies to queries arriving after it.
class LivePlan {
public:
    /// Parses both sources and checks them against `site`. `owner` names the upstream or
    /// listener URL in errors and reload reports.
    static Result<std::shared_ptr<LivePlan>> create(std::string_view inline_spec, std::string file,
                                                    Site site, std::string owner);
    /// create() from the `fault=` and `faults=` URL parameters, which are removed from
    /// `params` (the rest describes the upstream or listener itself). A file-backed plan is
    /// added to `registry` (may be null) so SIGHUP re-reads it.
    static Result<std::shared_ptr<LivePlan>> take_from(std::map<std::string, std::string>& params,
                                                       Site site, std::string owner,
                                                       LivePlans* registry);
    /// True when `params` hold `fault=` or `faults=`.
    static bool in(const std::map<std::string, std::string>& params);

    [[nodiscard]] const FaultPlan& current() const noexcept { return current_; }
    /// Re-reads the file. On any error the plan in force stays and the error says why.
    Status reload();
    /// Replaces the whole plan (inline and file rules), for programs embedding the lab.
    Status replace(FaultPlan plan);

    [[nodiscard]] const std::string& file() const noexcept { return file_; }
    [[nodiscard]] const std::string& owner() const noexcept { return owner_; }

private:
    LivePlan(FaultPlan inline_rules, std::string file, Site site, std::string owner)
        : inline_(std::move(inline_rules)), file_(std::move(file)), site_(site),
          owner_(std::move(owner)) {}
    Result<FaultPlan> build() const;

    FaultPlan inline_;
    std::string file_;
    Site site_;
    std::string owner_;
    FaultPlan current_;
};

/// Every file-backed LivePlan of one resolver, so that SIGHUP re-reads them all. Holds weak
/// references: an upstream that goes away (a resolver-policy group rebuilt on a policy
/// reload) drops out by itself.
class LivePlans {
public:
    /// Remembers `plan` when it has a file to re-read.
    void add(const std::shared_ptr<LivePlan>& plan);

    struct Outcome {
        std::string owner;
        std::string file;
        std::string error; // empty: switched to the file's current rules
    };
    std::vector<Outcome> reload_all();
    [[nodiscard]] bool empty() const noexcept { return plans_.empty(); }

private:
    std::vector<std::weak_ptr<LivePlan>> plans_;
};

} // namespace resolver::fault
