// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace resolver::log {

/// Appends compact JSON to a string. Minimal and allocation-light: the query log writes one
/// object per query on the loop thread. The caller keeps the nesting balanced.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(std::int64_t v);
    JsonWriter& value(std::uint64_t v);
    JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
    JsonWriter& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
    JsonWriter& value(double v);
    JsonWriter& null();
    /// Inserts already-serialized JSON verbatim.
    JsonWriter& raw(std::string_view json);

    template <typename T>
    JsonWriter& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }
    template <typename T>
    JsonWriter& array_field(std::string_view k, const std::vector<T>& items) {
        key(k);
        begin_array();
        for (const auto& i : items) {
            value(i);
        }
        return end_array();
    }

    static void escape(std::string& out, std::string_view s);

private:
    JsonWriter& open(char c);
    JsonWriter& close(char c);
    void separator();

    std::string& out_;
    bool need_comma_ = false;
};

} // namespace resolver::log
