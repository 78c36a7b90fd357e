// expiry_schedule.cc: the ordered set of channel expiry times (see expiry_schedule.h).
#include "server/stan/expiry_schedule.h"

namespace tandem::server {

void ExpirySchedule::Set(int64_t channel_id, int64_t due_ns) {
  auto [it, inserted] = due_.try_emplace(channel_id, due_ns);
  if (!inserted) {
    if (it->second == due_ns) return;
    by_due_.erase({it->second, channel_id});
    it->second = due_ns;
  }
  by_due_.insert({due_ns, channel_id});
}

void ExpirySchedule::Advance(int64_t channel_id, int64_t due_ns) {
  auto it = due_.find(channel_id);
  if (it != due_.end() && it->second <= due_ns) return;
  Set(channel_id, due_ns);
}

void ExpirySchedule::Remove(int64_t channel_id) {
  auto it = due_.find(channel_id);
  if (it == due_.end()) return;
  by_due_.erase({it->second, channel_id});
  due_.erase(it);
}

std::vector<int64_t> ExpirySchedule::TakeDue(int64_t now_ns) {
  std::vector<int64_t> out;
  while (!by_due_.empty() && by_due_.begin()->first <= now_ns) {
    int64_t id = by_due_.begin()->second;
    by_due_.erase(by_due_.begin());
    due_.erase(id);
    out.push_back(id);
  }
  return out;
}

std::optional<int64_t> ExpirySchedule::due(int64_t channel_id) const {
  auto it = due_.find(channel_id);
  if (it == due_.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> ExpirySchedule::earliest() const {
  if (by_due_.empty()) return std::nullopt;
  return by_due_.begin()->first;
}

}  // namespace tandem::server
