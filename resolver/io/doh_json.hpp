// SPDX-License-Identifier: MIT
#pragma once
#include "resolver/util/base64url.hpp"
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/wire/message.hpp"
#include "resolver/wire/presentation.hpp"

namespace resolver::io {

using util::base64url_decode; // RFC 8484 §4.1 `?dns=` (resolver/util/base64url.hpp)
using util::base64url_encode;

/// Percent-decodes a URL component ('+' stays '+': DoH parameters are not form-encoded,
/// and base64url never contains '+'). nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text);
/// Splits `a=1&b=2` into a map (first occurrence wins); values percent-decoded.
std::map<std::string, std::string> parse_query_string(std::string_view query);

/// Builds the DNS query the JSON API asks for (1.1.1.1's `?name=&type=&do=&cd=`): ID 0
/// (RFC 8484 §4.1), RD set, one question; `do` adds an OPT record with DO; `cd` sets CD.
/// `type` is a mnemonic or a number (default A). `do`/`cd` accept "", 0, false, 1, true.
/// The error detail is the text for the `{"error": ...}` body of the HTTP 400.
Result<wire::Message> json_query_from_params(const std::map<std::string, std::string>& params);

using wire::rdata_text; // resolver/wire/presentation.hpp

/// Renders a response in 1.1.1.1's application/dns-json shape: Status, TC, RD, RA, AD, CD,
/// Question[{name,type}], Answer/Authority/Additional[{name,type,TTL,data}] (omitted when
/// empty), Comment (one "EDE(code): text" string per Extended DNS Error, omitted when none).
/// Names are printed without the trailing dot, as 1.1.1.1 does; names inside data keep it.
std::string render_json(const wire::Message& response);

} // namespace resolver::io
