// transaction.cc: BEGIN / COMMIT / ROLLBACK for Transaction (see transaction.h).
#include "store/transaction.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace tandem::store {

Status Transaction::Begin(Stmt begin) {
  Status s = ExecStmt(db_, begin);
  open_ = s.ok();
  return s;
}

Status Transaction::Commit() {
  Status s = ExecStmt(db_, Stmt::kCommit);
  if (s.ok()) open_ = false;
  return s;
}

Transaction::~Transaction() {
  // SQLite rolls some failures back on its own (SQLITE_FULL, SQLITE_IOERR); autocommit tells
  // whether a transaction is still open.
  if (!open_ || sqlite3_get_autocommit(db_)) return;
  Status s = ExecStmt(db_, Stmt::kRollback);
  if (!s.ok()) spdlog::error("store: rollback failed: {}", s.ToString());
}

}  // namespace tandem::store
