// http_limit_log_test.cc: the rate-limited warning about slow or excess monitoring clients
// (HttpLimitLog): the first line at once, then at most one per interval, with the counts.
#include "server/monitor/http_limit_log.h"

#include <string>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

TEST_SUITE("http_limit_log") {
  TEST_CASE("http_limit_log: the first event is reported at once, then one line per interval") {
    HttpLimitLog log(5000, 256, 32, 5000);
    CHECK_FALSE(log.Take(0).has_value());
    CHECK_FALSE(log.NextDue(0).has_value());

    log.Count(HttpLimitLog::Event::kEvictedPeer, "127.0.0.1", 1000);
    CHECK(log.NextDue(1000) == 0);
    auto first = log.Take(1000);
    REQUIRE(first.has_value());
    CHECK(*first ==
          "http: connection limit reached 1 times in 0s (32 per peer, 256 in all): evicted 1 "
          "connections (1 at the per-peer limit), refused 0; 0 closed at the 5s header timeout; "
          "last peer 127.0.0.1");

    // A burst within the interval: counted, not written.
    for (int i = 0; i < 300; ++i) log.Count(HttpLimitLog::Event::kEvictedPeer, "127.0.0.1", 1500);
    log.Count(HttpLimitLog::Event::kEvictedGlobal, "10.0.0.9", 2000);
    log.Count(HttpLimitLog::Event::kRefused, "10.0.0.9", 2500);
    log.Count(HttpLimitLog::Event::kHeaderTimeout, "10.0.0.8", 3000);
    CHECK_FALSE(log.Take(5999).has_value());
    CHECK(log.NextDue(5999) == 1);
    auto second = log.Take(6000);
    REQUIRE(second.has_value());
    CHECK(*second ==
          "http: connection limit reached 302 times in 4.5s (32 per peer, 256 in all): evicted "
          "301 connections (300 at the per-peer limit), refused 1; 1 closed at the 5s header "
          "timeout; last peer 10.0.0.8");
    CHECK_FALSE(log.Take(20000).has_value());  // nothing new

    // Header timeouts alone get a shorter line.
    log.Count(HttpLimitLog::Event::kHeaderTimeout, "::1", 20000);
    auto third = log.Take(20000);
    REQUIRE(third.has_value());
    CHECK(*third == "http: 1 connections closed at the 5s header timeout in 0s; last peer ::1");
  }

  TEST_CASE("http_limit_log: Flush writes the counts held whatever the interval") {
    HttpLimitLog log(5000, 4, 0, 2500);
    CHECK_FALSE(log.Flush(0).has_value());
    log.Count(HttpLimitLog::Event::kHeaderTimeout, "a", 0);
    REQUIRE(log.Take(0).has_value());
    log.Count(HttpLimitLog::Event::kRefused, "b", 100);
    CHECK_FALSE(log.Take(200).has_value());
    auto line = log.Flush(200);
    REQUIRE(line.has_value());
    CHECK(line->find("(no per-peer limit, 4 in all)") != std::string::npos);
    CHECK(line->find("refused 1") != std::string::npos);
    CHECK(line->find("2.5s header timeout") != std::string::npos);
    CHECK(line->find("in 100ms") != std::string::npos);
    CHECK_FALSE(log.Flush(300).has_value());
  }
}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
