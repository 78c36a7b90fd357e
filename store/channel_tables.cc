// channel_tables.cc: the SQL of the per-channel message tables and their statement cache (see
// channel_tables.h). Parameters are numbered (?1, ?2, ...) so binding code can name them.
#include "store/channel_tables.h"

#include <iterator>
#include <string>

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/sqlite_error.h"

namespace tandem::store {
namespace {

struct MsgStmtDef {
  MsgStmt id;
  const char* name;
  const char* sql;  // {0} is the table name; null: built by SqlOf
};

constexpr MsgStmtDef kMsgStmts[] = {
    {MsgStmt::kInsertMsg, "InsertMsg",
     "INSERT INTO {0}(seq, timestamp, data, crc) VALUES(?1, ?2, ?3, ?4)"},
    {MsgStmt::kInsertMsgRun, "InsertMsgRun", nullptr},
    {MsgStmt::kScanOldest, "ScanOldest",
     "SELECT seq, timestamp, length(data) FROM {0} WHERE seq>=?1 ORDER BY seq"},
    {MsgStmt::kDeleteMsgsBefore, "DeleteMsgsBefore", "DELETE FROM {0} WHERE seq<?1"},
    {MsgStmt::kReadMsgs, "ReadMsgs",
     "SELECT seq, timestamp, data, crc FROM {0} WHERE seq>=?1 ORDER BY seq LIMIT ?2"},
    {MsgStmt::kProbeSeq, "ProbeSeq",
     "SELECT seq, timestamp FROM {0} WHERE seq>=?1 ORDER BY seq LIMIT 1"},
};
static_assert(std::size(kMsgStmts) == static_cast<size_t>(MsgStmt::kCount),
              "every MsgStmt needs a row in kMsgStmts");

constexpr bool TableInOrder() {
  for (size_t i = 0; i < std::size(kMsgStmts); ++i) {
    if (static_cast<size_t>(kMsgStmts[i].id) != i) return false;
  }
  return true;
}
static_assert(TableInOrder(), "kMsgStmts rows must follow the order of enum class MsgStmt");

// The SQL of a statement on `table`. kInsertMsgRun lists (?, ?, ?, ?) kInsertRun times;
// unnumbered parameters count up, so row i has ?(4i+1) .. ?(4i+4).
std::string SqlOf(const MsgStmtDef& def, const std::string& table) {
  if (def.sql != nullptr) return fmt::format(fmt::runtime(def.sql), table);
  std::string sql = "INSERT INTO " + table + "(seq, timestamp, data, crc) VALUES(?, ?, ?, ?)";
  for (int i = 1; i < kInsertRun; ++i) sql += ", (?, ?, ?, ?)";
  return sql;
}

}  // namespace

std::string ChannelTables::TableName(int64_t channel_id) {
  return fmt::format("msgs_{}", channel_id);
}

std::string ChannelTables::CreateSql(int64_t channel_id) {
  return fmt::format(
      "CREATE TABLE {}(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, data BLOB NOT NULL,"
      " crc INTEGER)",
      TableName(channel_id));
}

Status ChannelTables::Create(int64_t channel_id) {
  const std::string sql = CreateSql(channel_id);
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "create " + TableName(channel_id));
  return Status::OK();
}

Status ChannelTables::Drop(int64_t channel_id) {
  if (auto it = prepared_.find(channel_id); it != prepared_.end()) {
    FinalizeChannel(it->second);
    prepared_.erase(it);
  }
  const std::string sql = "DROP TABLE IF EXISTS " + TableName(channel_id);
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "drop " + TableName(channel_id));
  return Status::OK();
}

sqlite3_stmt* ChannelTables::Get(int64_t channel_id, MsgStmt which, Status* status) {
  Prepared& p = prepared_[channel_id];  // value-initialized: all null
  sqlite3_stmt*& st = p[static_cast<size_t>(which)];
  if (st != nullptr) return st;
  const MsgStmtDef& def = kMsgStmts[static_cast<size_t>(which)];
  const std::string sql = SqlOf(def, TableName(channel_id));
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) {
    *status = SqliteStatus(
        db_, rc, fmt::format("prepare statement {} on {}", def.name, TableName(channel_id)));
    sqlite3_finalize(st);
    st = nullptr;
  }
  return st;
}

Status ChannelTables::Error(int64_t channel_id, MsgStmt which, int rc) const {
  return SqliteStatus(db_, rc,
                      fmt::format("statement {} on {}", kMsgStmts[static_cast<size_t>(which)].name,
                                  TableName(channel_id)));
}

void ChannelTables::FinalizeChannel(Prepared& p) {
  for (sqlite3_stmt*& st : p) {
    sqlite3_finalize(st);  // a no-op for null
    st = nullptr;
  }
}

void ChannelTables::Finalize() {
  for (auto& [id, p] : prepared_) FinalizeChannel(p);
  prepared_.clear();
}

}  // namespace tandem::store
