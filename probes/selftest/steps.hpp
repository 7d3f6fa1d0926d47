// SPDX-License-Identifier: MIT
// The self-test's steps, in the order run_selftest calls them. Internal to probes/selftest.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probes/common/query.hpp"
#include "probes/compare/observation.hpp"
#include "probes/selftest/report.hpp"
#include "probes/selftest/selftest.hpp"
#include "probes/selftest/tls_probe.hpp"
#include "probes/session/session.hpp"

namespace probes::selftest {

/// What the steps share: the options, the endpoints, the session they ask through and what
/// earlier steps learnt (which endpoints answer, their reach answers, the DoH TLS facts).
struct Context {
    const Options& opts;
    const std::vector<Endpoint>& endpoints;
    session::ProbeSession& session;
    bool lab = false;
    common::QueryOptions query; // RD, EDNS 1232: what a stub sends (RFC 9715, flag day 2020)

    /// Endpoints that gave a DNS answer to the reach name, REFUSED included (policy step).
    std::vector<const Endpoint*> answering;
    /// Those of them that did not refuse: later steps judge only these.
    std::vector<const Endpoint*> up;
    std::map<std::string, compare::Observation> reach_obs; // by endpoint id, `up` only
    std::optional<TlsFacts> doh_tls;

    [[nodiscard]] const Endpoint* find(const std::string& id) const;
    /// A query for `name`/`type` in class `qclass` (CHAOS for id.server, RFC 4892).
    std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type,
                                         std::uint16_t qclass, const common::QueryOptions& q) const;
    std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type) const {
        return make_query(name, type, 1, query);
    }
    /// Asks `name`/`type` over each endpoint and observes the answers, in order.
    std::vector<compare::Observation> ask_each(const std::vector<const Endpoint*>& eps,
                                               const std::string& name, std::uint16_t type,
                                               std::uint16_t qclass = 1);
};

void check_reachability(Context& cx, Report& r);
void check_tls(Context& cx, Report& r);
void check_interception(Context& cx, Report& r);
void check_policy(Context& cx, Report& r);
void check_features(Context& cx, Report& r);
void check_clock(Context& cx, Report& r);

/// Shared wording.
std::string join(const std::vector<std::string>& v, const std::string& sep = ", ");
std::string fmt_ms(double ms);
/// The RDATA of the answer records ("192.0.2.10", "40 TXT records" for long answers).
std::string answer_words(const compare::Observation& o);
/// "NOERROR", or the exchange error when there was no DNS answer.
std::string rcode_words(const compare::Observation& o);

} // namespace probes::selftest
