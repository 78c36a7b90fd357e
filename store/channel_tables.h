// channel_tables.h: each channel's messages live in a table of their own,
// msgs_<channel id>(seq INTEGER PRIMARY KEY, timestamp, data, crc), and ChannelTables owns the
// DDL and the prepared statements of those tables (crc: row_checksum.h).
//
// Why a table per channel: with seq as the rowid, an append is SQLite's cheapest insert (the
// rowid only grows, interior pages hold integers only) and removing a channel is one DROP TABLE.
// The first schema kept every channel in one WITHOUT ROWID table keyed by (channel_id, seq),
// which stores whole rows in its interior pages; measured with tests/bench/sqlite_ceiling on
// the same disk, rowid tables insert 128 B messages 1.2-1.6x and 1 KiB messages 3.5-4x faster.
// Channel ids are never reused, so a table name always means one channel.
//
// Statements are prepared on first use per channel (SQLITE_PREPARE_PERSISTENT) and finalized
// when the channel's table is dropped or the store closes. Errors name the statement and the
// table ("statement InsertMsg on msgs_3: ...").
//
// Ownership: owns the per-channel sqlite3_stmt handles; borrows the connection, which must
// outlive it (or Finalize() must run first). Thread safety: none; the store thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "store/status.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

namespace tandem::store {

// Inserting kInsertRun rows with one statement costs about 30% less CPU per row than one
// statement per row (the statement's set-up and the b-tree seek are paid once).
inline constexpr int kInsertRun = 32;

enum class MsgStmt {
  kInsertMsg,         // ?1 seq, ?2 timestamp, ?3 data, ?4 crc
  kInsertMsgRun,      // kInsertRun rows: seq, timestamp, data, crc of row i at ?(4i+1) .. ?(4i+4)
  kScanOldest,        // ?1 from seq: seq, timestamp, length(data) in seq order
  kDeleteMsgsBefore,  // ?1 seq: removes every seq below it
  kReadMsgs,          // ?1 from seq, ?2 limit: seq, timestamp, data, crc in seq order
  kProbeSeq,          // ?1 seq: the first row at or after it (seq, timestamp)
  kCount,
};

class ChannelTables {
 public:
  ChannelTables() = default;
  ~ChannelTables() { Finalize(); }
  ChannelTables(const ChannelTables&) = delete;
  ChannelTables& operator=(const ChannelTables&) = delete;

  static std::string TableName(int64_t channel_id);
  // The DDL of a channel's table, current schema (also used by the schema migrations).
  static std::string CreateSql(int64_t channel_id);

  void Attach(sqlite3* db) { db_ = db; }
  Status Create(int64_t channel_id);
  // Finalizes the channel's statements and drops its table with every message in it.
  Status Drop(int64_t channel_id);
  // The statement, prepared on first use. Null with *status set when preparing failed.
  sqlite3_stmt* Get(int64_t channel_id, MsgStmt which, Status* status);
  // The Status for a failed step of `which` on the channel's table.
  Status Error(int64_t channel_id, MsgStmt which, int rc) const;
  void Finalize();

 private:
  using Prepared = std::array<sqlite3_stmt*, static_cast<size_t>(MsgStmt::kCount)>;
  void FinalizeChannel(Prepared& p);

  sqlite3* db_ = nullptr;
  std::unordered_map<int64_t, Prepared> prepared_;
};

}  // namespace tandem::store
