// store_failure.cc: the retry policy and the operator's remedy for a store that cannot be used
// (see store_failure.h).
#include "ft/store_failure.h"

namespace tandem::ft {

bool StoreFailureRetryable(const Status& s, int failures) {
  if (s.ok() || s.IsBusy() || s.IsCorruption() || s.IsInvalidArgument()) return false;
  return failures <= kStoreRetries;
}

int64_t StoreRetryDelayMs(int failures) {
  return kStoreRetryFirstMs << (failures > 1 ? failures - 1 : 0);
}

std::string StoreRemedy(const Status& s) {
  if (s.IsCorruption()) {
    return "restore the store from a backup, or move the file away to start with an empty store";
  }
  if (s.IsInvalidArgument()) return "check the store path";
  return "check that the store directory and its store.db are a directory and a file this user "
         "can read and write (not immutable), on a file system mounted read-write";
}

}  // namespace tandem::ft
