// SPDX-License-Identifier: MIT
#pragma once
#include <string>

namespace resolver::tls {

/// Empties OpenSSL's thread-local error queue into one line, short reasons ("wrong version
/// number") joined by "; ": what users search for. "" when the queue was empty. Every TLS
/// error path (server context, lab CA, client) reports through this.
std::string drain_openssl_errors();

/// `what` followed by ": <queued errors>" when OpenSSL queued any.
std::string with_openssl_errors(std::string what);

} // namespace resolver::tls
