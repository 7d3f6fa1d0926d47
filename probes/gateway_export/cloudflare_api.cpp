// SPDX-License-Identifier: MIT
#include "probes/gateway_export/cloudflare_api.hpp"

#include <cctype>
#include <cmath>
#include <optional>

namespace probes::gateway_export {
using json = nlohmann::ordered_json; // keeps the API's key order in the files written
using resolver::Errc;
using resolver::fail;

namespace {

/// The start of a body that is not an envelope, printable and short, for an error message.
std::string snippet(const std::string& body) {
    std::string out;
    for (unsigned char c : body.substr(0, 200)) {
        out += (std::isprint(c) != 0) ? static_cast<char>(c) : ' ';
    }
    return out + (body.size() > 200 ? "..." : "");
}

/// One entry of `errors[]` / `messages[]`: `{"code": 10000, "message": "..."}` (some APIs
/// send plain strings).
std::string message_text(const json& m, bool with_word) {
    if (m.is_string()) {
        return m.get<std::string>();
    }
    if (!m.is_object()) {
        return m.dump();
    }
    std::string out;
    if (auto c = m.find("code"); c != m.end() && !c->is_null()) {
        out = (with_word ? "error " : "") + (c->is_string() ? c->get<std::string>() : c->dump());
    }
    if (auto t = m.find("message"); t != m.end() && t->is_string()) {
        out += (out.empty() ? "" : ": ") + t->get<std::string>();
    }
    return out.empty() ? m.dump() : out;
}

std::string joined(const json& arr, bool with_word) {
    std::string out;
    if (arr.is_array()) {
        for (const auto& m : arr) {
            out += (out.empty() ? "" : "; ") + message_text(m, with_word);
        }
    }
    return out;
}

std::optional<std::int64_t> number(const json& info, const char* key) {
    auto it = info.find(key);
    if (it == info.end() || !it->is_number()) {
        return std::nullopt;
    }
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < 0 || v > 1e15) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(v);
}

std::string cursor_of(const json& info) {
    if (auto c = info.find("cursor"); c != info.end() && c->is_string()) {
        return c->get<std::string>();
    }
    if (auto cs = info.find("cursors"); cs != info.end() && cs->is_object()) {
        if (auto a = cs->find("after"); a != cs->end() && a->is_string()) {
            return a->get<std::string>();
        }
    }
    return {};
}

/// RFC 3986 §2.3: everything but unreserved characters percent-encoded.
std::string percent_encode(const std::string& s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

} // namespace

resolver::Result<ApiPage> parse_envelope(const HttpResponse& r, const std::string& what) {
    const json body = json::parse(r.body, nullptr, false);
    const bool envelope = body.is_object();
    const std::string errors = envelope ? joined(body.value("errors", json()), true) : "";
    if (r.status < 200 || r.status > 299) {
        std::string detail = what + ": HTTP " + std::to_string(r.status);
        if (!errors.empty()) {
            detail += ": " + errors;
        } else if (!r.body.empty()) {
            detail += ": " + snippet(r.body);
        } else if (!r.reason.empty()) {
            detail += " " + r.reason;
        }
        if (const std::string* after = r.header("retry-after"); after && r.status == 429) {
            detail += " (Retry-After: " + *after + ")"; // the Lists API's rate limit
        }
        return fail(Errc::UpstreamFailure, detail);
    }
    if (!envelope) {
        return fail(Errc::UpstreamFailure, what + ": HTTP " + std::to_string(r.status) +
                                               " but not an API envelope: " + snippet(r.body));
    }
    if (auto s = body.find("success"); s != body.end() && s->is_boolean() && !s->get<bool>()) {
        return fail(Errc::UpstreamFailure, what + ": the API answered success=false" +
                                               (errors.empty() ? std::string() : ": " + errors));
    }
    auto res = body.find("result");
    if (res == body.end() || res->is_null()) {
        return fail(Errc::UpstreamFailure, what + ": the envelope has no result");
    }
    ApiPage p;
    p.result = *res;
    p.result_info = body.value("result_info", json());
    if (auto m = body.find("messages"); m != body.end() && m->is_array()) {
        for (const auto& x : *m) {
            p.messages.push_back(message_text(x, false));
        }
    }
    return p;
}

resolver::Result<std::string> next_page_query(const json& info, std::size_t page_items,
                                              std::size_t collected,
                                              const std::string& previous_cursor) {
    if (!info.is_object()) {
        return std::string();
    }
    const auto per_page = number(info, "per_page");
    const std::string per = per_page ? "&per_page=" + std::to_string(*per_page) : "";
    if (const std::string cursor = cursor_of(info); !cursor.empty()) {
        if (cursor == previous_cursor) {
            return fail(Errc::UpstreamFailure, "the pagination cursor did not advance");
        }
        return "cursor=" + percent_encode(cursor) + per;
    }
    const auto page = number(info, "page");
    if (!page) {
        return std::string(); // neither cursor nor page number: one page
    }
    bool more = false;
    if (const auto total_pages = number(info, "total_pages")) {
        more = *page < *total_pages;
    } else if (const auto total = number(info, "total_count")) {
        more = static_cast<std::int64_t>(collected) < *total;
    }
    if (!more) {
        return std::string();
    }
    if (page_items == 0) {
        return fail(Errc::UpstreamFailure, "page " + std::to_string(*page) +
                                               " is empty, but result_info says more follow");
    }
    return "page=" + std::to_string(*page + 1) + per;
}

resolver::Result<Collection> fetch_collection(const Getter& get, const std::string& path,
                                              bool flatten, std::size_t max_pages) {
    Collection c;
    std::string query, cursor;
    std::int64_t want_page = 0; // the page number asked for; 0: not a numbered page
    for (;;) {
        const std::string target =
            query.empty() ? path : path + (path.find('?') == std::string::npos ? "?" : "&") + query;
        const std::string what = "GET " + target;
        auto resp = get(target);
        if (!resp) {
            return resolver::Error{resp.error().code, what + ": " + resp.error().detail};
        }
        auto page = parse_envelope(*resp, what);
        if (!page) {
            return page.error();
        }
        if (!page->result.is_array()) {
            return fail(Errc::UpstreamFailure, what + ": result is not an array");
        }
        if (want_page != 0 && page->result_info.is_object()) {
            // A server that ignores `page` would hand out page 1 forever.
            if (auto got = number(page->result_info, "page"); got && *got != want_page) {
                return fail(Errc::UpstreamFailure,
                            what + ": asked for page " + std::to_string(want_page) +
                                ", the API answered page " + std::to_string(*got));
            }
        }
        std::size_t items = 0;
        for (auto& el : page->result) {
            if (flatten && el.is_array()) {
                for (auto& inner : el) {
                    c.items.push_back(std::move(inner));
                    ++items;
                }
            } else {
                c.items.push_back(std::move(el));
                ++items;
            }
        }
        ++c.pages;
        c.messages.insert(c.messages.end(), page->messages.begin(), page->messages.end());
        auto next = next_page_query(page->result_info, items, c.items.size(), cursor);
        if (!next) {
            return fail(Errc::UpstreamFailure, what + ": " + next.error().detail);
        }
        if (next->empty()) {
            return c;
        }
        if (c.pages >= max_pages) {
            return fail(Errc::UpstreamFailure,
                        what + ": more than " + std::to_string(max_pages) + " pages");
        }
        cursor = cursor_of(page->result_info);
        want_page =
            next->starts_with("page=") ? number(page->result_info, "page").value_or(0) + 1 : 0;
        query = std::move(next).value();
    }
}

} // namespace probes::gateway_export
