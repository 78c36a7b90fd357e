// sqlite_store_open_test.cc: opening the store: create, reopen and the epoch, the exclusive
// lock (same process, another process, after Close and after the holder's death), no -shm
// file, and the refusal of damaged, foreign and newer files.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "store/row_checksum.h"
#include "store/schema.h"
#include "tests/store/store_fixture.h"

#include <sys/wait.h>

extern char** environ;

namespace tandem::store::testing {
namespace {

constexpr char kChildMode[] = "TANDEM_STORE_TEST_CHILD";  // "try" or "hold"
constexpr char kChildPath[] = "TANDEM_STORE_TEST_PATH";
constexpr char kChildFd[] = "TANDEM_STORE_TEST_FD";
constexpr char kChildCase[] = "store: lock probe (child process side)";
constexpr int kChildOk = 0, kChildBusy = 10, kChildOther = 20;

// The clients, subscriptions and pending tables as schema versions 1 and 2 released them.
// The channels table as released in versions 1-5.
constexpr char kReleasedChannels[] =
    "CREATE TABLE channels(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, msgs INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL, last_timestamp INTEGER NOT NULL, max_msgs INTEGER NOT NULL,"
    " max_bytes INTEGER NOT NULL, max_age INTEGER NOT NULL);";

constexpr char kReleasedSubTables[] =
    "CREATE TABLE clients(id TEXT PRIMARY KEY, hb_inbox TEXT NOT NULL,"
    " conn_id TEXT NOT NULL, protocol INTEGER NOT NULL, ping_interval INTEGER NOT NULL,"
    " ping_max_out INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE subscriptions(id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL,"
    " client_id TEXT NOT NULL, queue TEXT NOT NULL, inbox TEXT NOT NULL,"
    " ack_inbox TEXT NOT NULL, durable_name TEXT NOT NULL,"
    " max_in_flight INTEGER NOT NULL, ack_wait INTEGER NOT NULL,"
    " last_sent INTEGER NOT NULL, is_durable INTEGER NOT NULL,"
    " is_offline INTEGER NOT NULL);"
    "CREATE INDEX subscriptions_by_channel ON subscriptions(channel_id);"
    "CREATE TABLE pending(sub_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(sub_id, seq)) WITHOUT ROWID;";

// Starts this test binary again as a fresh process (fork + exec, so that it shares no SQLite
// state with us) running only the child-side case below. Returns its pid.
pid_t SpawnChild(const std::string& mode, const std::string& path, int fd = -1) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kChildMode) + "=" + mode);
  env_strings.push_back(std::string(kChildPath) + "=" + path);
  env_strings.push_back(std::string(kChildFd) + "=" + std::to_string(fd));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string filter = std::string("--test-case=") + kChildCase;
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, filter.data(), nullptr};
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execve(exe, argv, envp.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// The first column of the first row of `sql`, or -1 when there is none.
int64_t RawInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

}  // namespace

