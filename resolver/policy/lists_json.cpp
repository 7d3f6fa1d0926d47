// SPDX-License-Identifier: MIT
// The lists export through nlohmann-json's SAX interface (see lists_json.hpp). Config loading
// only: runs at startup and reload, off the query path.
#include "resolver/policy/lists_json.hpp"

#include <nlohmann/json.hpp>

#include "resolver/policy/export_json.hpp"

#include <cstdint>
#include <cstring>

namespace resolver::policy {
namespace {

using nlohmann::json;

/// Builds the lists while nlohmann-json walks the text. Each open object or array pushes a
/// context; `field_` is the key just read in the innermost object (keys always precede
/// their values, so a stale field is overwritten before it is read again).
class ListsSax {
public:
    explicit ListsSax(std::string_view file) : file_(file) {}

    // --- the json_sax_t interface (nlohmann/detail/input/json_sax.hpp) ---------------------
    bool null() { return scalar(nullptr); }
    bool boolean(bool /*v*/) { return scalar(nullptr); }
    bool number_integer(json::number_integer_t v) {
        if (v > 0) {
            set_count(static_cast<std::uint64_t>(v));
        }
        return scalar(nullptr);
    }
    bool number_unsigned(json::number_unsigned_t v) {
        set_count(v);
        return scalar(nullptr);
    }
    bool number_float(json::number_float_t /*v*/, const json::string_t& /*s*/) {
        return scalar(nullptr);
    }
    bool string(json::string_t& v) { return scalar(&v); }
    bool binary(json::binary_t& /*v*/) { return scalar(nullptr); }
    bool start_object(std::size_t /*n*/) { return open(true); }
    bool start_array(std::size_t /*n*/) { return open(false); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(json::string_t& k) {
        field_ = Field::Other;
        switch (stack_.empty() ? Ctx::Skip : stack_.back()) {
        case Ctx::Envelope:
            if (k == "result") {
                field_ = Field::Result;
            }
            break;
        case Ctx::List:
            field_ = k == "id"      ? Field::Id
                     : k == "name"  ? Field::Name
                     : k == "type"  ? Field::Type
                     : k == "items" ? Field::Items
                     : k == "count" ? Field::Count
                                    : Field::Other;
            if (const ExportKind kind = export_kind_of_key(k); kind != ExportKind::Unknown) {
                kinds_ |= ExportShape::bit(kind);
            }
            break;
        case Ctx::Item:
            if (k == "value") {
                field_ = Field::Value;
            }
            break;
        default:
            break;
        }
        return true;
    }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& ex) {
        syntax_error_ = json_syntax_error(text_, file_, position, ex.what());
        return false;
    }

    // --- results ---------------------------------------------------------------------------
    void set_text(std::string_view text) { text_ = text; }
    [[nodiscard]] const std::string& syntax_error() const { return syntax_error_; }
    /// The first content error, or "" when the export is well-formed.
    [[nodiscard]] std::string content_error() const {
        if (!found_lists_) {
            return std::string(file_) +
                   ": expected a JSON array of lists or an API envelope with \"result\"";
        }
        // A rules or locations export given as the lists: its items would otherwise load as
        // empty DOMAIN lists (their ids are there) without a word.
        if (auto wrong = shape_.error(file_, ExportKind::Lists); !wrong.empty()) {
            return wrong;
        }
        return content_error_;
    }
    std::vector<std::unique_ptr<PolicyList>> take() { return std::move(done_); }

private:
    enum class Ctx : std::uint8_t { Envelope, Lists, List, Items, Item, Skip };
    enum class Field : std::uint8_t { Other, Result, Id, Name, Type, Items, Count, Value };

    void set_count(std::uint64_t v) {
        if (!stack_.empty() && stack_.back() == Ctx::List && field_ == Field::Count) {
            count_ = v;
        }
    }

