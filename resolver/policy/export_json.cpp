// SPDX-License-Identifier: MIT
// Gateway exports as JSON documents, and the errors they can produce. Start-up and reload
// only, off the query path.
#include "resolver/policy/export_json.hpp"

#include <cstdint>
#include <utility>
#include <vector>

namespace resolver::policy {

using nlohmann::json;

namespace {

/// Follows a SAX walk of a JSON text (one call per event) to say where an error hit: the open
/// arrays and objects, the key being read in each object and the "id" of each object seen
/// so far.
class JsonPath {
public:
    void on_value(); // a scalar (other than a string) starts
    void on_string(const std::string& v);
    void on_open(bool array);
    void on_close();
    void on_key(const std::string& k);
    /// `rule #2 (id "r2") key "rule_settings.override_ips[0]"`, `key "a.b"` outside the
    /// items, or "" at the top level. `item` names an element of the top-level array.
    [[nodiscard]] std::string context(std::string_view item) const;

private:
    struct Frame {
        bool array = false;
        std::size_t count = 0; // arrays: elements started so far
        std::string key;       // objects: the key just read
        std::string id;        // objects: the value of "id", once read
    };
    [[nodiscard]] std::string path_text(std::size_t from) const;
    std::vector<Frame> stack_;
};

std::string json_error_text(std::string_view text, std::string_view file, const JsonPath& path,
                            std::string_view item, std::size_t position,
                            const std::string& last_token, const nlohmann::json::exception& ex);

/// Walks text that failed to parse, to say where it failed: nlohmann's DOM parser throws
/// out_of_range.406 for `1e400` without a position or key, while its SAX interface hands
/// the byte offset to parse_error(). Runs only after a failed parse.
class Locator final : public nlohmann::json_sax<json> {
public:
    bool null() override { return value(); }
    bool boolean(bool /*v*/) override { return value(); }
    bool number_integer(number_integer_t /*v*/) override { return value(); }
    bool number_unsigned(number_unsigned_t /*v*/) override { return value(); }
    bool number_float(number_float_t /*v*/, const string_t& /*s*/) override { return value(); }
    bool string(string_t& v) override {
        path_.on_string(v);
        return true;
    }
    bool binary(binary_t& /*v*/) override { return value(); }
    bool start_object(std::size_t /*n*/) override {
        path_.on_open(false);
        return true;
    }
    bool start_array(std::size_t /*n*/) override {
        path_.on_open(true);
        return true;
    }
    bool end_object() override {
        path_.on_close();
        return true;
    }
    bool end_array() override {
        path_.on_close();
        return true;
    }
    bool key(string_t& k) override {
        path_.on_key(k);
        return true;
    }
    bool parse_error(std::size_t position, const std::string& last_token,
                     const nlohmann::detail::exception& ex) override {
        error_ = json_error_text(text_, file_, path_, item_, position, last_token, ex);
        return false;
    }

