// fake_clock.h: a Clock that moves only when a test advances it, so ft/ tests never sleep.
#pragma once

#include <cstdint>

#include "ft/clock.h"

namespace tandem::ft {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1000) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_; }
  void Advance(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_;
};

}  // namespace tandem::ft
