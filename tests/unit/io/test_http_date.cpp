// SPDX-License-Identifier: MIT
// The DoH listener's `date` field: RFC 9110 §5.6.7 IMF-fixdate, locale-independent.
#include <doctest/doctest.h>

#include <ctime>

#include "resolver/io/http1.hpp"

using resolver::io::http_date;

TEST_SUITE_BEGIN("io.http_date");

TEST_CASE("IMF-fixdate for known instants") {
    CHECK(http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
    CHECK(http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");  // leap day, 400-year rule
    CHECK(http_date(4107542399) == "Sun, 28 Feb 2100 23:59:59 GMT"); // 2100 is not a leap year
    CHECK(http_date(2147483648) == "Tue, 19 Jan 2038 03:14:08 GMT"); // past 32-bit time_t
    CHECK(http_date(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST_CASE("agrees with gmtime for a sweep of instants") {
    static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::int64_t t = 0; t < 4102444800; t += 7777777) { // 1970 .. 2100, odd step
        const std::time_t tt = static_cast<std::time_t>(t);
        std::tm tm{};
        REQUIRE(gmtime_r(&tt, &tm) != nullptr);
        char want[64];
        std::snprintf(want, sizeof want, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                      tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                      tm.tm_sec);
        CAPTURE(t);
        CHECK(http_date(t) == want);
    }
}

TEST_SUITE_END();