    Locator(std::string_view text, std::string_view file, std::string_view item)
        : text_(text), file_(file), item_(item) {}
    [[nodiscard]] const std::string& error() const { return error_; }

private:
    bool value() {
        path_.on_value();
        return true;
    }
    std::string_view text_;
    std::string_view file_;
    std::string_view item_;
    JsonPath path_;
    std::string error_;
};

std::string line_column(std::string_view text, std::size_t byte) {
    // json_syntax_error's arithmetic, without its "invalid JSON" wording.
    std::size_t line = 1;
    std::size_t col = 1;
    for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + " column " + std::to_string(col);
}

void JsonPath::on_value() {
    if (!stack_.empty() && stack_.back().array) {
        ++stack_.back().count;
    }
}

void JsonPath::on_open(bool array) {
    on_value();
    stack_.push_back(Frame{array, 0, {}, {}});
}

void JsonPath::on_close() {
    if (!stack_.empty()) {
        stack_.pop_back();
    }
}

void JsonPath::on_key(const std::string& k) {
    if (!stack_.empty()) {
        stack_.back().key = k;
    }
}

void JsonPath::on_string(const std::string& v) {
    if (!stack_.empty() && !stack_.back().array && stack_.back().key == "id") {
        stack_.back().id = v;
    }
    on_value();
}

std::string JsonPath::path_text(std::size_t from) const {
    std::string out;
    for (std::size_t i = from; i < stack_.size(); ++i) {
        const Frame& f = stack_[i];
        if (f.array) {
            // The innermost array's failing element has not been counted yet.
            const std::size_t n = i + 1 == stack_.size() ? f.count : f.count - 1;
            out += "[" + std::to_string(n) + "]";
        } else if (!f.key.empty()) {
            out += (out.empty() ? "" : ".") + f.key;
        }
    }
    return out;
}

std::string JsonPath::context(std::string_view item) const {
    // The items are the elements of the top-level array, or of the array under the
    // envelope's key (`{"result": [...]}`, `{"identities": [...]}`).
    const std::size_t at = !stack_.empty() && !stack_[0].array ? 1 : 0;
    if (at >= stack_.size() || !stack_[at].array) {
        const std::string p = path_text(0);
        return p.empty() ? "" : "key \"" + p + "\"";
    }
    // A container element was counted when it opened; a failing scalar was not.
    const Frame& items = stack_[at];
    const std::size_t n = at + 1 == stack_.size() ? items.count + 1 : items.count;
    std::string out = std::string(item) + " #" + std::to_string(n);
    if (at + 1 < stack_.size() && !stack_[at + 1].id.empty()) {
        out += " (id \"" + stack_[at + 1].id + "\")";
    }
    if (const std::string p = path_text(at + 1); !p.empty()) {
        out += " key \"" + p + "\"";
    }
    return out;
}

std::string json_error_text(std::string_view text, std::string_view file, const JsonPath& path,
                            std::string_view item, std::size_t position,
                            const std::string& last_token, const nlohmann::json::exception& ex) {
    std::string msg = std::string(file) + ": " + line_column(text, position) + ": ";
    if (const std::string ctx = path.context(item); !ctx.empty()) {
        msg += ctx + ": ";
    }
    // nlohmann's words for 406 are "number overflow parsing '1e400'".
    if (ex.id == 406) {
        return msg + "number " + last_token + " is out of range (larger than a double)";
    }
    return msg + "invalid JSON (" + ex.what() + ")";
}

} // namespace

std::string locate_json_error(std::string_view text, std::string_view file, std::string_view item) {
    Locator where(text, file, item);
    json::sax_parse(text.data(), text.data() + text.size(), &where, json::input_format_t::json,
                    true);
    return where.error();
}

Result<json> parse_export_json(std::string_view text, std::string_view file,
                               std::string_view item) {
    // allow_exceptions=false: a bad document comes back as a discarded value, never thrown.
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded()) {
        return doc;
    }
    std::string error = locate_json_error(text, file, item);
    return fail(Errc::ConfigInvalid,
                error.empty() ? std::string(file) + ": invalid JSON" : std::move(error));
}

std::string describe_json(const json& v) {
    switch (v.type()) {
    case json::value_t::object:
        return "an object";
    case json::value_t::array:
        return "an array";
    case json::value_t::string: {
        std::string s = v.dump();
        if (s.size() > 40) {
            s = s.substr(0, 37) + "...";
        }
        return "string " + s;
    }
    case json::value_t::boolean:
        return std::string("boolean ") + (v.get<bool>() ? "true" : "false");
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
        return "number " + v.dump();
    case json::value_t::null:
        return "null";
    default:
        return "a value of another type";
    }
}

ObjectView::ObjectView(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) {
        throw FieldError((path_.empty() ? std::string("expected an object")
                                        : "key \"" + path_ + "\": expected an object") +
                         ", got " + describe_json(j_));
    }
}

std::string ObjectView::path_of(const char* key) const {
    return path_.empty() ? std::string(key) : path_ + "." + key;
}

void ObjectView::wrong_type(const char* key, const json& v, const char* expected) const {
    throw FieldError("key \"" + path_of(key) + "\": expected " + expected + ", got " +
                     describe_json(v));
}

const json* ObjectView::find(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

std::string ObjectView::str(const char* key, std::string def) const {
    const json* v = find(key);
    if (v == nullptr) {
        return def;
    }
    if (!v->is_string()) {
        wrong_type(key, *v, "a string");
    }
    return v->get<std::string>();
}

bool ObjectView::boolean(const char* key, bool def) const {
    const json* v = find(key);
    if (v == nullptr) {
        return def;
    }
    if (!v->is_boolean()) {
        wrong_type(key, *v, "true or false");
    }
    return v->get<bool>();
}

std::optional<std::int64_t> ObjectView::integer(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX) {
        wrong_type(key, *v, "an integer up to 2^63-1");
    }
    if (!v->is_number_integer()) {
        wrong_type(key, *v, "an integer");
    }
    return v->get<std::int64_t>();
}

const json* ObjectView::array(const char* key) const {
    const json* v = find(key);
    if (v != nullptr && !v->is_array()) {
        wrong_type(key, *v, "an array");
    }
    return v;
}

std::optional<ObjectView> ObjectView::object(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (!v->is_object()) {
        wrong_type(key, *v, "an object");
    }
    return ObjectView(*v, path_of(key));
}

