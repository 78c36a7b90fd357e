// sql_statements.cc: the SQL text of every statement, and their preparation (see
// sql_statements.h). Parameters are numbered (?1, ?2, ...) so binding code can name them.
#include "store/sql_statements.h"

#include <iterator>
#include <string>

#include <sqlite3.h>

#include "store/sqlite_error.h"

namespace tandem::store {
namespace {

struct StmtDef {
  Stmt id;
  const char* name;
  const char* sql;
};

constexpr StmtDef kStmts[] = {
    {Stmt::kPragmaLockingExclusive, "PragmaLockingExclusive", "PRAGMA locking_mode=EXCLUSIVE"},
    {Stmt::kPragmaLockingNormal, "PragmaLockingNormal", "PRAGMA locking_mode=NORMAL"},
    {Stmt::kPragmaJournalWal, "PragmaJournalWal", "PRAGMA journal_mode=WAL"},
    {Stmt::kPragmaSyncFull, "PragmaSyncFull", "PRAGMA synchronous=FULL"},
    {Stmt::kPragmaSyncNormal, "PragmaSyncNormal", "PRAGMA synchronous=NORMAL"},
    // 32 MiB of page cache (SQLite's default is 2 MiB): a commit spread over thousands of
    // channels touches an index page and a counters row per channel, and beyond 2 MiB they
    // are read back.
    {Stmt::kPragmaCacheSize, "PragmaCacheSize", "PRAGMA cache_size=-32768"},
    {Stmt::kBeginImmediate, "BeginImmediate", "BEGIN IMMEDIATE"},
    {Stmt::kBeginExclusive, "BeginExclusive", "BEGIN EXCLUSIVE"},
    {Stmt::kCommit, "Commit", "COMMIT"},
    {Stmt::kRollback, "Rollback", "ROLLBACK"},

    {Stmt::kGetMeta, "GetMeta", "SELECT value FROM meta WHERE key=?1"},
    {Stmt::kPutMeta, "PutMeta", "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"},
    {Stmt::kBumpEpoch, "BumpEpoch",
     "UPDATE meta SET value=value+1 WHERE key='ft_epoch' RETURNING value"},
    {Stmt::kLoadMeta, "LoadMeta", "SELECT key, value FROM meta"},

    {Stmt::kInsertChannel, "InsertChannel",
     "INSERT INTO channels(id, name, first_seq, last_seq, msgs, bytes, last_timestamp, "
     "max_msgs, max_bytes, max_age) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {Stmt::kUpdateChannelCounters, "UpdateChannelCounters",
     "UPDATE channels SET first_seq=?2, last_seq=?3, msgs=?4, bytes=?5, last_timestamp=?6 "
     "WHERE id=?1"},
    {Stmt::kDeleteChannel, "DeleteChannel", "DELETE FROM channels WHERE id=?1"},
    {Stmt::kDeleteChannelPending, "DeleteChannelPending",
     "DELETE FROM pending WHERE sub_id IN (SELECT id FROM subscriptions WHERE channel_id=?1)"},
    {Stmt::kDeleteChannelSubs, "DeleteChannelSubs",
     "DELETE FROM subscriptions WHERE channel_id=?1"},
    {Stmt::kLoadChannels, "LoadChannels",
     "SELECT id, name, first_seq, last_seq, msgs, bytes, last_timestamp, max_msgs, max_bytes, "
     "max_age FROM channels ORDER BY id"},

    {Stmt::kPutClient, "PutClient",
     "INSERT OR REPLACE INTO clients(id, hb_inbox, conn_id, protocol, ping_interval, "
     "ping_max_out) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
    {Stmt::kDeleteClient, "DeleteClient", "DELETE FROM clients WHERE id=?1"},
    {Stmt::kLoadClients, "LoadClients",
     "SELECT id, hb_inbox, conn_id, protocol, ping_interval, ping_max_out FROM clients "
     "ORDER BY id"},

    {Stmt::kPutSub, "PutSub",
     "INSERT OR REPLACE INTO subscriptions(id, channel_id, client_id, queue, inbox, ack_inbox, "
     "durable_name, max_in_flight, ack_wait, last_sent, is_durable, is_offline) "
     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
    {Stmt::kDeleteSub, "DeleteSub", "DELETE FROM subscriptions WHERE id=?1"},
    {Stmt::kDeleteSubPending, "DeleteSubPending", "DELETE FROM pending WHERE sub_id=?1"},
    {Stmt::kUpdateLastSent, "UpdateLastSent", "UPDATE subscriptions SET last_sent=?2 WHERE id=?1"},
    {Stmt::kInsertPending, "InsertPending",
     "INSERT INTO pending(sub_id, seq, deliveries) VALUES(?1, ?2, ?3) "
     "ON CONFLICT(sub_id, seq) DO UPDATE SET deliveries=excluded.deliveries"},
    {Stmt::kDeletePending, "DeletePending", "DELETE FROM pending WHERE sub_id=?1 AND seq=?2"},
    {Stmt::kLoadSubs, "LoadSubs",
     "SELECT id, channel_id, client_id, queue, inbox, ack_inbox, durable_name, max_in_flight, "
     "ack_wait, last_sent, is_durable, is_offline FROM subscriptions ORDER BY id"},
    {Stmt::kLoadPending, "LoadPending",
     "SELECT sub_id, seq, deliveries FROM pending ORDER BY sub_id, seq"},

    {Stmt::kInsertMsg, "InsertMsg",
     "INSERT INTO messages(id, channel_id, seq, timestamp, data, crc) "
     "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
    {Stmt::kInsertMsgRun, "InsertMsgRun", nullptr},  // built by StmtSql
    {Stmt::kMaxMsgId, "MaxMsgId", "SELECT max(id) FROM messages"},
    {Stmt::kReadMsgRange, "ReadMsgRange",
     "SELECT channel_id, seq, timestamp, data, crc FROM messages WHERE id>=?1 AND id<=?2 "
     "ORDER BY id"},
    {Stmt::kScanMsgRange, "ScanMsgRange",
     "SELECT channel_id, seq, timestamp, length(data) FROM messages WHERE id>=?1 AND id<=?2 "
     "ORDER BY id"},
    {Stmt::kDeleteMsgRange, "DeleteMsgRange", "DELETE FROM messages WHERE id>=?1 AND id<=?2"},
    {Stmt::kPutSpan, "PutSpan",
     "INSERT OR REPLACE INTO spans(channel_id, first_seq, first_id) VALUES(?1, ?2, ?3)"},
    {Stmt::kLastSpan, "LastSpan",
     "SELECT first_seq, first_id FROM spans WHERE channel_id=?1 ORDER BY first_seq DESC "
     "LIMIT 1"},
    {Stmt::kSpanAt, "SpanAt",
     "SELECT first_seq FROM spans WHERE channel_id=?1 AND first_seq<=?2 "
     "ORDER BY first_seq DESC LIMIT 1"},
    {Stmt::kSpansFrom, "SpansFrom",
     "SELECT first_seq, first_id FROM spans WHERE channel_id=?1 AND first_seq>=?2 "
     "ORDER BY first_seq"},
    {Stmt::kDeleteSpansBefore, "DeleteSpansBefore",
     "DELETE FROM spans WHERE channel_id=?1 AND first_seq<?2"},
    {Stmt::kDeleteChannelSpans, "DeleteChannelSpans", "DELETE FROM spans WHERE channel_id=?1"},
    // Hops from one channel id of spans to the next through the primary key (one seek per
    // channel, however many spans each has), keeping those without a channels row.
    {Stmt::kOrphanChannels, "OrphanChannels",
     "WITH RECURSIVE ids(id) AS (SELECT (SELECT min(channel_id) FROM spans) UNION ALL "
     "SELECT (SELECT min(channel_id) FROM spans WHERE channel_id>ids.id) FROM ids "
     "WHERE ids.id IS NOT NULL) "
     "SELECT id FROM ids WHERE id IS NOT NULL AND id NOT IN (SELECT id FROM channels)"},
};
static_assert(std::size(kStmts) == kStmtCount, "every Stmt needs a row in kStmts");

constexpr bool TableInOrder() {
  for (size_t i = 0; i < std::size(kStmts); ++i) {
    if (static_cast<size_t>(kStmts[i].id) != i) return false;
  }
  return true;
}
static_assert(TableInOrder(), "kStmts rows must follow the order of enum class Stmt");

// kInsertMsgRun lists (?, ?, ?, ?, ?, ?) kInsertRun times; unnumbered parameters count up, so
// row i has ?(6i+1) .. ?(6i+6).
const std::string& InsertRunSql() {
  static const std::string sql = [] {
    std::string s = "INSERT INTO messages(id, channel_id, seq, timestamp, data, crc) VALUES";
    for (int i = 0; i < kInsertRun; ++i)
      s += i == 0 ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
    return s;
  }();
  return sql;
}

}  // namespace

const char* StmtSql(Stmt s) {
  const char* sql = kStmts[static_cast<size_t>(s)].sql;
  return sql != nullptr ? sql : InsertRunSql().c_str();
}
const char* StmtName(Stmt s) { return kStmts[static_cast<size_t>(s)].name; }

Status ExecStmt(sqlite3* db, Stmt s) {
  int rc = sqlite3_exec(db, StmtSql(s), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, std::string("statement ") + StmtName(s));
  return Status::OK();
}

Status Statements::Prepare(sqlite3* db) {
  Finalize();
  db_ = db;
  for (size_t i = static_cast<size_t>(kFirstPrepared); i < kStmtCount; ++i) {
    int rc = sqlite3_prepare_v3(db, StmtSql(static_cast<Stmt>(i)), -1, SQLITE_PREPARE_PERSISTENT,
                                &stmts_[i], nullptr);
    if (rc != SQLITE_OK) {
      Status s = SqliteStatus(db, rc, std::string("prepare statement ") + kStmts[i].name);
      Finalize();
      return s;
    }
  }
  return Status::OK();
}

void Statements::Finalize() {
  for (sqlite3_stmt*& s : stmts_) {
    sqlite3_finalize(s);  // a no-op for null
    s = nullptr;
  }
}

Status Statements::Error(Stmt s, int rc) const {
  return SqliteStatus(db_, rc, std::string("statement ") + StmtName(s));
}

StmtReset::~StmtReset() { sqlite3_reset(stmt_); }

}  // namespace tandem::store
