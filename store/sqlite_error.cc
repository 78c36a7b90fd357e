// sqlite_error.cc: maps SQLite result codes to Status (see sqlite_error.h).
#include "store/sqlite_error.h"

#include <string>

#include <sqlite3.h>

namespace tandem::store {

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  // Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_FSYNC, ...) share the low byte.
  const int primary = rc & 0xff;
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(what, detail);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(what, detail);
    case SQLITE_FULL:
      return Status::DiskFull(what);
    default:
      return Status::IOError(what, detail);
  }
}

}  // namespace tandem::store
