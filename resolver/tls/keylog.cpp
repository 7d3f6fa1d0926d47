// SPDX-License-Identifier: MIT
#include "resolver/tls/keylog.hpp"

#include <cstdio>
#include <cstdlib>

namespace resolver::tls {
namespace {
void write_line(const SSL* /*ssl*/, const char* line) {
    const char* path = std::getenv("SSLKEYLOGFILE");
    if (path == nullptr || *path == '\0') {
        return;
    }
    if (FILE* f = std::fopen(path, "a"); f != nullptr) {
        std::fprintf(f, "%s\n", line);
        std::fclose(f);
    }
}
} // namespace

void enable_keylog(SSL_CTX* ctx) {
    const char* path = std::getenv("SSLKEYLOGFILE");
    if (path != nullptr && *path != '\0') {
        SSL_CTX_set_keylog_callback(ctx, &write_line);
    }
}

} // namespace resolver::tls
