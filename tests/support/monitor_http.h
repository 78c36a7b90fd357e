// monitor_http.h: reading a running tandem's monitoring port in integration tests: /metrics
// and the value of an unlabelled sample in it, and a JSON endpoint. Each request is bounded
// (2 s); a failed one gives nullopt, so that a test polling in a bounded loop decides how
// long to keep trying.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/monitor/status_http.h"

namespace tandem::test {

// The text of /metrics, or nullopt.
inline std::optional<std::string> ScrapeMetrics(int http_port) {
  Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http_port, "/metrics", 2000);
  if (!r.ok() || r->status != 200) return std::nullopt;
  return r->body;
}

// `name`'s value in a /metrics text (a sample without labels), or nullopt. Figures read from
// one text were collected together.
inline std::optional<double> MetricIn(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + key.size()));
}

// The JSON answer of `path` (200 only), or nullopt.
inline std::optional<nlohmann::json> JsonAt(int http_port, const std::string& path) {
  Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http_port, path, 2000);
  if (!r.ok() || r->status != 200) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

}  // namespace tandem::test
