// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace resolver::telemetry {

/// Latency buckets in seconds, shared by every `_seconds` histogram: from 100 us (a cache hit
/// on loopback) to 5 s (past every upstream timeout the lab configures).
inline constexpr std::array<double, 15> kLatencyBounds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

/// A latency histogram as one loop keeps it: plain integers, no atomics (one writer, read on
/// the same loop by the scrape). Buckets are not cumulative here; the renderer sums them.
struct Histogram {
    std::array<std::uint64_t, kLatencyBounds.size() + 1> buckets{}; // last: above every bound
    double sum = 0;

    void observe(double seconds) noexcept {
        std::size_t i = 0;
        while (i < kLatencyBounds.size() && seconds > kLatencyBounds[i]) {
            ++i;
        }
        ++buckets[i];
        sum += seconds;
    }
    void merge(const Histogram& o) noexcept {
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            buckets[i] += o.buckets[i];
        }
        sum += o.sum;
    }
    [[nodiscard]] std::uint64_t count() const noexcept {
        std::uint64_t n = 0;
        for (auto b : buckets) {
            n += b;
        }
        return n;
    }
};

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

/// Writes the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): one
/// `# HELP` and `# TYPE` line per family, then its samples. The caller writes every sample
/// of a family right after family(), never a family twice (promtool rejects both).
class Exposition {
public:
    /// `type`: "counter", "gauge" or "histogram".
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, Labels labels, std::uint64_t value);
    void sample(std::string_view name, Labels labels, double value);
    /// `name`_bucket (cumulative, with le="+Inf"), `name`_sum and `name`_count.
    void histogram(std::string_view name, Labels labels, const Histogram& h);

    [[nodiscard]] std::string take() { return std::move(out_); }

private:
    void series(std::string_view name, Labels labels, std::string_view le = {});

    std::string out_;
};

/// A number as the format spells it: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

} // namespace resolver::telemetry
