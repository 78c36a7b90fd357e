// delivery_gate.cc: the interest gate (see delivery_gate.h): per-subscription waits for a
// delivery inbox to have interest, re-checked on one timer. Delivery's side of it (which
// subscription may be sent to now, what resumes) is in delivery.cc.
#include "server/stan/delivery_gate.h"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

namespace tandem::server {

// --- DeliveryGate ------------------------------------------------------------------------------

bool DeliveryGate::Ready(uint64_t id, uint64_t gen, const std::string& inbox, uint64_t max_wait_ms,
                         uint32_t reason) {
  if (nc_->HasInterest(inbox)) {
    if (!waiters_.empty()) waiters_.erase(id);
    if (stopped_ || !nc_->Backlogged(inbox)) return true;
    WaitDrain(id, gen, inbox, reason);
    return false;
  }
  if (stopped_) return true;
  uint64_t now = timers_->now();
  auto [it, inserted] = waiters_.try_emplace(id);
  Waiter& w = it->second;
  if (inserted || w.gen != gen || w.inbox != inbox) {
    w = Waiter{gen, inbox, now + max_wait_ms, 0, false};
    spdlog::debug("stan: no interest on {} yet, subscription {} waits for it", inbox, id);
  }
  if (w.gave_up) return true;
  w.reasons |= reason;
  Arm();
  return false;
}

void DeliveryGate::Forget(uint64_t id) {
  if (!waiters_.empty()) waiters_.erase(id);
  if (!drains_.empty()) drains_.erase(id);
}

void DeliveryGate::Stop() {
  stopped_ = true;
  timers_->Cancel(&timer_);
  timers_->Cancel(&drain_timer_);
  waiters_.clear();
  drains_.clear();
  drained_.clear();
}

void DeliveryGate::WaitDrain(uint64_t id, uint64_t gen, const std::string& inbox, uint32_t reason) {
  DrainWait& w = drains_[id];
  if (w.gen != gen) w = DrainWait{gen};  // a new incarnation: the old reasons are moot
  w.reasons |= reason;
  if (w.asked) return;
  w.asked = true;
  spdlog::debug("stan: the connection of {} is backlogged, subscription {} waits", inbox, id);
  nc_->WhenDrained(inbox, [this, id, alive = std::weak_ptr<int>(alive_)] {
    if (alive.expired() || stopped_) return;
    drained_.push_back(id);
    if (!timers_->pending(drain_timer_)) {
      drain_timer_ = timers_->AddAfter(0, [this] {
        drain_timer_ = 0;
        OpenDrained();
      });
    }
  });
}

void DeliveryGate::OpenDrained() {
  std::vector<uint64_t> ids;
  ids.swap(drained_);
  for (uint64_t id : ids) {
    auto it = drains_.find(id);
    if (it == drains_.end() || !it->second.asked) continue;
    const DrainWait w = it->second;
    drains_.erase(it);
    // Sends again; a connection still (or again) backlogged makes it wait anew.
    if (on_open_ && !stopped_) on_open_(id, w.gen, w.reasons);
  }
}

size_t DeliveryGate::waiting() const {
  return static_cast<size_t>(std::count_if(waiters_.begin(), waiters_.end(),
                                           [](const auto& kv) { return !kv.second.gave_up; }));
}

void DeliveryGate::Arm() {
  if (stopped_ || timers_->pending(timer_)) return;
  timer_ = timers_->AddAfter(kRecheckMs, [this] {
    timer_ = 0;
    Tick();
  });
}

void DeliveryGate::Tick() {
  struct Opened {
    uint64_t id, gen;
    uint32_t reasons;
  };
  std::vector<Opened> opened;
  bool still_waiting = false;
  uint64_t now = timers_->now();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    Waiter& w = it->second;
    if (w.gave_up) {
      ++it;
      continue;
    }
    if (nc_->HasInterest(w.inbox)) {
      opened.push_back(Opened{it->first, w.gen, w.reasons});
      it = waiters_.erase(it);
      continue;
    }
    if (now >= w.deadline_ms) {
      spdlog::info("stan: still no interest on {} after waiting, delivering anyway", w.inbox);
      opened.push_back(Opened{it->first, w.gen, w.reasons});
      w.gave_up = true;
      w.reasons = 0;
    } else {
      still_waiting = true;
    }
    ++it;
  }
  if (still_waiting) Arm();
  // Last: the callbacks send, which may add or drop waiters.
  for (const Opened& o : opened) {
    if (on_open_ && !stopped_) on_open_(o.id, o.gen, o.reasons);
  }
}

}  // namespace tandem::server