    bool scalar(const json::string_t* s) {
        if (stack_.empty()) {
            return true; // a bare scalar document: found_lists_ stays false
        }
        switch (stack_.back()) {
        case Ctx::Lists:
            fail_content(": a list has no \"id\"");
            break;
        case Ctx::List:
            set_field(s);
            break;
        case Ctx::Items:
            if (s != nullptr) {
                add_item(*s);
            }
            break;
        case Ctx::Item:
            if (field_ == Field::Value) {
                item_value_.assign(s != nullptr ? std::string_view(*s) : std::string_view());
            }
            break;
        default:
            break;
        }
        return true;
    }

    bool open(bool object) {
        Ctx next = Ctx::Skip;
        if (stack_.empty()) {
            next = object ? Ctx::Envelope : Ctx::Lists;
            found_lists_ = !object;
        } else {
            switch (stack_.back()) {
            case Ctx::Envelope:
                if (!object && field_ == Field::Result) {
                    next = Ctx::Lists;
                    found_lists_ = true;
                }
                break;
            case Ctx::Lists:
                if (object) {
                    begin_list();
                    next = Ctx::List;
                } else {
                    fail_content(": a list has no \"id\"");
                }
                break;
            case Ctx::List:
                if (!object && field_ == Field::Items) {
                    next = Ctx::Items;
                } else {
                    set_field(nullptr); // a container where a string belongs
                }
                break;
            case Ctx::Items:
                if (object) {
                    item_value_.clear();
                    next = Ctx::Item;
                }
                break;
            case Ctx::Item:
                if (field_ == Field::Value) {
                    item_value_.clear();
                }
                break;
            case Ctx::Skip:
                break;
            }
        }
        stack_.push_back(next);
        return true;
    }

    bool close() {
        const Ctx c = stack_.back();
        stack_.pop_back();
        if (c == Ctx::List) {
            finish_list();
        } else if (c == Ctx::Item && !item_value_.empty()) {
            add_item(item_value_);
        }
        return true;
    }

    /// A value for the current key of a list object; nullptr = not a string.
    void set_field(const json::string_t* s) {
        const std::string_view v = s != nullptr ? std::string_view(*s) : std::string_view();
        switch (field_) {
        case Field::Id:
            if (cur_) {
                cur_->id.assign(v);
            }
            break;
        case Field::Name:
            if (cur_) {
                cur_->name.assign(v);
            }
            break;
        case Field::Type:
            if (!type_known_) {
                set_type(s != nullptr ? v : std::string_view("DOMAIN"));
            }
            break;
        default:
            break;
        }
    }

    void begin_list() {
        cur_ = std::make_unique<PolicyList>();
        kinds_ = 0;
        count_ = 0;
        items_ = 0;
        type_known_ = false;
        type_bad_.clear();
        item_error_.clear();
        buffered_.clear();
    }

    void set_type(std::string_view t) {
        type_known_ = true;
        if (t == "DOMAIN") {
            cur_->type = ListType::Domain;
        } else if (t == "IP") {
            cur_->type = ListType::Ip;
        } else if (t == "EMAIL") {
            cur_->type = ListType::Email;
        } else if (t == "URL") {
            cur_->type = ListType::Url;
        } else if (t == "SERIAL") {
            cur_->type = ListType::Serial;
        } else {
            type_bad_.assign(t);
            return;
        }
        // Items that came before "type": [u32 length][bytes]...
        std::string_view rest = buffered_;
        while (rest.size() >= sizeof(std::uint32_t)) {
            std::uint32_t len = 0;
            std::memcpy(&len, rest.data(), sizeof len);
            rest.remove_prefix(sizeof len);
            apply_item(rest.substr(0, len));
            rest.remove_prefix(len);
        }
        std::string().swap(buffered_);
    }

    void add_item(std::string_view v) {
        if (v.empty() || !content_error_.empty() || !cur_) {
            return;
        }
        ++items_;
        if (!type_known_) {
            const auto len = static_cast<std::uint32_t>(v.size());
            buffered_.append(reinterpret_cast<const char*>(&len), sizeof len);
            buffered_.append(v);
            return;
        }
        apply_item(v);
    }

