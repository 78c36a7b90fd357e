// redelivery_policy.cc: AckWait stretched by the redelivery backoff (see redelivery_policy.h).
#include "server/stan/redelivery_policy.h"

#include <algorithm>
#include <cmath>

namespace tandem::server {

uint64_t AckWaitAfterMs(uint32_t deliveries, uint64_t ack_wait_ms, const RedeliveryBackoff& b) {
  if (!b.enabled() || deliveries < 2) return ack_wait_ms;
  const double initial_ms = static_cast<double>(b.initial_ns) / 1e6;
  const double max_ms = static_cast<double>(std::max(b.max_ns, b.initial_ns)) / 1e6;
  // factor^(n) overflows to inf for large n, which min() caps at max.
  const double extra = std::min(initial_ms * std::pow(b.factor, deliveries - 2.0), max_ms);
  return ack_wait_ms + static_cast<uint64_t>(extra);
}

}  // namespace tandem::server
