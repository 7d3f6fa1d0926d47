// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "resolver/core/result.hpp"

namespace resolver::policy {

/// Parses a Gateway export (rules, locations, identities) into a DOM. Never throws for bad
/// text: every syntax error, and a number too large for a double (`1e400`, which
/// nlohmann-json reports as out_of_range.406), becomes Errc::ConfigInvalid naming the file,
/// the position, the item and the key:
///   `rules.json: line 1 column 73: rule #1 (id "r1") key "precedence": number 1e400 is out
///    of range (larger than a double)`
/// `item` names the elements of the top-level array (or of its `result`/`identities`
/// envelope): "rule", "location", "identity".
Result<nlohmann::json> parse_export_json(std::string_view text, std::string_view file,
                                         std::string_view item);

/// The error of a JSON text that does not parse, in parse_export_json's words (position,
/// item, key); "" when the text parses. Walks the text with nlohmann's SAX interface and
/// builds nothing, so the streamed lists loader can use it on a large export too.
std::string locate_json_error(std::string_view text, std::string_view file, std::string_view item);

/// A value of the wrong type in one item of an export; thrown by ObjectView, caught by the
/// loader's per-item guard, which prefixes the file and item (`rules.json: rule r1 ("x"): `).
struct FieldError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Typed, read-only access to one JSON object of an export. An absent key and `null` (the
/// Cloudflare API writes null for unset settings) read as "not given"; a key holding another
/// type throws FieldError naming the key path and what it holds:
///   `key "precedence": expected an integer, got string "10"`.
/// Viewing something that is not an object throws too (`expected an object, got array`).
class ObjectView {
public:
    /// `path` is the key path of `j` inside its item ("" for the item itself).
    ObjectView(const nlohmann::json& j, std::string path);

    [[nodiscard]] bool has(const char* key) const { return find(key) != nullptr; }
    [[nodiscard]] std::string str(const char* key, std::string def = {}) const;
    [[nodiscard]] bool boolean(const char* key, bool def) const;
    [[nodiscard]] std::optional<std::int64_t> integer(const char* key) const;
    /// The array under `key`, or nullptr when absent or null.
    [[nodiscard]] const nlohmann::json* array(const char* key) const;
    /// The object under `key`, or nullopt when absent or null.
    [[nodiscard]] std::optional<ObjectView> object(const char* key) const;
    /// The value under `key` of any type, or nullptr when absent or null.
    [[nodiscard]] const nlohmann::json* find(const char* key) const;
    /// "key" prefixed by this object's path: `rule_settings.override_ips`.
    [[nodiscard]] std::string path_of(const char* key) const;
    [[nodiscard]] const nlohmann::json& raw() const { return j_; }

private:
    [[noreturn]] void wrong_type(const char* key, const nlohmann::json& v,
                                 const char* expected) const;
    const nlohmann::json& j_;
    std::string path_;
};

/// `string "10"`, `number 5`, `array`, `object`: what a value is, for error messages (long
/// values are cut).
std::string describe_json(const nlohmann::json& v);

/// An element of an array that must be a string, or FieldError naming `path` and its index.
std::string string_element(const nlohmann::json& v, const std::string& path, std::size_t index);

/// The items of an export: a bare array, or the `key` array of an object (the API's
/// `{"success":…, "result": [...]}` envelope, a feeds file's `{"feeds": [...]}`); nullptr
/// when it is neither.
const nlohmann::json* unwrap(const nlohmann::json& doc, const char* key = "result");

/// Which Gateway export an item of an array looks like, by its keys: what tells a rules
/// file given as `--locations` (or the other way round) from a real one. The API objects
/// (developers.cloudflare.com/api/resources/zero_trust/subresources/gateway/): rules have
/// `traffic`/`action`/`filters`, locations `networks`/`client_default`/`doh_subdomain`,
/// lists `type`/`count`/`items`, categories `class`/`subcategories`, application types
/// `application_type_id`.
enum class ExportKind : std::uint8_t { Unknown, Rules, Locations, Lists, Categories, AppTypes };

/// "rules", "locations", "lists", "categories", "application types".
std::string_view export_kind_name(ExportKind k);
/// The kind one key of an item marks, or Unknown for keys every export has (id, name, ...).
ExportKind export_kind_of_key(std::string_view key);
/// The kind of one item: the kind its keys mark, Unknown when none or several do.
ExportKind export_kind_of(const nlohmann::json& item);

/// Tallies the kinds of an export's items (also fed key by key by the streamed lists loader)
/// and says when a file is the wrong export: no item looks like `expected` and at least one
/// looks like another kind. The error, with the flag the file was given to:
///   `rules.json looks like a Gateway rules export, expected a locations export (--locations)`
class ExportShape {
public:
    /// Counts one item by the set of kinds its keys marked (a bit per ExportKind).
    void add_item(unsigned kinds_seen);
    void add_item(const nlohmann::json& item);
    /// "" when the file may be the expected export.
    [[nodiscard]] std::string error(std::string_view file, ExportKind expected) const;
    /// The kind most items look like (Unknown when none looks like any).
    [[nodiscard]] ExportKind most_common() const;
    static unsigned bit(ExportKind k) { return 1U << static_cast<unsigned>(k); }

private:
    std::size_t counts_[6] = {};
};

/// The flag of each kind's file: "--rules", "--locations", "--lists" ("" for the others).
std::string_view export_kind_flag(ExportKind k);

/// Loads every element of an export's array with `load_one(element, index, where)`. `where`
/// starts as `<file>: <noun> #N`; load_one sharpens it (`<file>: rule r1 ("name")`) once it
/// has read the id. Whatever load_one throws (FieldError for a wrong type, nlohmann's
/// type_error, std::bad_alloc, ...) becomes an error naming the item: one bad item never ends
/// the process.
template <typename F>
Status each_item(const nlohmann::json& arr, std::string_view file, std::string_view noun,
                 F&& load_one) {
    std::size_t index = 0;
    for (const auto& element : arr) {
        ++index;
        std::string where =
            std::string(file) + ": " + std::string(noun) + " #" + std::to_string(index);
        Status st = ok();
        try {
            st = load_one(element, index, where);
        } catch (const std::bad_alloc&) {
            st = fail(Errc::ConfigInvalid, where + ": out of memory");
        } catch (const std::exception& e) {
            st = fail(Errc::ConfigInvalid, where + ": " + e.what());
        }
        if (!st) {
            return st;
        }
    }
    return ok();
}

} // namespace resolver::policy
