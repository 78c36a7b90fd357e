// timer_queue.cc: one uv_timer_t armed for the earliest of many deadlines.
#include "server/util/timer_queue.h"

#include <vector>

namespace tandem::server {

TimerQueue::TimerQueue(uv_loop_t* loop) : loop_(loop) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

TimerQueue::~TimerQueue() = default;

TimerQueue::Id TimerQueue::AddAt(uint64_t due_ms, Fn fn) {
  Id id = next_id_++;
  queue_.emplace(std::make_pair(due_ms, id), std::move(fn));
  by_id_.emplace(id, due_ms);
  Arm();
  return id;
}

void TimerQueue::Cancel(Id* id) {
  if (*id == 0) return;
  auto it = by_id_.find(*id);
  if (it != by_id_.end()) {
    queue_.erase(std::make_pair(it->second, *id));
    by_id_.erase(it);
  }
  *id = 0;
}

void TimerQueue::Close() {
  if (closed_) return;
  closed_ = true;
  queue_.clear();
  by_id_.clear();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void TimerQueue::TEST_Advance(uint64_t ms) {
  offset_ms_ += ms;
  RunDue();
}

void TimerQueue::TimerCb(uv_timer_t* t) noexcept {
  auto* self = static_cast<TimerQueue*>(t->data);
  self->armed_for_ = 0;
  self->RunDue();
}

void TimerQueue::RunDue() {
  uint64_t now_ms = now();
  // Deadlines added by callbacks for "now" run in the next pass, so a callback that re-arms
  // itself at the current time cannot spin here.
  std::vector<Fn> due;
  while (!queue_.empty() && queue_.begin()->first.first <= now_ms) {
    auto it = queue_.begin();
    by_id_.erase(it->first.second);
    due.push_back(std::move(it->second));
    queue_.erase(it);
  }
  for (auto& fn : due) {
    if (closed_) return;
    fn();
  }
  Arm();
}

void TimerQueue::Arm() {
  if (closed_) return;
  if (queue_.empty()) {
    if (armed_for_ != 0) uv_timer_stop(&timer_);
    armed_for_ = 0;
    return;
  }
  uint64_t due = queue_.begin()->first.first;
  if (armed_for_ != 0 && armed_for_ <= due) return;
  uint64_t now_ms = now();
  armed_for_ = due == 0 ? 1 : due;
  uv_timer_start(&timer_, TimerCb, due > now_ms ? due - now_ms : 0, 0);
}

}  // namespace tandem::server
