// sql_statements.h: every SQL string the store runs, in one table indexed by Stmt (so the
// whole of the store's SQL reads in one place), except the DDL (schema.cc).
//
// The table in sql_statements.cc holds the text and a name for each statement. Statements
// prepares all the data statements once, when the store opens (SQLITE_PREPARE_PERSISTENT), and
// hands them out by Stmt; error messages name the statement ("statement PutSub: ..."). The
// control statements (PRAGMAs, BEGIN, COMMIT, ROLLBACK) are run with sqlite3_exec because some of
// them run before the schema, and so the prepared set, exists. The DDL is in schema.cc.
//
// Ownership: Statements owns its sqlite3_stmt handles and finalizes them in Finalize() or its
// destructor; it borrows the connection, which must outlive it (or Finalize() must run first).
// Thread safety: none; used by the thread that owns the connection.
#pragma once

#include <array>
#include <cstddef>

#include "store/status.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

namespace tandem::store {

// Inserting kInsertRun rows with one statement costs about 30% less CPU per row than one
// statement per row (the statement's set-up and the b-tree seeks are paid once).
inline constexpr int kInsertRun = 32;

enum class Stmt {
  // Control statements, run with sqlite3_exec (not prepared).
  kPragmaLockingExclusive,
  kPragmaLockingNormal,
  kPragmaJournalWal,
  kPragmaSyncFull,
  kPragmaSyncNormal,
  kPragmaCacheSize,
  kBeginImmediate,
  kBeginExclusive,
  kCommit,
  kRollback,
  // Data statements, prepared once at open. Keep kFirstPrepared pointing at the first one.
  kGetMeta,
  kPutMeta,
  kBumpEpoch,
  kLoadMeta,
  kInsertChannel,
  kUpdateChannelCounters,
  kDeleteChannel,
  kDeleteChannelPending,
  kDeleteChannelSubs,
  kLoadChannels,
  kPutClient,
  kDeleteClient,
  kLoadClients,
  kPutSub,
  kDeleteSub,
  kDeleteSubPending,
  kUpdateLastSent,
  kInsertPending,
  kDeletePending,
  kLoadSubs,
  kLoadPending,
  // The messages table of every channel and the spans that index it (schema.cc).
  kInsertMsg,           // ?1 id, ?2 channel id, ?3 seq, ?4 timestamp, ?5 data, ?6 crc
  kInsertMsgRun,        // kInsertRun rows: the six values of row i at ?(6i+1) .. ?(6i+6)
  kMaxMsgId,            // the highest id stored (NULL when none)
  kReadMsgRange,        // ?1 .. ?2 ids: channel_id, seq, timestamp, data, crc in id order
  kScanMsgRange,        // ?1 .. ?2 ids: channel_id, seq, timestamp, length(data) in id order
  kDeleteMsgRange,      // ?1 .. ?2 ids
  kPutSpan,             // ?1 channel id, ?2 first seq, ?3 first id
  kLastSpan,            // ?1 channel id: first_seq, first_id of its last span
  kSpanAt,              // ?1 channel id, ?2 seq: first_seq of the span holding it
  kSpansFrom,           // ?1 channel id, ?2 seq: first_seq, first_id of spans from it on
  kDeleteSpansBefore,   // ?1 channel id, ?2 seq: spans starting below it
  kDeleteChannelSpans,  // ?1 channel id
  kOrphanChannels,      // the channel ids of spans without a channels row, ascending
  kCount,
};
inline constexpr Stmt kFirstPrepared = Stmt::kGetMeta;
inline constexpr size_t kStmtCount = static_cast<size_t>(Stmt::kCount);

const char* StmtSql(Stmt s);
const char* StmtName(Stmt s);

// Runs a control statement with sqlite3_exec. Errors name the statement.
Status ExecStmt(sqlite3* db, Stmt s);

class Statements {
 public:
  Statements() = default;
  ~Statements() { Finalize(); }
  Statements(const Statements&) = delete;
  Statements& operator=(const Statements&) = delete;

  // Prepares every data statement. REQUIRES: the schema exists.
  Status Prepare(sqlite3* db);
  void Finalize();

  // REQUIRES: Prepare() succeeded and s >= kFirstPrepared.
  sqlite3_stmt* get(Stmt s) const { return stmts_[static_cast<size_t>(s)]; }
  // The Status for a failed step/bind of `s`, naming it.
  Status Error(Stmt s, int rc) const;

 private:
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kStmtCount> stmts_{};
};

// Resets a prepared statement when the scope ends, so that no read cursor stays open and the
// statement is ready for its next use.
class StmtReset {
 public:
  explicit StmtReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtReset();
  StmtReset(const StmtReset&) = delete;
  StmtReset& operator=(const StmtReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace tandem::store