    void apply_item(std::string_view v) {
        if (!type_bad_.empty() || !item_error_.empty()) {
            return; // reported when the list ends, once its id is known
        }
        switch (cur_->type) {
        case ListType::Domain:
            normalize_domain(v, name_);
            if (!cur_->domains.insert(name_)) {
                item_error_ = "bad domain \"" + std::string(v) + "\"";
            }
            break;
        case ListType::Ip:
            if (auto r = net::IpRange::parse_cidr(v)) {
                cur_->ips.add(*r);
            } else {
                item_error_ = "bad IP or CIDR \"" + std::string(v) + "\"";
            }
            break;
        default:
            cur_->other.emplace(v);
            break;
        }
    }

    void finish_list() {
        shape_.add_item(kinds_);
        if (!cur_ || !content_error_.empty()) {
            cur_.reset();
            return;
        }
        if (!type_known_) {
            set_type("DOMAIN");
        }
        // The DOM loader's order of checks: id, then type, then the first bad item.
        if (cur_->id.empty()) {
            fail_content(": a list has no \"id\"");
        } else if (!type_bad_.empty()) {
            fail_content(": list " + cur_->id + ": unknown type \"" + type_bad_ + "\"");
        } else if (!item_error_.empty()) {
            fail_content(": list " + cur_->id + ": " + item_error_);
        } else {
            // `count` without items: the lists call's answer, not an export with items. A
            // count with fewer items is left alone (the account may have changed between
            // the calls; gateway-export refuses that case itself).
            if (count_ > 0 && items_ == 0) {
                cur_->count_without_items = count_;
            }
            cur_->ips.seal();
            cur_->domains.shrink();
            done_.push_back(std::move(cur_));
        }
        cur_.reset();
    }

    /// Records the first content error and stops building; parsing goes on so that a later
    /// syntax error is the one reported, as with the DOM loader.
    void fail_content(const std::string& what) {
        if (content_error_.empty()) {
            content_error_ = std::string(file_) + what;
        }
        cur_.reset();
    }

    std::string_view file_;
    std::string_view text_;
    std::vector<Ctx> stack_;
    Field field_ = Field::Other;
    bool found_lists_ = false;

    std::unique_ptr<PolicyList> cur_;
    bool type_known_ = false;
    std::string type_bad_;    // the unknown type's text
    std::string item_error_;  // the list's first bad item
    std::string buffered_;    // items before "type"
    std::string item_value_;  // "value" of an {"value": …} item
    std::string name_;        // normalisation buffer, reused for every item
    std::uint64_t count_ = 0; // the list's "count"
    std::uint64_t items_ = 0; // items read (non-empty strings or values)
    unsigned kinds_ = 0;      // ExportShape bits of the list object's keys
    ExportShape shape_;

    std::string syntax_error_;
    std::string content_error_;
    std::vector<std::unique_ptr<PolicyList>> done_;
};

} // namespace

std::string json_syntax_error(std::string_view text, std::string_view what, std::size_t byte,
                              std::string_view detail) {
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
    return std::string(what) + ": line " + std::to_string(line) + " column " + std::to_string(col) +
           ": invalid JSON (" + std::string(detail) + ")";
}

Result<std::vector<std::unique_ptr<PolicyList>>> load_lists_json(std::string_view text,
                                                                 std::string_view file) {
    ListsSax sax(file);
    sax.set_text(text);
    // strict: trailing non-whitespace is an error, as with json::parse.
    const bool parsed = json::sax_parse(text.data(), text.data() + text.size(), &sax,
                                        json::input_format_t::json, true);
    if (!parsed) {
        // A second walk names the list and key, as the DOM loaders do (only on this path, so
        // a good million-item export pays nothing for it).
        std::string located = locate_json_error(text, file, "list");
        return fail(Errc::ConfigInvalid, located.empty() ? sax.syntax_error() : located);
    }
    if (auto err = sax.content_error(); !err.empty()) {
        return fail(Errc::ConfigInvalid, err);
    }
    return sax.take();
}

} // namespace resolver::policy
