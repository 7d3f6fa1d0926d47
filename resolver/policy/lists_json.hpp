// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/policy/lists.hpp"

namespace resolver::policy {

/// Streams a Gateway lists export into lists, without building a JSON document: items go
/// straight from nlohmann-json's SAX parser into each list's DomainTable / net::IpSet / string
/// set, through one reused name buffer (a DOM costs a heap node and a string per item, all
/// built and then freed again: issue 4's million-name load has to fit in 2 s).
///
/// Accepts what the DOM loader accepted: a JSON array of lists or the API envelope
/// `{"success": …, "result": [...]}`; each list `{id, name, type, items}` with keys in any
/// order (items before `type` or `id` are buffered until the list ends), items as strings
/// or `{"value": …}` objects, unknown keys and non-string items skipped, `type` DOMAIN when
/// absent. (With a key repeated inside one object, the first `type` decides how items
/// that follow it are read; RFC 8259 §4 leaves duplicate names to the implementation.)
///
/// Errors (Errc::ConfigInvalid) are the DOM loader's, word for word:
///   `<file>: line L column C: invalid JSON (…)` — a syntax error wins over any other, as
///     the whole text is parsed before a content error is reported;
///   `<file>: expected a JSON array of lists or an API envelope with "result"`;
///   `<file>: a list has no "id"`, `<file>: list <id>: unknown type "X"`,
///   `<file>: list <id>: bad domain "x"` / `bad IP or CIDR "x"` (the first bad item).
/// On success the lists are returned in file order (a repeated id: the caller keeps the
/// last, as before).
Result<std::vector<std::unique_ptr<PolicyList>>> load_lists_json(std::string_view text,
                                                                 std::string_view file);

/// `<what>: line L column C: invalid JSON (<detail>)`, L and C 1-based, computed from the
/// byte offset nlohmann-json reports (the offset just past the offending character).
std::string json_syntax_error(std::string_view text, std::string_view what, std::size_t byte,
                              std::string_view detail);

} // namespace resolver::policy
