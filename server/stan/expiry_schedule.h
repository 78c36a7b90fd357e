// expiry_schedule.h: ExpirySchedule, when each channel with max_age next has a message to
// expire, ordered by that time, so that the streaming layer runs one timer for the earliest and
// an idle second costs nothing per channel (a tick that visited every channel grew with the
// channel count).
//
// Times are message timestamps (CLOCK_REALTIME nanoseconds, as stored), not TimerQueue
// milliseconds; the owner converts the earliest into one TimerQueue deadline. A channel has at
// most one entry: Set replaces it (a later or earlier due time), Advance only moves it earlier.
//
// Ownership: plain values. Thread safety: none (loop thread only, like its owner).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tandem::server {

class ExpirySchedule {
 public:
  // The channel is due at `due_ns`, whatever it was due at before.
  void Set(int64_t channel_id, int64_t due_ns);
  // The channel is due at `due_ns` unless it is already due earlier.
  void Advance(int64_t channel_id, int64_t due_ns);
  void Remove(int64_t channel_id);
  // Removes and returns, earliest first, every channel due at or before `now_ns`.
  std::vector<int64_t> TakeDue(int64_t now_ns);

  bool scheduled(int64_t channel_id) const { return due_.count(channel_id) != 0; }
  std::optional<int64_t> due(int64_t channel_id) const;
  std::optional<int64_t> earliest() const;
  size_t size() const { return due_.size(); }

 private:
  std::set<std::pair<int64_t, int64_t>> by_due_;  // (due_ns, channel id)
  std::unordered_map<int64_t, int64_t> due_;      // channel id -> due_ns
};

}  // namespace tandem::server
