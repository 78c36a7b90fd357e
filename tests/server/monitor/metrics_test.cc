// metrics_test.cc: the Prometheus registry: series creation, stable pointers, histogram buckets,
// escaping, number formatting and the exact text it renders.
#include "server/monitor/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

TEST_SUITE("metrics") {
  TEST_CASE("metrics: counters and gauges render with HELP, TYPE and sorted series") {
    MetricsRegistry r;
    Counter* a = r.GetCounter("tandem_msgs_in_total", "Messages received.", {{"channel", "foo"}});
    Counter* b = r.GetCounter("tandem_msgs_in_total", "ignored", {{"channel", "bar"}});
    Gauge* g = r.GetGauge("tandem_role", "1 when active.");
    a->Inc();
    a->Inc(4);
    b->Set(7);
    g->Set(1);
    g->Add(0.5);
    CHECK(r.GetCounter("tandem_msgs_in_total", "", {{"channel", "foo"}}) == a);
    CHECK(a->value() == 5);
    CHECK(r.Render() ==
          "# HELP tandem_msgs_in_total Messages received.\n"
          "# TYPE tandem_msgs_in_total counter\n"
          "tandem_msgs_in_total{channel=\"bar\"} 7\n"
          "tandem_msgs_in_total{channel=\"foo\"} 5\n"
          "# HELP tandem_role 1 when active.\n"
          "# TYPE tandem_role gauge\n"
          "tandem_role 1.5\n");
  }

  TEST_CASE("metrics: histogram buckets are cumulative with an inclusive upper bound") {
    MetricsRegistry r;
    Histogram* h = r.GetHistogram("lat_seconds", "Latency.", {0.1, 1}, {{"op", "commit"}});
    h->Observe(0.05);
    h->Observe(0.1);  // on the bound: counts in le="0.1"
    h->Observe(0.5);
    h->Observe(3);
    CHECK(h->count() == 4);
    CHECK(h->bucket_counts() == std::vector<uint64_t>{2, 1, 1});
    CHECK(r.Render() ==
          "# HELP lat_seconds Latency.\n"
          "# TYPE lat_seconds histogram\n"
          "lat_seconds_bucket{op=\"commit\",le=\"0.1\"} 2\n"
          "lat_seconds_bucket{op=\"commit\",le=\"1\"} 3\n"
          "lat_seconds_bucket{op=\"commit\",le=\"+Inf\"} 4\n"
          "lat_seconds_sum{op=\"commit\"} 3.65\n"
          "lat_seconds_count{op=\"commit\"} 4\n");
  }

  TEST_CASE("metrics: collectors run before rendering; series can be removed") {
    MetricsRegistry r;
    int runs = 0;
    uint64_t source = 10;
    r.AddCollector([&] {
      ++runs;
      r.ResetFamily("chan_msgs");
      r.GetGauge("chan_msgs", "Per channel.", {{"channel", "a"}})->Set(static_cast<double>(source));
    });
    CHECK(r.Render().find("chan_msgs{channel=\"a\"} 10\n") != std::string::npos);
    source = 11;
    CHECK(r.Render().find("chan_msgs{channel=\"a\"} 11\n") != std::string::npos);
    CHECK(runs == 2);

    r.GetCounter("gone_total", "x", {{"k", "v"}})->Inc();
    r.RemoveSeries("gone_total", {{"k", "v"}});
    std::string out = r.Render();
    CHECK(out.find("# TYPE gone_total counter\n") != std::string::npos);
    CHECK(out.find("gone_total{") == std::string::npos);
  }

  TEST_CASE("metrics: label values and help texts are escaped") {
    CHECK(MetricsRegistry::EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
    CHECK(MetricsRegistry::EscapeHelp("a\"b\\c\nd") == "a\"b\\\\c\\nd");
    MetricsRegistry r;
    r.GetGauge("g", "line1\nline2", {{"channel", "we\"ird"}})->Set(2);
    CHECK(r.Render() == "# HELP g line1\\nline2\n# TYPE g gauge\ng{channel=\"we\\\"ird\"} 2\n");
  }

  TEST_CASE("metrics: numbers are written exactly and readably") {
    CHECK(MetricsRegistry::FormatDouble(0) == "0");
    CHECK(MetricsRegistry::FormatDouble(42) == "42");
    CHECK(MetricsRegistry::FormatDouble(0.25) == "0.25");
    CHECK(std::stod(MetricsRegistry::FormatDouble(0.0001)) == 0.0001);
    CHECK(MetricsRegistry::FormatDouble(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(MetricsRegistry::FormatDouble(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(MetricsRegistry::FormatDouble(std::nan("")) == "NaN");
    MetricsRegistry r;
    r.GetCounter("big_total", "x")->Set(18446744073709551615ull);
    CHECK(r.Render().find("big_total 18446744073709551615\n") != std::string::npos);
  }

  TEST_CASE("metrics: default bucket sets are ascending") {
    auto lat = LatencyBuckets();
    auto size = SizeBuckets();
    CHECK(std::is_sorted(lat.begin(), lat.end()));
    CHECK(std::is_sorted(size.begin(), size.end()));
    CHECK(lat.front() > 0);
    CHECK(size.front() == 1);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