TEST_SUITE("store") {
  // Runs only inside a process started by SpawnChild(); a no-op in the normal test run.
  TEST_CASE("store: lock probe (child process side)") {
    const char* mode = getenv(kChildMode);
    if (mode == nullptr) return;
    int code = kChildOther;
    {
      TestLoop loop;
      StoreOptions options;
      options.path = getenv(kChildPath);
      Result<std::unique_ptr<Store>> r = Store::Open(options, loop.get());
      if (r.ok()) {
        code = kChildOk;
        if (std::string(mode) == "hold") {
          int fd = atoi(getenv(kChildFd));
          if (write(fd, "L", 1) != 1) _exit(kChildOther);
          for (;;) pause();  // holds the lock until killed
        }
        r.value()->Close().IgnoreError();
      } else if (r.status().IsBusy()) {
        code = kChildBusy;
      }
    }
    _exit(code);
  }

  TEST_CASE("store: open creates the directory and the file, reopen bumps the epoch") {
    TempDir dir;
    TestLoop loop;
    const std::string path = dir.path() + "/sub/dir/store.db";
    uint64_t first = 0;
    {
      auto store = OpenOk(loop, path);
      first = store->epoch();
      CHECK(first == 1);
      Result<Recovered> rec = store->Recover();
      REQUIRE(rec.ok());
      CHECK(rec->server.epoch == first);
      CHECK(rec->server.cluster_id.empty());
      CHECK(rec->channels.empty());
      CHECK(store->Close().ok());
    }
    CHECK(std::filesystem::exists(path));
    for (uint64_t i = 1; i <= 2; ++i) {
      auto store = OpenOk(loop, path);
      CHECK(store->epoch() == first + i);
      CHECK(store->Recover()->server.epoch == first + i);
      CHECK(store->Close().ok());
    }
  }

  TEST_CASE_FIXTURE(StoreRig, "store: no -shm file while open (WAL index in heap memory)") {
    auto store = OpenOk(loop, path);
    WriteBatch b;
    b.CreateChannel(testing::MakeChannel(1, "foo"));
    testing::AppendRange(b, 1, 1, 10);
    REQUIRE(testing::SubmitWait(loop, *store, std::move(b)).status.ok());
    CHECK(std::filesystem::exists(path + "-wal"));
    CHECK_FALSE(std::filesystem::exists(path + "-shm"));
    CHECK(store->Close().ok());
    CHECK_FALSE(std::filesystem::exists(path + "-shm"));
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a second open in the same process is Busy until Close") {
    auto holder = OpenOk(loop, path);
    Status s = OpenStatus(loop, path);
    CHECK(s.IsBusy());
    CHECK(s.message() == "store is locked by another process: " + path);
    CHECK(holder->Close().ok());
    CHECK(OpenStatus(loop, path).ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: another process gets Busy while we hold the lock, OK after Close") {
    auto holder = OpenOk(loop, path);
    CHECK(WaitExit(SpawnChild("try", path)) == kChildBusy);
    CHECK(holder->Close().ok());
    CHECK(WaitExit(SpawnChild("try", path)) == kChildOk);
  }

  TEST_CASE_FIXTURE(StoreRig, "store: the lock of a process that dies is free again") {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t child = SpawnChild("hold", path, fds[1]);
    close(fds[1]);
    char c = 0;
    REQUIRE(read(fds[0], &c, 1) == 1);  // the child holds the lock now
    close(fds[0]);
    CHECK(OpenStatus(loop, path).IsBusy());
    REQUIRE(kill(child, SIGKILL) == 0);
    CHECK(WaitExit(child) == -SIGKILL);
    auto store = OpenOk(loop, path);
    CHECK(store->epoch() == 2);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: TEST_skip_lock lets two instances open the same file") {
    auto a = OpenOk(loop, path, SyncMode::kFull, /*skip_lock=*/true);
    auto b = OpenOk(loop, path, SyncMode::kFull, /*skip_lock=*/true);
    CHECK(b->epoch() == a->epoch() + 1);
    CHECK(a->Close().ok());
    CHECK(b->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a file that is not a database is Corruption naming the path") {
    {
      std::ofstream out(path);
      out << std::string(8192, 'x');
    }
    Status s = OpenStatus(loop, path);
    CHECK(s.IsCorruption());
    CHECK(s.message().find(path) != std::string::npos);
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a damaged database is Corruption") {
    {
      auto store = OpenOk(loop, path);
      CHECK(store->Close().ok());
    }
    {
      // Page 1 past the 100-byte file header is the schema table's b-tree page.
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(100);
      std::string junk(1000, '\xA5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    Status s = OpenStatus(loop, path);
    INFO(s.ToString());
    CHECK(s.IsCorruption());
    CHECK(s.message().find(path) != std::string::npos);
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a newer schema version is refused") {
    {
      auto store = OpenOk(loop, path);
      CHECK(store->Close().ok());
    }
    RawExec(path, "UPDATE meta SET value=99 WHERE key='schema_version'");
    Status s = OpenStatus(loop, path);
    CHECK(s.IsCorruption());
    CHECK(s.message() == path + ": schema version 99 is newer than this binary supports (" +
                             std::to_string(kSchemaVersion) + ")");
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a version 1 store migrates to the current message table") {
    // Version 1 as released: every channel's messages in one WITHOUT ROWID table.
    RawExec(path,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "INSERT INTO meta(key, value) VALUES('ft_epoch', 4), ('max_sub_id', 0),"
            " ('max_channel_id', 2), ('schema_version', 1);"
            "CREATE TABLE messages(channel_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
            " timestamp INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(channel_id, seq))"
            " WITHOUT ROWID;");
    RawExec(path, kReleasedChannels);
    RawExec(path, kReleasedSubTables);
    RawExec(path,
            "INSERT INTO channels VALUES(1, 'foo', 2, 3, 2, 6, 30, 0, 0, 0),"
            " (2, 'bar', 1, 1, 1, 3, 10, 0, 0, 0);"
            "INSERT INTO messages VALUES(1, 2, 20, 'f-2'), (1, 3, 30, 'f-3'), (2, 1, 10, 'b-1');");
    {
      auto store = OpenOk(loop, path);
      Result<Recovered> rec = store->Recover();
      REQUIRE(rec.ok());
      REQUIRE(rec->channels.size() == 2);
      CHECK(store->epoch() == 5);
      Result<std::vector<MsgRecord>> foo = ReadWait(loop, *store, 1, 1, 10);
      REQUIRE(foo.ok());
      REQUIRE(foo->size() == 2);
      CHECK((*foo)[0].seq == 2);
      CHECK((*foo)[0].timestamp_ns == 20);
      CHECK((*foo)[0].data == "f-2");
      CHECK((*foo)[1].data == "f-3");
      Result<std::vector<MsgRecord>> bar = ReadWait(loop, *store, 2, 1, 10);
      REQUIRE(bar.ok());
      REQUIRE(bar->size() == 1);
      CHECK((*bar)[0].data == "b-1");
      // New messages go on after the migrated ones.
      WriteBatch b;
      b.AppendMsg(1, 4, 40, "f-4");
      REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
      foo = ReadWait(loop, *store, 1, 3, 10);
      REQUIRE(foo.ok());
      REQUIRE(foo->size() == 2);
      CHECK((*foo)[1].data == "f-4");
      CHECK(store->Close().ok());
    }
    CHECK(RawInt(path, "SELECT count(*) FROM messages WHERE channel_id=1") == 3);
    CHECK(RawInt(path, "SELECT count(*) FROM sqlite_schema WHERE name GLOB 'msgs_*'") == 0);
    CHECK(RawInt(path, "SELECT value FROM meta WHERE key='schema_version'") == kSchemaVersion);
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a version 2 store gets row checksums; its old rows read unverified") {
    // Version 2 as released: one message table per channel, without a crc column.
    RawExec(path,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "INSERT INTO meta(key, value) VALUES('ft_epoch', 7), ('max_sub_id', 0),"
            " ('max_channel_id', 1), ('schema_version', 2);");
    RawExec(path, kReleasedChannels);
    RawExec(path, kReleasedSubTables);
    RawExec(path,
            "INSERT INTO channels VALUES(1, 'foo', 1, 2, 2, 6, 20, 0, 0, 0);"
            "CREATE TABLE msgs_1(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL,"
            " data BLOB NOT NULL);"
            "INSERT INTO msgs_1 VALUES(1, 10, 'f-1'), (2, 20, 'f-2');");
    {
      auto store = OpenOk(loop, path);
      REQUIRE(store->Recover().ok());
      CHECK(store->epoch() == 8);
      WriteBatch b;
      b.AppendMsg(1, 3, 30, "f-3");
      REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
      Result<std::vector<MsgRecord>> foo = ReadWait(loop, *store, 1, 1, 10);
      REQUIRE(foo.ok());
      REQUIRE(foo->size() == 3);
      CHECK((*foo)[0].data == "f-1");
      CHECK((*foo)[1].data == "f-2");
      CHECK((*foo)[2].data == "f-3");
      CHECK(store->Close().ok());
    }
    CHECK(RawInt(path, "SELECT value FROM meta WHERE key='schema_version'") == kSchemaVersion);
    CHECK(RawInt(path, "SELECT count(*) FROM messages WHERE crc IS NULL") == 2);  // the old rows
    CHECK(RawInt(path, "SELECT count(*) FROM messages WHERE seq=3 AND crc IS NOT NULL") == 1);
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a version 3 store gets delivery counts; its pending rows read as 1") {
    // Version 3 as released: pending rows without a delivery count.
    RawExec(path,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "INSERT INTO meta(key, value) VALUES('ft_epoch', 2), ('max_sub_id', 1),"
            " ('max_channel_id', 1), ('schema_version', 3);");
    RawExec(path, kReleasedChannels);
    RawExec(path, kReleasedSubTables);
    RawExec(path,
            "INSERT INTO channels VALUES(1, 'foo', 1, 2, 2, 6, 20, 0, 0, 0);"
            "CREATE TABLE msgs_1(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL,"
            " data BLOB NOT NULL, crc INTEGER);"
            "INSERT INTO subscriptions VALUES(1, 1, 'c', '', 'in', 'ack', 'd', 10, 30, 2, 1, 1);"
            "INSERT INTO pending VALUES(1, 1), (1, 2);");
    {
      auto store = OpenOk(loop, path);
      Result<Recovered> rec = store->Recover();
      REQUIRE(rec.ok());
      REQUIRE(rec->subs.size() == 1);
      CHECK(rec->subs[0].pending == std::vector<uint64_t>{1, 2});
      CHECK(rec->subs[0].deliveries == std::vector<uint32_t>{1, 1});
      WriteBatch b;
      b.SetDeliveries(1, 2, 3);
      b.AddPending(1, 3, 2);
      REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
      CHECK(store->Close().ok());
    }
    CHECK(RawInt(path, "SELECT value FROM meta WHERE key='schema_version'") == kSchemaVersion);
    {
      auto store = OpenOk(loop, path);
      Result<Recovered> rec = store->Recover();
      REQUIRE(rec.ok());
      CHECK(rec->subs[0].pending == std::vector<uint64_t>{1, 2, 3});
      CHECK(rec->subs[0].deliveries == std::vector<uint32_t>{1, 3, 2});
      CHECK(store->Close().ok());
    }
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a version 4 store moves every channel's table into one table") {
    // Version 4 as released: a table per channel (rows with and without crc), delivery counts.
    RawExec(path,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "INSERT INTO meta(key, value) VALUES('ft_epoch', 3), ('max_sub_id', 1),"
            " ('max_channel_id', 3), ('schema_version', 4);");
    RawExec(path, kReleasedChannels);
    RawExec(path, kReleasedSubTables);
    RawExec(path, "ALTER TABLE pending ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 1");
    const std::string f2 = "f-2", f3 = "f-3";
    const std::string rows =
        "INSERT INTO msgs_1 VALUES(2, 20, 'f-2', " + std::to_string(RowChecksum(2, 20, f2)) +
        "), (3, 30, 'f-3', " + std::to_string(RowChecksum(3, 30, f3)) + ");";
    RawExec(path,
            "INSERT INTO channels VALUES(1, 'foo', 2, 3, 2, 6, 30, 0, 0, 0),"
            " (3, 'bar', 1, 2, 2, 6, 20, 0, 0, 0);"
            "CREATE TABLE msgs_1(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL,"
            " data BLOB NOT NULL, crc INTEGER);"
            "CREATE TABLE msgs_3(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL,"
            " data BLOB NOT NULL, crc INTEGER);"
            "INSERT INTO msgs_3 VALUES(1, 10, 'b-1', NULL), (2, 20, 'b-2', NULL);"
            "INSERT INTO subscriptions VALUES(1, 1, 'c', '', 'in', 'ack', 'd', 10, 30, 3, 1, 1);"
            "INSERT INTO pending VALUES(1, 3, 4);");
    RawExec(path, rows);
    {
      auto store = OpenOk(loop, path);
      Result<Recovered> rec = store->Recover();
      REQUIRE(rec.ok());
      REQUIRE(rec->channels.size() == 2);
      REQUIRE(rec->subs.size() == 1);
      CHECK(rec->subs[0].deliveries == std::vector<uint32_t>{4});
      // The checksummed rows are verified on the way out, the old ones read as before.
      Result<std::vector<MsgRecord>> foo = ReadWait(loop, *store, 1, 1, 10);
      REQUIRE(foo.ok());
      REQUIRE(foo->size() == 2);
      CHECK((*foo)[0].seq == 2);
      CHECK((*foo)[1].data == "f-3");
      Result<std::vector<MsgRecord>> bar = ReadWait(loop, *store, 3, 2, 10);
      REQUIRE(bar.ok());
      REQUIRE(bar->size() == 1);
      CHECK((*bar)[0].data == "b-2");
      // Appends go on after the moved rows; a channel deleted takes its moved rows along.
      WriteBatch b;
      b.AppendMsg(1, 4, 40, "f-4");
      b.DeleteChannel(3);
      REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
      foo = ReadWait(loop, *store, 1, 1, 10);
      REQUIRE(foo.ok());
      REQUIRE(foo->size() == 3);
      CHECK((*foo)[2].data == "f-4");
      CHECK(store->Close().ok());
    }
    CHECK(RawInt(path, "SELECT value FROM meta WHERE key='schema_version'") == kSchemaVersion);
    CHECK(RawInt(path, "SELECT count(*) FROM sqlite_schema WHERE name GLOB 'msgs_*'") == 0);
    CHECK(RawInt(path, "SELECT count(*) FROM messages") == 3);
    CHECK(RawInt(path, "SELECT count(*) FROM messages WHERE crc IS NULL") == 0);  // bar's went
  }

  TEST_CASE("store: a SQLite database of another program is refused") {
    TempDir dir;
    TestLoop loop;
    const std::string path = dir.File("other.db");
    RawExec(path, "CREATE TABLE foo(x)");
    Status s = OpenStatus(loop, path);
    CHECK(s.IsCorruption());
    CHECK(s.message().find("not a tandem store") != std::string::npos);
  }

  TEST_CASE("store: an unusable path is IOError naming it") {
    TempDir dir;
    TestLoop loop;
    const std::string blocker = dir.File("file");
    { std::ofstream out(blocker); }
    SUBCASE("directory cannot be created") {
      const std::string path = blocker + "/sub/store.db";
      Status s = OpenStatus(loop, path);
      CHECK(s.IsIOError());
      CHECK(s.message().find(path) != std::string::npos);
    }
    SUBCASE("path is a directory") {
      const std::string path = dir.path();
      Status s = OpenStatus(loop, path);
      CHECK(s.IsIOError());
      CHECK(s.message().find(path) != std::string::npos);
    }
  }
}

}  // namespace tandem::store::testing
