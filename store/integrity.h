// integrity.h: the start-up checks of a store file, run by SqliteStore::Open.
//
//  1. ExplainCorruption: SQLite refuses a file shorter than its header says ("database disk
//     image is malformed"); when an open fails with Corruption, this looks at the header and,
//     for a truncated file (a copy cut short, a full disk during a restore), says so instead.
//     O(1): one read of the 100-byte header.
//  2. QuickCheck, once the exclusive lock is held (nobody else writes the file meanwhile) and
//     before recovery: SQLite's PRAGMA quick_check, limited to the tables recovery reads (meta,
//     channels, clients, subscriptions, pending) and their indexes. The message tables are not
//     checked here, so the cost of a start does not grow with the number of stored messages;
//     damage there is found when the messages are read (SQLite's page checks and each row's
//     checksum, see row_checksum.h) and reported for the channel.
//
// Both return Corruption naming the file and what is wrong.
// Ownership: none. Thread safety: the connection's owner only.
#pragma once

#include <string>

#include "store/status.h"

typedef struct sqlite3 sqlite3;

namespace tandem::store {

// The tables recovery reads, in the order QuickCheck checks them.
inline constexpr const char* kRecoveryTables[] = {"meta", "channels", "clients", "subscriptions",
                                                  "pending"};

// `s` (a failed open of `path`), or, when `s` is Corruption and the file is shorter than the
// page count of its header, Corruption saying it is truncated and by how much. The header is
// not judged when the file is not a SQLite file, when its page count is not valid, or while a
// write-ahead log holds frames (a checkpoint cut short by a crash may have written the header
// before the pages; the log completes it).
Status ExplainCorruption(const Status& s, const std::string& path);

// PRAGMA quick_check(<table>) for each of kRecoveryTables. REQUIRES: the tables exist.
Status QuickCheck(sqlite3* db, const std::string& path);

}  // namespace tandem::store
