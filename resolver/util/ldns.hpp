// SPDX-License-Identifier: MIT
#pragma once
// ldns/common.h defines `bool`, `true` and `false` as macros unless stdbool.h was seen first,
// which breaks C++ headers included later (e.g. <optional>'s operator<=>). Always include
// ldns through this header.
#include <stdbool.h> // NOLINT(modernize-deprecated-headers): must precede ldns
#include <ldns/ldns.h>

#include <cstddef>
#include <string_view>

namespace resolver::util {

/// Whether the fields ldns decoded from a record are exactly `rdata`. ldns_wire2rr decodes a
/// type's fields and ignores RDATA left over after them (an A record with RDLENGTH 12 reads
/// as its first 4 bytes), and follows name compression pointers in types it knows to hold
/// names: rendering such a record as ldns text would show data that was not sent.
inline bool ldns_rdata_is(const ldns_rr* rr, std::string_view rdata) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
        const std::size_t n = ldns_rdf_size(rdf);
        if (n > rdata.size() - at ||
            rdata.compare(at, n, reinterpret_cast<const char*>(ldns_rdf_data(rdf)), n) != 0) {
            return false;
        }
        at += n;
    }
    return at == rdata.size();
}

} // namespace resolver::util
