// delivery_gate.h: holds streaming deliveries back while a subscription's delivery inbox has no
// interest in the NATS core, so that nothing is published into the void.
//
// After a restart or a takeover the streaming layer starts before its clients' NATS connections
// have reconnected (they wait their reconnect interval first). A MsgProto published to an inbox
// that nobody subscribes to is dropped, and the message would only arrive at the next AckWait
// expiry (30 s by default). Delivery asks the gate before it sends to a subscription: when the
// inbox has interest (the normal case: one cached sublist lookup) the answer is yes at once.
// Otherwise the subscription waits: the gate records why (opaque reason bits from the caller),
// re-checks every kRecheckMs and calls on_open(id, gen, reasons) once the inbox has interest or
// the wait bound has passed. After the bound it gives up for that subscription and answers yes
// (delivery then behaves as if there were no gate) until the inbox has interest again.
//
// It also holds deliveries to an inbox whose connection is backlogged (Bus::Backlogged: more
// queued for its socket than the core's high-water mark, e.g. a client that stopped reading):
// the subscription waits, without a bound, until the Bus reports that connection drained or
// closed (Bus::WhenDrained), and on_open then runs with the reasons added meanwhile. Its
// messages stay in the store and go out in order when it resumes; so a slow consumer costs the
// server its high-water mark of memory, not everything it could be sent (MaxInflight).
//
// Callers: Delivery (delivery.h), whose gate side (GateOpen, OnGateOpen) is in delivery.cc.
// Ownership: borrows the Bus and the TimerQueue, which outlive it.
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/bus/bus.h"
#include "server/util/timer_queue.h"

namespace tandem::server {

class DeliveryGate {
 public:
  static constexpr uint64_t kRecheckMs = 20;
  static constexpr uint64_t kMaxWaitMs = 2000;
  using OnOpen = std::function<void(uint64_t id, uint64_t gen, uint32_t reasons)>;

  DeliveryGate(Bus* nc, TimerQueue* timers) : nc_(nc), timers_(timers) {}
  DeliveryGate(const DeliveryGate&) = delete;
  DeliveryGate& operator=(const DeliveryGate&) = delete;

  void SetOnOpen(OnOpen fn) { on_open_ = std::move(fn); }

  // True when `inbox` has interest or the wait of subscription `id` (incarnation `gen`) has run
  // out. Otherwise false: `reason` is added to the subscription's wait (begun now if it was not
  // waiting, bounded by max_wait_ms) and on_open runs later with every reason added.
  bool Ready(uint64_t id, uint64_t gen, const std::string& inbox, uint64_t max_wait_ms,
             uint32_t reason);
  // The subscription is gone: drop its wait.
  void Forget(uint64_t id);
  // Nothing is re-checked any more (the streaming layer stopped).
  void Stop();

  // Subscriptions waiting for interest (not counting those it gave up on).
  size_t waiting() const;
  // Subscriptions waiting for their connection to drain.
  size_t draining() const { return drains_.size(); }

 private:
  struct Waiter {
    uint64_t gen = 0;
    std::string inbox;
    uint64_t deadline_ms = 0;
    uint32_t reasons = 0;
    bool gave_up = false;
  };

  struct DrainWait {
    uint64_t gen = 0;
    uint32_t reasons = 0;
    bool asked = false;  // WhenDrained was called for it
  };

  void Arm();
  void Tick();
  // Adds `reason` to subscription `id`'s wait for `inbox` to drain, asking the Bus once.
  void WaitDrain(uint64_t id, uint64_t gen, const std::string& inbox, uint32_t reason);
  // Runs on_open for the subscriptions whose connection drained (from a timer: the Bus may
  // report a drain from inside a publish).
  void OpenDrained();

  Bus* const nc_;
  TimerQueue* const timers_;
  OnOpen on_open_;
  std::unordered_map<uint64_t, Waiter> waiters_;  // by subscription id
  TimerQueue::Id timer_ = 0;
  std::unordered_map<uint64_t, DrainWait> drains_;  // by subscription id
  std::vector<uint64_t> drained_;                   // reported by the Bus, not opened yet
  TimerQueue::Id drain_timer_ = 0;
  // The Bus's drain callbacks hold a weak reference: after the gate is gone they do nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool stopped_ = false;
};

}  // namespace tandem::server
