// metrics_promtool_test.cc: renders a registry that uses every feature (labels that need
// escaping, histograms, collectors) and has `promtool check metrics` lint the output, so the
// exposition format is checked by Prometheus' own parser. Skipped when promtool is missing.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

#include "server/monitor/metrics.h"

#include <sys/wait.h>

namespace tandem::server {
namespace {

bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// Pipes `text` into `promtool check metrics`; returns its exit status and its output.
int Promtool(const std::string& text, std::string* output) {
  char path[] = "/tmp/tandem-promtool-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  int status = pclose(p);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_SUITE("metrics_promtool") {
  TEST_CASE("metrics: promtool accepts the rendered registry") {
    if (!HavePromtool()) {
      MESSAGE("promtool not installed; skipped");
      return;
    }
    MetricsRegistry r;
    r.GetCounter("tandem_stan_msgs_in_total", "Messages stored, per channel.", {{"channel", "foo"}})
        ->Inc(3);
    r.GetCounter("tandem_stan_msgs_in_total", "Messages stored, per channel.",
                 {{"channel", "we\"ird\\name\nx"}})
        ->Inc();
    r.GetGauge("tandem_ft_role", "1 when this instance is active.")->Set(1);
    r.GetGauge("tandem_ft_epoch", "Fencing epoch.")->Set(12);
    Histogram* h =
        r.GetHistogram("tandem_store_commit_seconds", "Commit latency.", LatencyBuckets());
    for (double v : {0.00005, 0.001, 0.2, 20.0}) h->Observe(v);
    r.GetHistogram("tandem_store_commit_batch_ops", "Ops per commit.", SizeBuckets())->Observe(7);
    r.AddCollector([&r] { r.GetGauge("tandem_connections", "Open connections.")->Set(2); });
    r.GetCounter("tandem_empty_total", "A family without series.");
    r.ResetFamily("tandem_empty_total");

    std::string out;
    int rc = Promtool(r.Render(), &out);
    CHECK_MESSAGE(rc == 0, out);
  }

  TEST_CASE("metrics: promtool rejects a counter without _total (the check can fail)") {
    if (!HavePromtool()) return;
    MetricsRegistry r;
    r.GetCounter("tandem_bad", "No suffix.")->Inc();
    std::string out;
    CHECK(Promtool(r.Render(), &out) != 0);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
