// SPDX-License-Identifier: MIT
#pragma once
#include <optional>

#include "resolver/policy/behaviour.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::policy {

/// A response the policy engine builds itself (reference §3, §8.3-8.4).
struct SynthesizedAnswer {
    wire::Message message;
    /// Set for override_host, safe search and YouTube Restricted: the pipeline resolves this
    /// name (same qtype and class, along the evaluation's route) and calls complete_answer().
    std::optional<wire::Name> pending_target;
    /// override_host in "flatten" mode: the target's records are renamed to the query name.
    bool flatten = false;
};

/// The answer for a decision that answers locally: block (with or without block page,
/// always-blocked categories), override, safe search, YouTube Restricted. Returns nullopt
/// when the decision is resolved normally (allow, no match, no location; safe search or
/// ytrestricted for a name that is no search engine / YouTube name).
///
///  - Block, page off: A -> behaviour.block_ipv4 (0.0.0.0), AAAA -> block_ipv6 (::), NOERROR;
///    other types REFUSED (RCODE 5); `block_refused_all_types` = REFUSED for A/AAAA too.
///  - Block, page on (`block_page_enabled`): A -> 162.159.36.12 and 162.159.46.12,
///    AAAA -> block_page_ipv6 (empty = NODATA); other types REFUSED.
///  - EDE (RFC 8914 §4.16 code 15 Blocked) on request-context category blocks, and
///    behaviour.block_ede_code on other blocks; only when the query carried EDNS (RFC 6891 §7).
///  - Override with override_ips: A/AAAA from the matching family (none = NODATA); HTTPS per
///    behaviour.override_https; other types REFUSED.
///  - Override with override_host (A/AAAA/HTTPS; others REFUSED), safe search, ytrestricted:
///    CNAME qname -> target (or empty answer in flatten mode) plus `pending_target`.
/// Every generated record has TTL behaviour.generated_ttl. ID, question, RD, CD and OPT come
/// from the query (wire::make_response). Pure.
std::optional<SynthesizedAnswer> synthesize(const wire::Message& query, const Evaluation& ev,
                                            const Behaviour& b);

/// Appends the target's answer records (CNAME mode: as they are, after our CNAME; flatten
/// mode: records of the query type renamed to the query name) and takes the target's RCODE.
void complete_answer(SynthesizedAnswer& answer, const wire::Message& target_response);

/// The safe-search host for `qname` under behaviour.safesearch_targets (or the YouTube
/// restricted host for ytrestricted), or nullopt when the name is not covered.
std::optional<std::string> safe_target(std::string_view qname, Action action, const Behaviour& b);

} // namespace resolver::policy
