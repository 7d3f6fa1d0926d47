// SPDX-License-Identifier: MIT
#pragma once
#include <openssl/ssl.h>

namespace resolver::tls {

/// When the environment has SSLKEYLOGFILE, appends every session's secrets to that file in
/// the NSS key log format, so Wireshark can decrypt a capture. Call on every SSL_CTX, server
/// and client. The file is opened per line (handshakes are rare), so no state is kept.
void enable_keylog(SSL_CTX* ctx);

} // namespace resolver::tls
