// identity.h: who a store is, and the rule for when a store may be created at all.
//
// A store's identity is made once, when the store is created, and kept in its meta table:
//   store_id    32 hex digits, random: tells this store from every other one (a copy, a
//               restored backup of another pair, an empty file created by mistake)
//   cluster_id  the streaming cluster id that serves it
//   group       the fault-tolerance group that serves it ("" for a single instance)
//   group_key   64 hex digits, random: the secret with which the group's members sign their
//               heartbeats and prove to each other's client port that they are members
//
// Since only the active can read the database (it holds its exclusive lock), the same identity
// is also written to a small file beside it, `<store dir>/store.identity` (mode 0600, JSON,
// replaced atomically), which every member reads at start: a standby learns the group key and
// the store id there, and a member started with another cluster id or group is refused before
// it ever tries the lock. The database is the truth; Open() rewrites the file when it differs.
//
// Creating a store is an explicit first start, never a side effect of a takeover: a store may
// be created only where no trace of one is left (StoreTrace: no identity file, WAL, rescued
// copy or non-empty database file), and the fault-tolerance layer adds "and no member of the
// group was heard" (server/pair/ft_node.cc).
//
// Ownership: plain values. Thread safety: the functions touch only the files named; callable
// from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "store/status.h"

namespace tandem::store {

struct StoreIdentity {
  std::string store_id;
  std::string cluster_id;
  std::string group;
  std::string group_key;
  // File only: set by an active that lost its file and saved it there (store.h, Open). While
  // that file exists, no member opens the store: what is at the path is out of date.
  std::string rescued_to;

  bool operator==(const StoreIdentity&) const = default;
};

// `<directory of store_path>/store.identity`.
std::string IdentityPath(const std::string& store_path);

// The identity file beside `store_path`: nullopt when there is none; Corruption for a file that
// is not a valid identity (naming the file and what is wrong).
Result<std::optional<StoreIdentity>> ReadIdentityFile(const std::string& store_path);

// Writes the identity file beside `store_path` atomically (temporary file, fsync, rename, fsync
// of the directory), mode 0600: it holds the group key.
Status WriteIdentityFile(const std::string& store_path, const StoreIdentity& identity);

// The path of a file that shows a store lived at `store_path` (its identity file, its WAL, a
// rescued copy, or the database file itself when not empty), or "" when there is none.
Result<std::string> StoreTrace(const std::string& store_path);

// `bytes` random bytes from the kernel, as lowercase hex.
std::string RandomHex(size_t bytes);

// A mismatch between what this member was configured with and what the store records, or an
// empty string when they agree. A field the store does not record yet (empty) agrees: a single
// instance's store may become a group's, never the other way round or another group's.
std::string IdentityMismatch(const StoreIdentity& recorded, const std::string& cluster_id,
                             const std::string& group);

}  // namespace tandem::store
