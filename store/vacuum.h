// vacuum.h: a store file that gives space back. The store runs with auto_vacuum=INCREMENTAL:
// pages freed by deleted channels and removed messages go to SQLite's free list, and the store
// thread, when idle, moves them to the end of the file and cuts them off in steps of
// kVacuumStepPages (IncrementalVacuum), then checkpoints so that the database file itself
// shrinks (in WAL mode the truncation happens when the log is copied back).
//
// auto_vacuum can be chosen only before the first table exists, or by rebuilding the file with
// VACUUM. A new store gets it from PrepareAutoVacuum, before its schema is made. A store made
// before this rule is converted once, at open, with the lock held (ConvertToIncremental): a
// VACUUM rebuilds the file in one transaction (a crash leaves the old file whole), which takes
// about a second per few hundred MiB and needs the file's size again in free space; with less
// room than that the conversion waits for a later open and the store is served as it is.
//
// Ownership: none. Thread safety: the connection's owner only.
#pragma once

#include <cstdint>
#include <string>

#include "store/status.h"

typedef struct sqlite3 sqlite3;

namespace tandem::store {

// Free pages given back per step: 1 MiB of 4 KiB pages, about a millisecond of work.
inline constexpr int kVacuumStepPages = 256;
// The vacuum starts when this many pages are free (SQLite reuses free pages for new rows, so
// fewer are not worth moving) and then gives back every free page.
inline constexpr int64_t kVacuumMinFreePages = 256;

// Before the opening transaction: asks for incremental auto-vacuum, which takes effect if the
// file has no tables yet. Errors are ignored here (the opening transaction reports them).
void PrepareAutoVacuum(sqlite3* db);
// After the opening transaction, the lock held: converts a store without incremental
// auto-vacuum with one VACUUM (see above). OK when there was nothing to do or too little room.
Status ConvertToIncremental(sqlite3* db, const std::string& path);
// One step: PRAGMA incremental_vacuum(kVacuumStepPages). Returns the free pages left.
Result<int64_t> IncrementalVacuum(sqlite3* db, const std::string& path);
// PRAGMA <name> read as an integer (page_count, freelist_count, page_size, auto_vacuum).
Result<int64_t> PragmaInt(sqlite3* db, const char* name, const std::string& path);

}  // namespace tandem::store
