// creation_rule.h: whether one lock attempt may create the store, decided inside the attempt's
// pool job (StoreLocker) because it lists the store directory (store::StoreTrace), which the
// loop thread never does.
//
// The rule: a store is created only on an explicit first start. Any trace of a store at the path
// (an identity file, a WAL, a rescued copy, a non-empty database file), or a store id the group
// is known to serve, forbids creating: Open then refuses a missing store with NotFound and the
// reason. With nothing at the path, a first start in a group waits until the group had a
// chance to be heard (the host passes `wait_for_group`) instead of creating a store a running
// member may already serve.
//
// Ownership: plain values. Thread safety: pure functions, callable from any thread.
#pragma once

#include <string>

#include "store/status.h"

namespace tandem::ft {

struct CreationDecision {
  std::string no_create_reason;  // non-empty: Open may not create (store::StoreOptions)
  bool wait_for_group = false;   // true: do not open yet, ask again once the group was heard
};

// `trace` is store::StoreTrace of the store path; `group_store_id` the store the group serves
// ("" while unknown).
CreationDecision DecideCreation(const Result<std::string>& trace, const std::string& group_store_id,
                                bool wait_for_group);

}  // namespace tandem::ft