std::string string_element(const json& v, const std::string& path, std::size_t index) {
    if (!v.is_string()) {
        throw FieldError("key \"" + path + "[" + std::to_string(index) +
                         "]\": expected a string, got " + describe_json(v));
    }
    return v.get<std::string>();
}

const nlohmann::json* unwrap(const nlohmann::json& doc, const char* key) {
    if (doc.is_array()) {
        return &doc;
    }
    if (doc.is_object()) {
        auto it = doc.find(key);
        if (it != doc.end() && it->is_array()) {
            return &*it;
        }
    }
    return nullptr;
}

} // namespace resolver::policy

namespace resolver::policy {

std::string_view export_kind_name(ExportKind k) {
    switch (k) {
    case ExportKind::Rules:
        return "rules";
    case ExportKind::Locations:
        return "locations";
    case ExportKind::Lists:
        return "lists";
    case ExportKind::Categories:
        return "categories";
    case ExportKind::AppTypes:
        return "application types";
    case ExportKind::Unknown:
        break;
    }
    return "unknown";
}

std::string_view export_kind_flag(ExportKind k) {
    switch (k) {
    case ExportKind::Rules:
        return "--rules";
    case ExportKind::Locations:
        return "--locations";
    case ExportKind::Lists:
        return "--lists";
    default:
        return "";
    }
}

ExportKind export_kind_of_key(std::string_view key) {
    // Keys only one of the API objects has; id, name, description, created_at, ... are
    // shared and mark nothing.
    static constexpr std::pair<std::string_view, ExportKind> kKeys[] = {
        {"traffic", ExportKind::Rules},
        {"action", ExportKind::Rules},
        {"filters", ExportKind::Rules},
        {"rule_settings", ExportKind::Rules},
        {"precedence", ExportKind::Rules},
        {"networks", ExportKind::Locations},
        {"client_default", ExportKind::Locations},
        {"doh_subdomain", ExportKind::Locations},
        {"ecs_support", ExportKind::Locations},
        {"endpoints", ExportKind::Locations},
        {"ipv4_destination", ExportKind::Locations},
        {"type", ExportKind::Lists},
        {"count", ExportKind::Lists},
        {"items", ExportKind::Lists},
        {"subcategories", ExportKind::Categories},
        {"class", ExportKind::Categories},
        {"application_type_id", ExportKind::AppTypes},
    };
    for (const auto& [k, kind] : kKeys) {
        if (k == key) {
            return kind;
        }
    }
    return ExportKind::Unknown;
}

namespace {
unsigned kinds_of(const nlohmann::json& item) {
    unsigned bits = 0;
    if (item.is_object()) {
        for (const auto& [k, v] : item.items()) {
            if (const ExportKind kind = export_kind_of_key(k); kind != ExportKind::Unknown) {
                bits |= ExportShape::bit(kind);
            }
        }
    }
    return bits;
}
} // namespace

ExportKind export_kind_of(const nlohmann::json& item) {
    const unsigned bits = kinds_of(item);
    for (unsigned k = 1; k < 6; ++k) {
        if (bits == (1U << k)) {
            return static_cast<ExportKind>(k);
        }
    }
    return ExportKind::Unknown;
}

void ExportShape::add_item(unsigned kinds_seen) {
    // An item with keys of several kinds counts for each: the check must never refuse a
    // real export whose items carry a key another export also uses.
    for (unsigned k = 1; k < 6; ++k) {
        if ((kinds_seen & (1U << k)) != 0) {
            ++counts_[k];
        }
    }
}

void ExportShape::add_item(const nlohmann::json& item) {
    add_item(kinds_of(item));
}

ExportKind ExportShape::most_common() const {
    unsigned best = 0;
    for (unsigned k = 1; k < 6; ++k) {
        if (counts_[k] > counts_[best]) {
            best = k;
        }
    }
    return static_cast<ExportKind>(best);
}

std::string ExportShape::error(std::string_view file, ExportKind expected) const {
    if (counts_[static_cast<unsigned>(expected)] != 0) {
        return "";
    }
    const ExportKind found = most_common();
    if (found == ExportKind::Unknown) {
        return ""; // no item says what it is (empty objects, an empty array): load as given
    }
    std::string msg = std::string(file) + " looks like a Gateway " +
                      std::string(export_kind_name(found)) + " export, expected a " +
                      std::string(export_kind_name(expected)) + " export";
    if (const auto flag = export_kind_flag(expected); !flag.empty()) {
        msg += " (" + std::string(flag) + ")";
    }
    if (const auto flag = export_kind_flag(found); !flag.empty()) {
        msg += "; give it as " + std::string(flag);
    }
    return msg;
}

} // namespace resolver::policy
