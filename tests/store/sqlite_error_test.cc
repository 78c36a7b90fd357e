// sqlite_error_test.cc: the SQLite result code -> Status mapping.
#include "store/sqlite_error.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

namespace tandem::store {

TEST_SUITE("store") {
  TEST_CASE("store: SQLite codes map to Busy, Corruption and IOError") {
    CHECK(SqliteStatus(nullptr, SQLITE_BUSY, "x").IsBusy());
    CHECK(SqliteStatus(nullptr, SQLITE_BUSY_SNAPSHOT, "x").IsBusy());
    CHECK(SqliteStatus(nullptr, SQLITE_CORRUPT, "x").IsCorruption());
    CHECK(SqliteStatus(nullptr, SQLITE_NOTADB, "x").IsCorruption());
    Status full = SqliteStatus(nullptr, SQLITE_FULL, "statement InsertMsg");
    CHECK(full.IsIOError());
    CHECK(full.message() == "statement InsertMsg: disk full");
    Status io = SqliteStatus(nullptr, SQLITE_IOERR_FSYNC, "commit");
    CHECK(io.IsIOError());
    CHECK(io.message() == std::string("commit: ") + sqlite3_errstr(SQLITE_IOERR_FSYNC));
  }

  TEST_CASE("store: the message comes from the connection when there is one") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    int rc = sqlite3_exec(db, "SELECT * FROM missing", nullptr, nullptr, nullptr);
    Status s = SqliteStatus(db, rc, "statement Probe");
    CHECK(s.IsIOError());
    CHECK(s.message() == "statement Probe: no such table: missing");
    sqlite3_close(db);
  }
}

}  // namespace tandem::store
