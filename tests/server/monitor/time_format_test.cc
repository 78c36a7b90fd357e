// time_format_test.cc: times and durations as the monitoring endpoints and `tandem status`
// write them.
#include "server/monitor/time_format.h"

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

constexpr int64_t kStart = 1767225600LL * 1000000000;  // 2026-01-01T00:00:00Z

TEST_SUITE("monitor") {
  TEST_CASE("monitor: RFC 3339 times drop trailing zeros of the fraction") {
    CHECK(Rfc3339(0) == "1970-01-01T00:00:00Z");
    CHECK(Rfc3339(kStart + 123000) == "2026-01-01T00:00:00.000123Z");
    CHECK(Rfc3339(kStart + 500000000) == "2026-01-01T00:00:00.5Z");
    CHECK(Rfc3339(-1) == "1969-12-31T23:59:59.999999999Z");
  }

  TEST_CASE("monitor: uptimes in NATS's form, largest unit first") {
    CHECK(Uptime(0) == "0s");
    CHECK(Uptime(-5 * 1000000000LL) == "0s");
    CHECK(Uptime(61 * 1000000000LL) == "1m1s");
    CHECK(Uptime(3723 * 1000000000LL + 999999999) == "1h2m3s");
    CHECK(Uptime((86400LL + 3600 + 60 + 1) * 1000000000LL) == "1d1h1m1s");
    CHECK(Uptime((366LL * 86400) * 1000000000LL) == "1y1d0h0m0s");
  }

  TEST_CASE("monitor: short durations for a person") {
    CHECK(DurationText(5000) == "5us");
    CHECK(DurationText(40 * 1000000LL) == "40ms");
    CHECK(DurationText(1500 * 1000000LL) == "1.5s");
    CHECK(DurationText(90 * 1000000000LL) == "1m30s");
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
