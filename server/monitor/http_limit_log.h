// http_limit_log.h: the rate-limited warning about slow or excess monitoring clients.
//
// Under a slowloris attack the HTTP server evicts or refuses connections and closes stalled
// ones at the header timeout, possibly thousands per second; one log line each would flood the
// log. This counts them instead: the first event after a quiet period is reported at once, and
// further ones at most once per interval, as one line with the counts since the last line and
// the peer seen last. Times are passed in (no clock of its own), so it is unit tested alone.
// Thread safety: none; the HTTP server uses it on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tandem::server {

class HttpLimitLog {
 public:
  enum class Event {
    kEvictedPeer,    // a connection closed to admit one from a peer at its limit
    kEvictedGlobal,  // a connection closed to admit one while the server was full
    kRefused,        // a new connection refused: nothing could be evicted
    kHeaderTimeout,  // a connection closed because its request did not arrive in time
  };

  // The limits and the timeout appear in the lines; `interval_ms` is the least time between
  // two lines.
  HttpLimitLog(uint64_t interval_ms, size_t max_connections, size_t max_per_peer,
               uint64_t header_timeout_ms);

  void Count(Event event, const std::string& peer, uint64_t now_ms);

  // The line due at `now_ms`, or nullopt (nothing counted, or a line was written less than an
  // interval ago). Returning a line resets the counts.
  std::optional<std::string> Take(uint64_t now_ms);

  // The line for the counts held, whatever the interval (at shutdown); nullopt if none held.
  std::optional<std::string> Flush(uint64_t now_ms);

  // How long after `now_ms` Take will have a line for the counts held; nullopt if none held.
  std::optional<uint64_t> NextDue(uint64_t now_ms) const;

 private:
  bool empty() const { return evicted_peer_ + evicted_global_ + refused_ + timeouts_ == 0; }

  const uint64_t interval_ms_;
  const size_t max_connections_;
  const size_t max_per_peer_;
  const uint64_t header_timeout_ms_;
  std::optional<uint64_t> last_line_ms_;
  uint64_t first_event_ms_ = 0;
  uint64_t evicted_peer_ = 0, evicted_global_ = 0, refused_ = 0, timeouts_ = 0;
  std::string last_peer_;
};

}  // namespace tandem::server
