// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace resolver::policy {

/// Splits one CSV line into fields (RFC 4180 quoting with "" escapes; no embedded newlines).
std::vector<std::string> split_csv_line(std::string_view line);

/// Calls `fn(line_number, line)` for each non-empty line (CR stripped), 1-based numbers.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
            continue;
        }
        if (!fn(line_no, line)) {
            return;
        }
    }
}

} // namespace resolver::policy
