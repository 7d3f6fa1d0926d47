// SPDX-License-Identifier: MIT
#include "resolver/tls/errors.hpp"

#include <openssl/err.h>

namespace resolver::tls {

std::string drain_openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        // Prefer the short reason ("wrong version number"), which is what users search for.
        const char* reason = ERR_reason_error_string(e);
        if (!out.empty()) {
            out += "; ";
        }
        out += reason != nullptr ? reason : buf;
    }
    return out;
}

std::string with_openssl_errors(std::string what) {
    if (std::string queued = drain_openssl_errors(); !queued.empty()) {
        what += ": " + queued;
    }
    return what;
}

} // namespace resolver::tls
