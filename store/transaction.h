// transaction.h: an RAII SQLite transaction that rolls back unless Commit() succeeded.
//
// Every change made of several statements runs inside one, so it is all or nothing:
//   Transaction tx(db);
//   if (Status s = tx.Begin(Stmt::kBeginImmediate); !s.ok()) return s;
//   ... statements ...
//   return tx.Commit();  // any early return rolls back
//
// Ownership: borrows the connection, which must outlive the object.
// Thread safety: none; used by the thread that owns the connection.
#pragma once

#include "store/sql_statements.h"
#include "store/status.h"

namespace tandem::store {

class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // REQUIRES: `begin` is Stmt::kBeginImmediate or Stmt::kBeginExclusive; not yet begun.
  Status Begin(Stmt begin);
  // REQUIRES: Begin() succeeded. After a failed Commit() the destructor still rolls back.
  Status Commit();

 private:
  sqlite3* const db_;
  bool open_ = false;  // begun and neither committed nor rolled back
};

}  // namespace tandem::store
