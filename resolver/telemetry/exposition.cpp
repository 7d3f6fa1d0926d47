// SPDX-License-Identifier: MIT
#include "resolver/telemetry/exposition.hpp"

#include <charconv>
#include <cmath>

namespace resolver::telemetry {
namespace {
/// HELP text escapes backslash and line feed; label values also escape the double quote.
void escape(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quote) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}
} // namespace

std::string format_value(double v) {
    if (std::isnan(v)) {
        return "NaN";
    }
    if (std::isinf(v)) {
        return v > 0 ? "+Inf" : "-Inf";
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    escape(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void Exposition::series(std::string_view name, Labels labels, std::string_view le) {
    out_ += name;
    if (labels.size() == 0 && le.empty()) {
        out_ += ' ';
        return;
    }
    out_ += '{';
    bool first = true;
    auto label = [&](std::string_view k, std::string_view v) {
        out_ += first ? "" : ",";
        first = false;
        out_ += k;
        out_ += "=\"";
        escape(out_, v, true);
        out_ += '"';
    };
    for (const auto& [k, v] : labels) {
        label(k, v);
    }
    if (!le.empty()) {
        label("le", le);
    }
    out_ += "} ";
}

void Exposition::sample(std::string_view name, Labels labels, std::uint64_t value) {
    series(name, labels);
    out_ += std::to_string(value);
    out_ += '\n';
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
    series(name, labels);
    out_ += format_value(value);
    out_ += '\n';
}

void Exposition::histogram(std::string_view name, Labels labels, const Histogram& h) {
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
        cumulative += h.buckets[i];
        series(bucket, labels, format_value(kLatencyBounds[i]));
        out_ += std::to_string(cumulative) + "\n";
    }
    cumulative += h.buckets.back();
    series(bucket, labels, "+Inf");
    out_ += std::to_string(cumulative) + "\n";
    sample(std::string(name) + "_sum", labels, h.sum);
    sample(std::string(name) + "_count", labels, cumulative);
}

} // namespace resolver::telemetry
