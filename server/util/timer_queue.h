// timer_queue.h: many deadlines served by one uv_timer_t, for the streaming layer's timers
// (client heartbeats, request timeouts, AckWait redelivery, channel inactivity and max_age).
//
// Objects that need a timer hold an Id and Cancel() it when they go away; they own no libuv
// handle themselves, so dropping a subscription or a client never waits for a close callback.
// Callbacks run on the loop thread in deadline order; a callback may Add and Cancel freely.
//
// Time is uv_now() in milliseconds plus a test offset: TEST_Advance(ms) moves this queue's clock
// forward and runs what became due, so unit tests never sleep.
//
// Ownership: borrows the loop; owns its uv_timer_t, closed by Close() (required before the loop
// closes; the object must outlive the close callback, which only clears a flag).
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>

namespace tandem::server {

class TimerQueue {
 public:
  using Id = uint64_t;  // 0 is never a valid id
  using Fn = std::function<void()>;

  explicit TimerQueue(uv_loop_t* loop);
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `fn` once at `due_ms` (in now() units). Returns its id.
  Id AddAt(uint64_t due_ms, Fn fn);
  Id AddAfter(uint64_t delay_ms, Fn fn) { return AddAt(now() + delay_ms, std::move(fn)); }
  // Cancels a pending deadline; ids already run or cancelled are ignored. Sets *id to 0.
  void Cancel(Id* id);
  bool pending(Id id) const { return id != 0 && by_id_.count(id) != 0; }
  size_t size() const { return by_id_.size(); }

  uint64_t now() const { return uv_now(loop_) + offset_ms_; }
  void Close();

  void TEST_Advance(uint64_t ms);

 private:
  static void TimerCb(uv_timer_t* t) noexcept;
  void RunDue();
  void Arm();

  uv_loop_t* const loop_;
  uv_timer_t timer_;
  bool closed_ = false;
  uint64_t offset_ms_ = 0;
  Id next_id_ = 1;
  uint64_t armed_for_ = 0;  // due time the uv timer is set for; 0 when stopped
  std::map<std::pair<uint64_t, Id>, Fn> queue_;
  std::unordered_map<Id, uint64_t> by_id_;
};

}  // namespace tandem::server
