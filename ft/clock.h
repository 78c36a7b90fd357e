// clock.h: the injectable time source of ft/. Every deadline in the failover state machine
// (heartbeat interval, missed-heartbeat window, lock retry) is measured on a Clock, so tests
// drive time with a fake and never sleep. Only a steady clock is used: wall clocks are never
// compared between instances (the fencing epoch orders them instead).
//
// Ownership: callers borrow a Clock; it must outlive them. Thread safety: SystemClock is safe
// from any thread; fakes are loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>

namespace tandem::ft {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds on a monotonic clock with an arbitrary origin.
  virtual int64_t NowMs() const = 0;
};

// The process's steady clock (CLOCK_MONOTONIC).
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // One shared instance for the process.
  static SystemClock* Default() {
    static SystemClock clock;
    return &clock;
  }
};

}  // namespace tandem::ft
