// sqlite_ceiling: the disk's ceiling for durable message inserts with SQLite alone, the figure
// the store's throughput is compared with. Inserts rows shaped like the store's messages
// (channel, seq, timestamp, a blob of the size of a stored MsgProto: 158 bytes for a 128-byte
// payload on the benchmark's channel, 1055 for 1 KiB, a crc) into a table like the store's
// (store/schema.cc: one messages table in id order, indexed by spans: a span row whenever a
// channel's append does not follow its previous one directly), in transactions of 1,000 rows,
// WAL, synchronous=FULL, locking_mode=EXCLUSIVE, one prepared statement per table; prints
// rows/s.
//
// With `channels` > 1 the rows go round-robin over that many channels (each transaction then
// touches up to 1,000 of them). `--per-channel` uses the layout of schema versions 2-4 instead
// (a rowid table per channel, seq as the rowid) so the two can be compared on one disk; its
// line also gives the time to create the tables.
//
// Usage: sqlite_ceiling [dir] [rows] [blob_bytes] [channels] [--per-channel]
//        (defaults: ./bench-data 200000 158 1)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace {

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  Check(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql.c_str());
}

sqlite3_stmt* Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  Check(db, sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr),
        sql.c_str());
  return st;
}

}  // namespace

int main(int argc, char** argv) {
  bool per_channel = false;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--per-channel") == 0)
      per_channel = true;
    else
      pos.emplace_back(argv[i]);
  }
  const std::string dir = pos.size() > 0 ? pos[0] : "./bench-data";
  const long rows = pos.size() > 1 ? std::atol(pos[1].c_str()) : 200000;
  const long blob_bytes = pos.size() > 2 ? std::atol(pos[2].c_str()) : 158;
  const long channels = pos.size() > 3 ? std::atol(pos[3].c_str()) : 1;
  const long kTxRows = 1000;
  if (rows <= 0 || blob_bytes <= 0 || channels <= 0) {
    std::fprintf(stderr,
                 "usage: sqlite_ceiling [dir] [rows > 0] [blob_bytes > 0] [channels > 0] "
                 "[--per-channel]\n");
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
  Exec(db, "PRAGMA cache_size=-32768");  // as the store

  std::vector<sqlite3_stmt*> ins;
  auto setup = std::chrono::steady_clock::now();
  Exec(db, "BEGIN IMMEDIATE");
  if (per_channel) {
    for (long c = 0; c < channels; ++c) {
      const std::string t = "msgs_" + std::to_string(c);
      Exec(db, "CREATE TABLE " + t +
                   "(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, data BLOB NOT NULL, "
                   "crc INTEGER)");
    }
  } else {
    Exec(db,
         "CREATE TABLE messages(id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, "
         "seq INTEGER NOT NULL, timestamp INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER);"
         "CREATE TABLE spans(channel_id INTEGER NOT NULL, first_seq INTEGER NOT NULL, "
         "first_id INTEGER NOT NULL, PRIMARY KEY(channel_id, first_seq)) WITHOUT ROWID");
  }
  Exec(db, "COMMIT");
  const double setup_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup).count();
  if (per_channel) {
    for (long c = 0; c < channels; ++c) {
      ins.push_back(Prepare(db, "INSERT INTO msgs_" + std::to_string(c) +
                                    "(seq, timestamp, data, crc) VALUES(?1, ?2, ?3, ?4)"));
    }
  } else {
    ins.push_back(Prepare(db,
                          "INSERT INTO messages(id, channel_id, seq, timestamp, data, crc) "
                          "VALUES(?6, ?5, ?1, ?2, ?3, ?4)"));
  }
  sqlite3_stmt* span =
      per_channel
          ? nullptr
          : Prepare(db, "INSERT INTO spans(channel_id, first_seq, first_id) VALUES(?1, ?2, ?3)");
  std::vector<long> last_id(static_cast<size_t>(channels), -1);  // per channel, for the spans
  const std::string blob(static_cast<size_t>(blob_bytes), 'm');

  auto start = std::chrono::steady_clock::now();
  long n = 0;
  while (n < rows) {
    Exec(db, "BEGIN IMMEDIATE");
    for (long i = 0; i < kTxRows && n < rows; ++i, ++n) {
      const long channel = n % channels;
      const long seq = n / channels + 1;
      sqlite3_stmt* st = ins[per_channel ? channel : 0];
      sqlite3_bind_int64(st, 1, seq);
      sqlite3_bind_int64(st, 2, seq * 1000);
      sqlite3_bind_blob(st, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, 4, 12345);
      if (!per_channel) {
        const long id = n + 1;
        sqlite3_bind_int64(st, 5, channel);
        sqlite3_bind_int64(st, 6, id);
        if (last_id[channel] != id - 1) {  // as the store: a new span unless it follows directly
          sqlite3_bind_int64(span, 1, channel);
          sqlite3_bind_int64(span, 2, seq);
          sqlite3_bind_int64(span, 3, id);
          Check(db, sqlite3_step(span), "span");
          sqlite3_reset(span);
        }
        last_id[channel] = id;
      }
      Check(db, sqlite3_step(st), "insert");
      sqlite3_reset(st);
    }
    Exec(db, "COMMIT");
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (sqlite3_stmt* st : ins) sqlite3_finalize(st);
  sqlite3_finalize(span);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::printf(
      "sqlite_ceiling: %ld rows of %ld B over %ld channel(s)%s in %.3f s (tables made in "
      "%.0f ms), %ld rows/tx, WAL, synchronous=FULL: %.0f rows/s\n",
      rows, blob_bytes, channels, per_channel ? ", a table each" : "", secs, setup_secs * 1000,
      kTxRows, static_cast<double>(rows) / secs);
  return 0;
}
