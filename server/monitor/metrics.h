// metrics.h: a tiny Prometheus registry: counters, gauges and fixed-bucket histograms with
// labels, rendered in the text exposition format (version 0.0.4) for GET /metrics.
//
// Metrics are grouped in families (one name, one help text, one type); a family holds one series
// per label set. Get*() creates the family and the series on first use and returns a pointer
// that stays valid until the series is removed (RemoveSeries, ResetFamily) or the registry dies,
// so the hot path keeps the pointer and pays one integer add per update (Counter::Inc), no
// lookup, no atomics. Values that live elsewhere (NatsServer::stats(), channel counters) are
// copied in by collectors, which Render() runs first.
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (checked with
// assert: they are constants in our code). Label values and help texts may hold anything; they
// are escaped on output. Counters should end in _total, as Prometheus recommends.
//
// Ownership: the registry owns every metric. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_ += n; }
  // For mirroring a monotonic counter that is kept elsewhere (from a collector).
  void Set(uint64_t v) { value_ = v; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

class Gauge {
 public:
  void Set(double v) { value_ = v; }
  void Add(double d) { value_ += d; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class Histogram {
 public:
  // `bounds`: the upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of each bucket; one more entry than bounds() (the +Inf bucket).
  const std::vector<uint64_t>& bucket_counts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Bucket bounds in seconds for latencies from 0.1 ms to 10 s.
std::vector<double> LatencyBuckets();
// Bucket bounds for counts (batch sizes) from 1 to 10000.
std::vector<double> SizeBuckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // REQUIRES: a family `name` of another type does not exist.
  Counter* GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // The bounds of the first call for a family apply to all its series.
  Histogram* GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& bounds, const Labels& labels = {});

  // Drops one series (a deleted channel, say); pointers to it become invalid.
  void RemoveSeries(std::string_view name, const Labels& labels);
  // Drops every series of a family but keeps it declared (HELP/TYPE still rendered).
  void ResetFamily(std::string_view name);

  // Runs on every Render() before the output is written, in the order added.
  void AddCollector(std::function<void()> collect);

  // Runs the collectors, then writes every family sorted by name, series sorted by labels.
  std::string Render();

  // Escaping and number formatting of the text format, exposed for tests.
  static std::string EscapeLabelValue(std::string_view v);
  static std::string EscapeHelp(std::string_view v);
  static std::string FormatDouble(double v);

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Counter counter;
    Gauge gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    std::map<Labels, std::unique_ptr<Series>> series;
  };

  Series* GetSeries(std::string_view name, std::string_view help, Type type,
                    const std::vector<double>* bounds, const Labels& labels);
  static void RenderFamily(const std::string& name, const Family& family, std::string* out);

  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void()>> collectors_;
};

}  // namespace tandem::server
