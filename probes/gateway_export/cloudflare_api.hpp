// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/gateway_export/http1_response.hpp"
#include "resolver/core/result.hpp"

namespace probes::gateway_export {

/// One response of Cloudflare's v4 API, unwrapped from its envelope
/// (developers.cloudflare.com/fundamentals/api/: `{"success", "errors": [{"code","message"}],
/// "messages", "result", "result_info"}`).
struct ApiPage {
    nlohmann::ordered_json result;      // array or object
    nlohmann::ordered_json result_info; // null when the response has none
    std::vector<std::string> messages;
};

/// Reads one response. A non-2xx status, `"success": false`, a body that is not an envelope
/// or a `result` that is missing is an Error whose detail states the call and what the API
/// said, as the API said it: `GET /accounts/x/gateway/rules: HTTP 403: error 10000:
/// Authentication error; error 9109: ...` (every entry of `errors[]`, code and message), or
/// the start of the body when it is not JSON. HTTP 429 adds the Retry-After value.
resolver::Result<ApiPage> parse_envelope(const HttpResponse& r, const std::string& what);

/// The query string of the page after `page` (without "?"), or "" when `page` was the last.
/// Cloudflare's list calls paginate in two documented shapes, both read here:
///   - page numbers: result_info {page, per_page, count, total_count, total_pages}; the next
///     page is `page=N+1&per_page=P` while page < total_pages, or, without total_pages, while
///     fewer than total_count items were collected;
///   - cursors: result_info {cursor} or {cursors: {after}}; the next page is `cursor=C`
///     (with `per_page` when the API stated one) while a non-empty cursor comes back.
/// A response without result_info is one page. `collected` counts every item so far.
/// Errors (a stuck cursor, a page that says there is more but holds nothing) keep a
/// misbehaving server from looping the export.
resolver::Result<std::string> next_page_query(const nlohmann::ordered_json& result_info,
                                              std::size_t page_items, std::size_t collected,
                                              const std::string& previous_cursor);

/// Fetches a GET with the given origin-form target (base path included).
using Getter = std::function<resolver::Result<HttpResponse>(const std::string& target)>;

/// Every item of a list call, page after page.
struct Collection {
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    std::size_t pages = 0;
    std::vector<std::string> messages; // `messages[]` of every page, as text
};

/// GETs `path` and every following page (next_page_query), concatenating the `result`
/// arrays; with `flatten`, array elements that are arrays themselves are spliced in (the
/// list-items call documents `result` as an array of item arrays, and is seen as a flat
/// array too). A `result` that is not an array is an error. Stops after `max_pages`.
resolver::Result<Collection> fetch_collection(const Getter& get, const std::string& path,
                                              bool flatten = false, std::size_t max_pages = 100000);

} // namespace probes::gateway_export
