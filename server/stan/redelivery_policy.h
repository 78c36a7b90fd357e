// redelivery_policy.h: the pure rules of bounded redelivery: how long a subscription waits for
// the ack of a message it was sent `deliveries` times (AckWait, stretched by the channel's
// redelivery_backoff), and when a message has been sent often enough (max_deliveries). The
// delivery engine (delivery_redelivery.cc) applies them.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "server/stan/stan_options.h"

namespace tandem::server {

// Milliseconds to wait for an ack after the `deliveries`-th send (1 = the first delivery):
// AckWait for the first one; with a backoff, AckWait + min(initial * factor^(deliveries - 2),
// max) for each redelivery.
uint64_t AckWaitAfterMs(uint32_t deliveries, uint64_t ack_wait_ms, const RedeliveryBackoff& b);

// True when a message sent `deliveries` times may not be sent again (max_deliveries 0:
// unlimited).
inline bool DeliveriesExhausted(uint32_t deliveries, uint64_t max_deliveries) {
  return max_deliveries != 0 && deliveries >= max_deliveries;
}

}  // namespace tandem::server
