// http_limit_log.cc: counting and formatting the rate-limited slow-client warning (see
// http_limit_log.h).
#include "server/monitor/http_limit_log.h"

#include <fmt/format.h>

namespace tandem::server {

namespace {

// "0s", "250ms", "5s", "4.5s": the way durations are written in the configuration.
std::string Seconds(uint64_t ms) {
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  if (ms < 1000) return fmt::format("{}ms", ms);
  return fmt::format("{:.1f}s", ms / 1000.0);
}

}  // namespace

HttpLimitLog::HttpLimitLog(uint64_t interval_ms, size_t max_connections, size_t max_per_peer,
                           uint64_t header_timeout_ms)
    : interval_ms_(interval_ms),
      max_connections_(max_connections),
      max_per_peer_(max_per_peer),
      header_timeout_ms_(header_timeout_ms) {}

void HttpLimitLog::Count(Event event, const std::string& peer, uint64_t now_ms) {
  if (empty()) first_event_ms_ = now_ms;
  switch (event) {
    case Event::kEvictedPeer:
      ++evicted_peer_;
      break;
    case Event::kEvictedGlobal:
      ++evicted_global_;
      break;
    case Event::kRefused:
      ++refused_;
      break;
    case Event::kHeaderTimeout:
      ++timeouts_;
      break;
  }
  last_peer_ = peer;
}

std::optional<uint64_t> HttpLimitLog::NextDue(uint64_t now_ms) const {
  if (empty()) return std::nullopt;
  if (!last_line_ms_ || now_ms >= *last_line_ms_ + interval_ms_) return 0;
  return *last_line_ms_ + interval_ms_ - now_ms;
}

std::optional<std::string> HttpLimitLog::Take(uint64_t now_ms) {
  std::optional<uint64_t> due = NextDue(now_ms);
  if (!due || *due > 0) return std::nullopt;
  return Flush(now_ms);
}

std::optional<std::string> HttpLimitLog::Flush(uint64_t now_ms) {
  if (empty()) return std::nullopt;
  std::string window = Seconds(now_ms - first_event_ms_);
  std::string line;
  uint64_t limit_hits = evicted_peer_ + evicted_global_ + refused_;
  if (limit_hits > 0) {
    line = fmt::format(
        "http: connection limit reached {} times in {} ({}, {} in all): evicted {} "
        "connections ({} at the per-peer limit), refused {}; ",
        limit_hits, window,
        max_per_peer_ > 0 ? fmt::format("{} per peer", max_per_peer_) : "no per-peer limit",
        max_connections_, evicted_peer_ + evicted_global_, evicted_peer_, refused_);
    line += fmt::format("{} closed at the {} header timeout; last peer {}", timeouts_,
                        Seconds(header_timeout_ms_), last_peer_);
  } else {
    line = fmt::format("http: {} connections closed at the {} header timeout in {}; last peer {}",
                       timeouts_, Seconds(header_timeout_ms_), window, last_peer_);
  }
  evicted_peer_ = evicted_global_ = refused_ = timeouts_ = 0;
  last_line_ms_ = now_ms;
  return line;
}

}  // namespace tandem::server
