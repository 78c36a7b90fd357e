// sqlite_ceiling: the disk's ceiling for durable message inserts with SQLite alone, the figure
// the store's throughput is compared with. Inserts rows shaped like the store's messages
// (seq, timestamp, a blob of the size of a stored MsgProto: 158 bytes for a 128-byte payload
// on the benchmark's channel, 1055 for 1 KiB) into a table like a channel's message table
// (store/channel_tables.h: seq is the rowid), in transactions of 1,000 rows, WAL, synchronous=FULL, locking_mode=EXCLUSIVE, with
// one prepared statement; prints rows/s.
//
// Usage: sqlite_ceiling [dir] [rows] [blob_bytes]     (defaults: ./bench-data 200000 158)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <sqlite3.h>

namespace {

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

void Exec(sqlite3* db, const char* sql) {
  Check(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), sql);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "./bench-data";
  const long rows = argc > 2 ? std::atol(argv[2]) : 200000;
  const long blob_bytes = argc > 3 ? std::atol(argv[3]) : 158;
  const long kTxRows = 1000;
  if (rows <= 0 || blob_bytes <= 0) {
    std::fprintf(stderr, "usage: sqlite_ceiling [dir] [rows > 0] [blob_bytes > 0]\n");
    return 2;
  }
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ceiling.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  sqlite3* db = nullptr;
  Check(db, sqlite3_open(path.c_str(), &db), "open");
  Exec(db, "PRAGMA locking_mode=EXCLUSIVE");
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, "PRAGMA synchronous=FULL");
  Exec(db,
       "CREATE TABLE msgs_1(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, "
       "data BLOB NOT NULL)");
  sqlite3_stmt* ins = nullptr;
  Check(db,
        sqlite3_prepare_v2(db,
                           "INSERT INTO msgs_1(seq, timestamp, data) VALUES(?1, ?2, ?3)",
                           -1, &ins, nullptr),
        "prepare");
  const std::string blob(static_cast<size_t>(blob_bytes), 'm');

  auto start = std::chrono::steady_clock::now();
  long seq = 0;
  while (seq < rows) {
    Exec(db, "BEGIN IMMEDIATE");
    for (long i = 0; i < kTxRows && seq < rows; ++i) {
      ++seq;
      sqlite3_bind_int64(ins, 1, seq);
      sqlite3_bind_int64(ins, 2, seq * 1000);
      sqlite3_bind_blob(ins, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
      Check(db, sqlite3_step(ins), "insert");
      sqlite3_reset(ins);
    }
    Exec(db, "COMMIT");
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::printf(
      "sqlite_ceiling: %ld rows of %ld B in %.3f s, %ld rows/tx, WAL, synchronous=FULL: "
      "%.0f rows/s\n",
      rows, blob_bytes, secs, kTxRows, static_cast<double>(rows) / secs);
  return 0;
}
