// metrics.cc: the Prometheus registry and its text exposition format.
//
// Format written (Prometheus text format 0.0.4), per family, families sorted by name:
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
// A histogram series writes <name>_bucket{...,le="<bound>"} with cumulative counts for every
// bound and for le="+Inf", then <name>_sum and <name>_count. Values are written in the shortest
// form that reads back to the same double; infinities as +Inf/-Inf, NaN as NaN.
#include "server/monitor/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

namespace tandem::server {

namespace {

[[maybe_unused]] bool ValidName(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendLabels(const Labels& labels, const std::pair<std::string, std::string>* extra,
                  std::string* out) {
  if (labels.empty() && extra == nullptr) return;
  out->push_back('{');
  bool first = true;
  auto one = [&](const std::string& k, const std::string& v) {
    if (!first) out->push_back(',');
    first = false;
    *out += k;
    *out += "=\"";
    *out += MetricsRegistry::EscapeLabelValue(v);
    out->push_back('"');
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (extra != nullptr) one(extra->first, extra->second);
  out->push_back('}');
}

void AppendSample(const std::string& name, const Labels& labels,
                  const std::pair<std::string, std::string>* extra, const std::string& value,
                  std::string* out) {
  *out += name;
  AppendLabels(labels, extra, out);
  out->push_back(' ');
  *out += value;
  out->push_back('\n');
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  ++counts_[i];  // le is inclusive: v == bound falls into that bound's bucket
  ++count_;
  sum_ += v;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> SizeBuckets() {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
}

MetricsRegistry::Series* MetricsRegistry::GetSeries(std::string_view name, std::string_view help,
                                                    Type type, const std::vector<double>* bounds,
                                                    const Labels& labels) {
  assert(ValidName(name, true));
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f;
    f.type = type;
    f.help = std::string(help);
    if (bounds != nullptr) f.bounds = *bounds;
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  Family& family = it->second;
  assert(family.type == type);
  auto sit = family.series.find(labels);
  if (sit != family.series.end()) return sit->second.get();
  for (const auto& [k, v] : labels) {
    assert(ValidName(k, false) && k.rfind("__", 0) != 0 && k != "le");
    (void)k;
  }
  auto series = std::make_unique<Series>();
  if (type == Type::kHistogram) series->histogram = std::make_unique<Histogram>(family.bounds);
  Series* raw = series.get();
  family.series.emplace(labels, std::move(series));
  return raw;
}

Counter* MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const Labels& labels) {
  return &GetSeries(name, help, Type::kCounter, nullptr, labels)->counter;
}

Gauge* MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  return &GetSeries(name, help, Type::kGauge, nullptr, labels)->gauge;
}

Histogram* MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         const std::vector<double>& bounds, const Labels& labels) {
  return GetSeries(name, help, Type::kHistogram, &bounds, labels)->histogram.get();
}

void MetricsRegistry::RemoveSeries(std::string_view name, const Labels& labels) {
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.erase(labels);
}

void MetricsRegistry::ResetFamily(std::string_view name) {
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.clear();
}

void MetricsRegistry::AddCollector(std::function<void()> collect) {
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::Render() {
  for (auto& collect : collectors_) collect();
  std::string out;
  for (const auto& [name, family] : families_) RenderFamily(name, family, &out);
  return out;
}

void MetricsRegistry::RenderFamily(const std::string& name, const Family& family,
                                   std::string* out) {
  static const char* kTypeNames[] = {"counter", "gauge", "histogram"};
  *out += "# HELP " + name + " " + EscapeHelp(family.help) + "\n";
  *out += "# TYPE " + name + " " + kTypeNames[static_cast<int>(family.type)] + "\n";
  for (const auto& [labels, series] : family.series) {
    switch (family.type) {
      case Type::kCounter:
        AppendSample(name, labels, nullptr, std::to_string(series->counter.value()), out);
        break;
      case Type::kGauge:
        AppendSample(name, labels, nullptr, FormatDouble(series->gauge.value()), out);
        break;
      case Type::kHistogram: {
        const Histogram& h = *series->histogram;
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= h.bounds().size(); ++i) {
          cumulative += h.bucket_counts()[i];
          std::pair<std::string, std::string> le(
              "le", i < h.bounds().size() ? FormatDouble(h.bounds()[i]) : "+Inf");
          AppendSample(name + "_bucket", labels, &le, std::to_string(cumulative), out);
        }
        AppendSample(name + "_sum", labels, nullptr, FormatDouble(h.sum()), out);
        AppendSample(name + "_count", labels, nullptr, std::to_string(h.count()), out);
        break;
      }
    }
  }
}

std::string MetricsRegistry::EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string MetricsRegistry::EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string MetricsRegistry::FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  assert(ec == std::errc());
  return std::string(buf, end);
}

}  // namespace tandem::server
