// store_fixture.h: helpers for the store tests: a temporary directory, a real uv loop that runs
// until a completion fires (bounded by a guard timer, never a sleep), synchronous wrappers
// around Submit/ReadMsgs/FindSeqByTime, the StoreRig fixture most cases start from, and
// reopening a store to see what it recovers, SQL run on an idle store's connection, and small
// record makers and finders.
#pragma once

#include <stdlib.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "store/sqlite_store.h"
#include "store/store.h"

namespace tandem::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-store-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class TestLoop {
 public:
  TestLoop() { REQUIRE(uv_loop_init(&loop_) == 0); }
  // Every store must be closed by now; this runs the close callbacks and checks that no handle
  // is left.
  ~TestLoop() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  uv_loop_t* get() { return &loop_; }

  // Runs the loop until `done()` holds; gives up after 30 s (guard timer) and returns false.
  bool RunUntil(const std::function<bool()>& done) {
    uv_timer_t guard;
    bool expired = false;
    uv_timer_init(&loop_, &guard);
    guard.data = &expired;
    uv_timer_start(
        &guard, [](uv_timer_t* t) noexcept { *static_cast<bool*>(t->data) = true; }, 30000, 0);
    while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // runs the guard's close
    return done();
  }

 private:
  uv_loop_t loop_;
};

struct CommitOutcome {
  bool done = false;
  Status status;
  BatchResult result;
};

inline CommitOutcome SubmitWait(TestLoop& loop, Store& store, WriteBatch batch) {
  CommitOutcome out;
  store.Submit(std::move(batch), [&out](const Status& s, const BatchResult& r) {
    out.done = true;
    out.status = s;
    out.result = r;
  });
  REQUIRE(loop.RunUntil([&] { return out.done; }));
  return out;
}

inline Result<std::vector<MsgRecord>> ReadWait(TestLoop& loop, Store& store, int64_t channel,
                                               uint64_t from, size_t max) {
  std::unique_ptr<Result<std::vector<MsgRecord>>> out;
  store.ReadMsgs(channel, from, max, [&out](Result<std::vector<MsgRecord>> r) {
    out = std::make_unique<Result<std::vector<MsgRecord>>>(std::move(r));
  });
  REQUIRE(loop.RunUntil([&] { return out != nullptr; }));
  return std::move(*out);
}

inline Result<uint64_t> FindWait(TestLoop& loop, Store& store, int64_t channel, int64_t ts) {
  std::unique_ptr<Result<uint64_t>> out;
  store.FindSeqByTime(channel, ts, [&out](Result<uint64_t> r) {
    out = std::make_unique<Result<uint64_t>>(std::move(r));
  });
  REQUIRE(loop.RunUntil([&] { return out != nullptr; }));
  return std::move(*out);
}

// Runs `sql` on the store's connection while the store thread is idle. A completion can run on
// the loop a moment before the store thread marks itself idle, so Busy is tried again, for at
// most 5 s.
inline Status Exec(SqliteStore& store, const std::string& sql) {
  auto run = [&store, &sql] {
    return store.TEST_RunIdle([&sql](sqlite3* db) {
      char* err = nullptr;
      int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
      std::string msg = err ? err : "";
      sqlite3_free(err);
      return rc == SQLITE_OK ? Status::OK() : Status::IOError(sql, msg);
    });
  };
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  Status s = run();
  while (s.IsBusy() && std::chrono::steady_clock::now() < end) {
    std::this_thread::yield();
    s = run();
  }
  return s;
}

// The first column of the first row of `sql` run on the store's connection while it is idle
// (-1 when there is no row).
inline int64_t QueryInt(SqliteStore& store, const std::string& sql) {
  int64_t n = -1;
  Status s = store.TEST_RunIdle([&n, &sql](sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? Status::OK() : Status::IOError(sql, sqlite3_errstr(rc));
  });
  REQUIRE(s.ok());
  return n;
}

// `pause_reclaim`: deleted channels' messages stay until TEST_PauseReclaim(false).
inline std::unique_ptr<SqliteStore> OpenOk(TestLoop& loop, const std::string& path,
                                           SyncMode sync = SyncMode::kFull,
                                           bool skip_lock = false, bool pause_reclaim = false) {
  StoreOptions options;
  options.path = path;
  options.sync = sync;
  options.TEST_skip_lock = skip_lock;
  options.TEST_pause_reclaim = pause_reclaim;
  Result<std::unique_ptr<SqliteStore>> r = SqliteStore::OpenSqlite(options, loop.get());
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// A store opened again with what its Recover() returned (REQUIREd ok); the caller closes it.
struct Reopened {
  std::unique_ptr<SqliteStore> store;
  Result<Recovered> r;
};

// Opens the store at `path` again (SyncMode::kFull) and recovers it.
inline Reopened Reopen(TestLoop& loop, const std::string& path) {
  std::unique_ptr<SqliteStore> store = OpenOk(loop, path);
  Result<Recovered> r = store->Recover();
  REQUIRE(r.ok());
  return Reopened{std::move(store), std::move(r)};
}

inline Status OpenStatus(TestLoop& loop, const std::string& path) {
  StoreOptions options;
  options.path = path;
  Result<std::unique_ptr<Store>> r = Store::Open(options, loop.get());
  if (r.ok()) REQUIRE(r.value()->Close().ok());
  return r.status();
}

// A temporary directory, a loop, and the path of a store file in it (not created yet), as a
// doctest fixture: what most store cases start from.
struct StoreRig {
  TempDir dir;
  TestLoop loop;
  const std::string path = dir.File("store.db");
};

inline ChannelRecord MakeChannel(int64_t id, const std::string& name, ChannelLimits limits = {}) {
  ChannelRecord c;
  c.id = id;
  c.name = name;
  c.limits = limits;
  return c;
}

// Appends seqs [from, to] to a channel, each `size` bytes, timestamp = seq * 1000.
inline void AppendRange(WriteBatch& b, int64_t channel, uint64_t from, uint64_t to,
                        size_t size = 100) {
  for (uint64_t seq = from; seq <= to; ++seq) {
    b.AppendMsg(channel, seq, static_cast<int64_t>(seq) * 1000,
                std::string(size, static_cast<char>('a' + seq % 26)));
  }
}

inline std::vector<uint64_t> Seqs(const std::vector<MsgRecord>& msgs) {
  std::vector<uint64_t> out;
  for (const MsgRecord& m : msgs) out.push_back(m.seq);
  return out;
}

inline std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t s = from; s <= to; ++s) out.push_back(s);
  return out;
}

inline const ChannelRecord* FindChannel(const Recovered& r, int64_t id) {
  for (const ChannelRecord& c : r.channels) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

inline SubRecord MakeSub(uint64_t id, int64_t channel, const std::string& client) {
  SubRecord s;
  s.id = id;
  s.channel_id = channel;
  s.client_id = client;
  s.inbox = "_INBOX.deliver." + std::to_string(id);
  s.ack_inbox = "_INBOX.ack." + std::to_string(id);
  s.max_in_flight = 1024;
  s.ack_wait_s = 30;
  return s;
}

}  // namespace tandem::store::testing
