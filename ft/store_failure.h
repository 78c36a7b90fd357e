// store_failure.h: what a member does when a lock attempt (Store::Open) fails with anything but
// Busy, and what the operator is told.
//
// Busy means another member holds the lock: stand by (Failover does that). Anything else means
// this member cannot use the store, and a member that cannot use its store must not pretend to
// be a healthy standby: it exits with status 1 after one error line that names the file, the
// cause and the remedy. Corruption and InvalidArgument (garbage, truncation, a foreign or newer
// file, a damaged table) are permanent and end the process at once. Other errors (an I/O error,
// a file or directory that cannot be opened) may be passing, say a volume being remounted: they
// are retried kStoreRetries times, kStoreRetryFirstMs apart and doubling (about 1.4 s in all),
// before the member gives up. Under systemd, Restart=on-failure then starts it again later.
//
// Ownership: none. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "store/status.h"

namespace tandem::ft {

inline constexpr int kStoreRetries = 3;
inline constexpr int64_t kStoreRetryFirstMs = 200;

// True when a failed lock attempt may be tried again; `failures` counts the consecutive
// non-Busy failures, this one included.
bool StoreFailureRetryable(const Status& s, int failures);
// The wait before the next attempt after `failures` consecutive failures.
int64_t StoreRetryDelayMs(int failures);
// What the operator can do about `s`, one clause ("restore it from a backup, ...").
std::string StoreRemedy(const Status& s);

}  // namespace tandem::ft
