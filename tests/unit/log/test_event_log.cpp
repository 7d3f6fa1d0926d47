// SPDX-License-Identifier: MIT
#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "resolver/log/event_log.hpp"

using namespace resolver;
using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST_SUITE_BEGIN("log.event_log");

TEST_CASE("Datetime is RFC 3339 UTC with milliseconds, as in gateway_dns") {
    CHECK(log::rfc3339_ms(system_clock::time_point(milliseconds(1735787045678))) ==
          "2025-01-02T03:04:05.678Z");
    CHECK(log::rfc3339_ms(system_clock::time_point(milliseconds(0))) == "1970-01-01T00:00:00.000Z");
    // Before the epoch the millisecond field still counts forward within its second.
    CHECK(log::rfc3339_ms(system_clock::time_point(milliseconds(-1))) ==
          "1969-12-31T23:59:59.999Z");
}

TEST_CASE("an event line starts with Datetime and LabEvent") {
    std::string out;
    log::JsonWriter w(out);
    log::begin_event(w, "policy-reload", system_clock::time_point(milliseconds(1735787045678)))
        .field("LabOk", false)
        .end_object();
    CHECK(out ==
          R"({"Datetime":"2025-01-02T03:04:05.678Z","LabEvent":"policy-reload","LabOk":false})");
}

TEST_SUITE_END();
