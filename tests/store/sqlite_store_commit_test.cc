// sqlite_store_commit_test.cc: the commit path: group commit (order, one transaction for many
// batches), coalescing inside a transaction, sticky errors (disk full, fencing), recovery cost
// independent of the number of messages, and Close (frees the lock, later calls are refused).
#include <chrono>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "tests/store/store_fixture.h"

namespace tandem::store::testing {
namespace {

int64_t TotalChanges(SqliteStore& store) {
  int64_t n = -1;
  Status s = store.TEST_RunIdle([&n](sqlite3* db) {
    n = sqlite3_total_changes64(db);
    return Status::OK();
  });
  REQUIRE(s.ok());
  return n;
}

// Submits `a` and `b` while the store thread is held, so that they commit in one transaction,
// and waits for both (each must succeed).
void SubmitTogether(TestLoop& loop, SqliteStore& store, WriteBatch a, WriteBatch b) {
  store.TEST_Hold(true);
  int done = 0;
  auto count = [&done](const Status& s, const BatchResult&) {
    CHECK(s.ok());
    ++done;
  };
  store.Submit(std::move(a), count);
  store.Submit(std::move(b), count);
  store.TEST_Hold(false);
  REQUIRE(loop.RunUntil([&] { return done == 2; }));
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE_FIXTURE(
      StoreRig, "store: batches queued together commit in one transaction, completing in order") {
    auto store = OpenOk(loop, path);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo", ChannelLimits{40, 0, 0}));
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    const uint64_t before = store->TEST_transactions();
    const int64_t changes = TotalChanges(*store);

    store->TEST_Hold(true);
    std::vector<int> order;
    std::vector<ChannelStats> stats;
    const int kBatches = 50;
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch b;
      b.AppendMsg(1, static_cast<uint64_t>(i + 1), i, "x");
      store->Submit(std::move(b), [&order, &stats, i](const Status& s, const BatchResult& r) {
        CHECK(s.ok());
        order.push_back(i);
        REQUIRE(r.channels.size() == 1);
        stats.push_back(r.channels[0]);
      });
      if (i == 10) {  // a read in the middle keeps its place in the completion order
        store->ReadMsgs(1, 1, 100, [&order](Result<std::vector<MsgRecord>> r) {
          CHECK(r.ok());
          CHECK(r->empty());  // reads of a round see the state before its writes
          order.push_back(-1);
        });
      }
    }
    uv_run(loop.get(), UV_RUN_NOWAIT);
    CHECK(order.empty());  // held: nothing ran
    store->TEST_Hold(false);
    REQUIRE(loop.RunUntil([&] { return order.size() == kBatches + 1; }));

    std::vector<int> expected;
    for (int i = 0; i < kBatches; ++i) {
      expected.push_back(i);
      if (i == 10) expected.push_back(-1);
    }
    CHECK(order == expected);
    CHECK(store->TEST_transactions() == before + 1);
    // Rows written: 50 messages, 10 trimmed one by one, the channel's counters once, one span
    // (the appends follow each other; trimming rewrites no span).
    CHECK(TotalChanges(*store) - changes == 50 + 10 + 1 + 1);
    // Each batch reports the counters as of its own end, trimming included.
    CHECK(stats[0].msgs == 1);
    CHECK(stats[39].msgs == 40);
    CHECK(stats[39].first_seq == 1);
    CHECK(stats[49].first_seq == 11);
    CHECK(stats[49].last_seq == 50);
    CHECK(stats[49].msgs == 40);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(
      StoreRig,
      "store: AddPending and RemovePending of one pair in one transaction write nothing") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    SubRecord sub;
    sub.id = 1;
    sub.channel_id = 1;
    setup.PutSub(sub);
    setup.AddPending(1, 7);
    // Statements prepared before the channel's table was created are prepared again on their
    // first run, which SQLite counts twice: run them once here.
    setup.RemovePending(1, 99);
    setup.UpdateLastSent(1, 0);
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    const int64_t changes = TotalChanges(*store);
    const int inserts = store->TEST_StmtRuns(Stmt::kInsertPending);
    const int deletes = store->TEST_StmtRuns(Stmt::kDeletePending);
    const int updates = store->TEST_StmtRuns(Stmt::kUpdateLastSent);

    WriteBatch a;
    a.AddPending(1, 8);
    a.UpdateLastSent(1, 8);
    WriteBatch b;
    b.RemovePending(1, 8);
    b.AddPending(1, 9);
    b.UpdateLastSent(1, 9);
    b.RemovePending(1, 7);  // stored earlier: a real delete
    SubmitTogether(loop, *store, std::move(a), std::move(b));
    // Written: pending (1,9), delete (1,7), last_sent once. Not (1,8), not last_sent 8.
    CHECK(TotalChanges(*store) - changes == 3);
    CHECK(store->TEST_StmtRuns(Stmt::kInsertPending) - inserts == 1);
    CHECK(store->TEST_StmtRuns(Stmt::kDeletePending) - deletes == 1);
    CHECK(store->TEST_StmtRuns(Stmt::kUpdateLastSent) - updates == 1);
    CHECK(store->Close().ok());

    auto [again, r] = Reopen(loop, path);
    REQUIRE(r->subs.size() == 1);
    CHECK(r->subs[0].pending == std::vector<uint64_t>{9});
    CHECK(r->subs[0].last_sent == 9);
    CHECK(again->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: delivery counts of pending rows are kept, updated and removed") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    SubRecord sub;
    sub.id = 1;
    sub.channel_id = 1;
    setup.PutSub(sub);
    setup.AddPending(1, 7, 2);
    setup.AddPending(1, 8);
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    WriteBatch b;
    b.SetDeliveries(1, 7, 3);  // written earlier: updated
    b.SetDeliveries(1, 8, 2);  // written earlier, then removed in the same transaction: deleted
    b.RemovePending(1, 8);
    b.AddPending(1, 9, 1);  // added and counted again in one transaction: one row, count 2
    b.SetDeliveries(1, 9, 2);
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    CHECK(store->Close().ok());

    auto [again, r] = Reopen(loop, path);
    REQUIRE(r->subs.size() == 1);
    CHECK(r->subs[0].pending == std::vector<uint64_t>{7, 9});
    CHECK(r->subs[0].deliveries == std::vector<uint32_t>{3, 2});
    CHECK(again->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: pending ops of many pairs, interleaved over a group, fold per pair") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    for (uint64_t id : {1, 2}) {
      SubRecord sub;
      sub.id = id;
      sub.channel_id = 1;
      setup.PutSub(sub);
    }
    setup.AddPending(1, 6, 2);
    setup.AddPending(2, 9);
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    const int inserts = store->TEST_StmtRuns(Stmt::kInsertPending);
    const int deletes = store->TEST_StmtRuns(Stmt::kDeletePending);

    WriteBatch a;
    a.AddPending(2, 5);
    a.AddPending(1, 5);
    a.RemovePending(2, 5);
    a.RemovePending(1, 6);  // stored earlier, removed, then added again: one row, count 4
    a.AddPending(2, 7);
    WriteBatch b;
    b.AddPending(2, 5, 3);  // added, removed and added again: one row, count 3
    b.AddPending(1, 6, 4);
    b.RemovePending(2, 7);  // added and removed within the group: nothing
    b.RemovePending(2, 9);  // stored earlier: deleted
    b.SetDeliveries(1, 5, 2);
    SubmitTogether(loop, *store, std::move(a), std::move(b));
    CHECK(store->TEST_StmtRuns(Stmt::kInsertPending) - inserts == 3);  // (1,5) (1,6) (2,5)
    CHECK(store->TEST_StmtRuns(Stmt::kDeletePending) - deletes == 1);  // (2,9)
    CHECK(store->Close().ok());

    auto [again, r] = Reopen(loop, path);
    REQUIRE(r->subs.size() == 2);
    for (const SubRecord& sub : r->subs) {
      if (sub.id == 1) {
        CHECK(sub.pending == std::vector<uint64_t>{5, 6});
        CHECK(sub.deliveries == std::vector<uint32_t>{2, 4});
      } else {
        CHECK(sub.pending == std::vector<uint64_t>{5});
        CHECK(sub.deliveries == std::vector<uint32_t>{3});
      }
    }
    CHECK(again->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: disk full is sticky: that batch, every later one and reads fail") {
    auto store = OpenOk(loop, path);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    AppendRange(setup, 1, 1, 2);
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    int64_t pages = 0;
    REQUIRE(store
                ->TEST_RunIdle([&pages](sqlite3* db) {
                  sqlite3_stmt* st = nullptr;
                  sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, nullptr);
                  if (sqlite3_step(st) == SQLITE_ROW) pages = sqlite3_column_int64(st, 0);
                  sqlite3_finalize(st);
                  return Status::OK();
                })
                .ok());
    REQUIRE(pages > 0);
    REQUIRE(Exec(*store, "PRAGMA max_page_count=" + std::to_string(pages + 2)).ok());

    WriteBatch big;
    AppendRange(big, 1, 3, 100, 4000);
    auto c = SubmitWait(loop, *store, std::move(big));
    CHECK(c.status.IsIOError());
    CHECK(c.status.message().find("disk full") != std::string::npos);
    CHECK(store->health().ToString() == c.status.ToString());

    WriteBatch tiny;
    AppendRange(tiny, 1, 3, 3, 1);
    auto later = SubmitWait(loop, *store, std::move(tiny));
    CHECK(later.status.ToString() == c.status.ToString());
    CHECK(ReadWait(loop, *store, 1, 1, 10).status().ToString() == c.status.ToString());
    CHECK(store->Close().ok());

    auto [again, r] = Reopen(loop, path);
    CHECK(r->channels[0].last_seq == 2);
    CHECK(r->channels[0].msgs == 2);
    CHECK(ReadWait(loop, *again, 1, 1, 10)->size() == 2);
    CHECK(again->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a failed sync of the WAL is sticky: that batch and every later one fail") {
    auto store = OpenOk(loop, path);  // sync full: the sync thread flushes
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    AppendRange(setup, 1, 1, 2);
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());

    store->TEST_FailNextSync(Status::IOError("store.db-wal", "fdatasync: Input/output error"));
    WriteBatch b;
    AppendRange(b, 1, 3, 3);
    auto failed = SubmitWait(loop, *store, std::move(b));
    CHECK(failed.status.IsIOError());
    CHECK(failed.status.message().find("fdatasync") != std::string::npos);
    CHECK(store->health().ToString() == failed.status.ToString());
    // A later sync would succeed, but what the failed one covered may be lost: still refused.
    WriteBatch later;
    AppendRange(later, 1, 4, 4);
    CHECK(SubmitWait(loop, *store, std::move(later)).status.ToString() ==
          failed.status.ToString());
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: SubmitStaged reports the commit before the sync, then the sync") {
    auto store = OpenOk(loop, path);  // sync full: the sync thread flushes
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());

    // With the sync thread held, batches still commit and report it, one after the other.
    store->TEST_HoldSync(true);
    std::vector<std::string> events;
    std::vector<uint64_t> last_seqs;
    for (uint64_t seq = 1; seq <= 2; ++seq) {
      WriteBatch b;
      AppendRange(b, 1, seq, seq);
      store->SubmitStaged(
          std::move(b),
          [&, seq](const Status& s, const BatchResult& r) {
            events.push_back("applied " + std::to_string(seq) + (s.ok() ? "" : " failed"));
            if (!r.channels.empty()) last_seqs.push_back(r.channels[0].last_seq);
          },
          [&, seq](const Status& s, const BatchResult&) {
            events.push_back("durable " + std::to_string(seq) + (s.ok() ? "" : " failed"));
          });
      REQUIRE(loop.RunUntil([&] { return events.size() == seq; }));
    }
    CHECK(events == std::vector<std::string>{"applied 1", "applied 2"});
    CHECK(last_seqs == std::vector<uint64_t>{1, 2});
    store->TEST_HoldSync(false);
    REQUIRE(loop.RunUntil([&] { return events.size() == 4; }));
    CHECK(events ==
          std::vector<std::string>{"applied 1", "applied 2", "durable 1", "durable 2"});
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a batch nobody waits for shares the next batch's sync") {
    // A delivery's positions and acks would otherwise cost a second fdatasync per message,
    // and the next message's sync would queue behind theirs.
    using Clock = std::chrono::steady_clock;
    auto store = OpenOk(loop, path);  // sync full: the sync thread flushes
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    uint64_t seq = 0;
    int64_t channel = 100;
    auto unwaited = [&] {  // any change will do: a new channel
      WriteBatch b;
      b.CreateChannel(MakeChannel(channel, "u" + std::to_string(channel)));
      ++channel;
      b.set_unwaited();
      return b;
    };

    // Alone, it is synced once kUnwaitedSyncMs passed without a batch to share with.
    const uint64_t before = store->syncs();
    Clock::time_point applied_at, durable_at;
    bool durable = false;
    store->SubmitStaged(
        unwaited(), [&](const Status& s, const BatchResult&) {
          CHECK(s.ok());
          applied_at = Clock::now();
        },
        [&](const Status& s, const BatchResult&) {
          CHECK(s.ok());
          durable_at = Clock::now();
          durable = true;
        });
    REQUIRE(loop.RunUntil([&] { return durable; }));
    CHECK(durable_at - applied_at >=
          std::chrono::milliseconds(SqliteStore::kUnwaitedSyncMs - 2));
    CHECK(store->syncs() == before + 1);

    // A batch somebody waits for, arriving meanwhile, takes it along: one sync for both, in
    // order. The second batch must reach the sync thread within kUnwaitedSyncMs, which a
    // stalled machine may miss once; a few tries make that a certainty.
    bool shared = false;
    for (int attempt = 0; attempt < 5 && !shared; ++attempt) {
      const uint64_t at_start = store->syncs();
      std::vector<std::string> events;
      store->SubmitStaged(
          unwaited(),
          [&](const Status&, const BatchResult&) {
            WriteBatch w;
            ++seq;
            AppendRange(w, 1, seq, seq);
            store->Submit(std::move(w), [&](const Status& s, const BatchResult&) {
              events.push_back(s.ok() ? "waited" : "waited failed");
            });
          },
          [&](const Status& s, const BatchResult&) {
            events.push_back(s.ok() ? "unwaited" : "unwaited failed");
          });
      REQUIRE(loop.RunUntil([&] { return events.size() == 2; }));
      CHECK(events == std::vector<std::string>{"unwaited", "waited"});
      shared = store->syncs() == at_start + 1;
      MESSAGE("attempt " << attempt << ": " << store->syncs() - at_start << " syncs");
    }
    CHECK(shared);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: an instance whose epoch moved on is fenced and writes nothing more") {
    auto a = OpenOk(loop, path, SyncMode::kFull, /*skip_lock=*/true);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    AppendRange(setup, 1, 1, 1);
    REQUIRE(SubmitWait(loop, *a, std::move(setup)).status.ok());

    auto b = OpenOk(loop, path, SyncMode::kFull, /*skip_lock=*/true);  // bumps the epoch
    WriteBatch stale;
    AppendRange(stale, 1, 2, 2);
    auto c = SubmitWait(loop, *a, std::move(stale));
    CHECK(c.status.IsFenced());
    CHECK(a->health().IsFenced());
    WriteBatch stale2;
    AppendRange(stale2, 1, 2, 2);
    CHECK(SubmitWait(loop, *a, std::move(stale2)).status.IsFenced());

    WriteBatch fresh;
    AppendRange(fresh, 1, 2, 3);
    CHECK(SubmitWait(loop, *b, std::move(fresh)).status.ok());
    CHECK(a->Close().ok());
    CHECK(b->Close().ok());

    auto [check, r] = Reopen(loop, path);
    CHECK(r->channels[0].last_seq == 3);
    CHECK(r->channels[0].msgs == 3);
    CHECK(check->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: the WAL is checkpointed between jobs, never behind a commit") {
    // A checkpoint syncs the WAL and store.db and takes milliseconds: run in line it delays the
    // commit that triggered it and every job queued meanwhile. Commits one at a time (each
    // leaves the queue empty) fill the WAL past kCheckpointFrames again and again: the store
    // thread checkpoints after them, no commit does, and the WAL stays below the in-line bound.
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    const std::string data(8192, 'c');  // a leaf and two overflow pages per commit
    for (int i = 0; i < SqliteStore::kCheckpointFrames; ++i) {
      WriteBatch b;
      b.AppendMsg(1, static_cast<uint64_t>(i + 1), i, data);
      REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    }
    const SqliteStore::Checkpoints c = store->TEST_checkpoints();
    MESSAGE("checkpoints between jobs " << c.between_jobs << ", in line " << c.in_line
                                        << ", WAL at most " << c.max_wal_frames << " frames");
    CHECK(c.between_jobs >= 2);
    CHECK(c.in_line == 0);
    CHECK(c.max_wal_frames >= SqliteStore::kCheckpointFrames);
    CHECK(c.max_wal_frames < SqliteStore::kCheckpointInlineFrames);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a commit that takes the WAL to its bound checkpoints in line") {
    // Jobs that never leave a gap: everything queued while the store thread is held is one
    // round, whose commit takes the WAL past kCheckpointInlineFrames; it checkpoints at once.
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch setup;
    setup.CreateChannel(MakeChannel(1, "foo"));
    REQUIRE(SubmitWait(loop, *store, std::move(setup)).status.ok());
    store->TEST_Hold(true);
    const std::string data(8192, 'c');
    int done = 0;
    const int kBatches = SqliteStore::kCheckpointInlineFrames;  // 2+ frames each
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch b;
      b.AppendMsg(1, static_cast<uint64_t>(i + 1), i, data);
      store->Submit(std::move(b), [&](const Status& s, const BatchResult&) {
        CHECK(s.ok());
        ++done;
      });
    }
    store->TEST_Hold(false);
    REQUIRE(loop.RunUntil([&] { return done == kBatches; }));
    const SqliteStore::Checkpoints c = store->TEST_checkpoints();
    CHECK(c.max_wal_frames >= SqliteStore::kCheckpointInlineFrames);
    CHECK(c.in_line == 1);
    CHECK(c.between_jobs == 0);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: Open and Recover do not read the messages") {
    auto pages_read_by_recovery = [&](uint64_t msgs) {
      {
        auto store = OpenOk(loop, path, SyncMode::kNormal);
        Result<Recovered> r = store->Recover();
        REQUIRE(r.ok());
        uint64_t last = r->channels.empty() ? 0 : r->channels[0].last_seq;
        WriteBatch b;
        if (r->channels.empty()) b.CreateChannel(MakeChannel(1, "foo"));
        AppendRange(b, 1, last + 1, msgs, 150);
        REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
        CHECK(store->Close().ok());
      }
      auto store = OpenOk(loop, path);
      Result<Recovered> r = store->Recover();
      REQUIRE(r.ok());
      CHECK(r->channels[0].msgs == msgs);
      CHECK(r->channels[0].bytes == msgs * 150);
      int misses = -1, hi = 0;
      REQUIRE(store
                  ->TEST_RunIdle([&](sqlite3* db) {
                    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &misses, &hi, 0);
                    return Status::OK();
                  })
                  .ok());
      CHECK(store->Close().ok());
      return misses;
    };
    const int small = pages_read_by_recovery(100);
    const int large = pages_read_by_recovery(20000);  // ~800 pages of messages
    INFO("pages read: " << small << " with 100 messages, " << large << " with 20000");
    CHECK(large < 40);
    CHECK(large <= small + 2);
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: Close completes queued batches, frees the lock, then refuses work") {
    auto store = OpenOk(loop, path);
    store->TEST_Hold(true);
    bool committed = false;
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo"));
    store->Submit(std::move(b), [&committed](const Status& s, const BatchResult&) {
      CHECK(s.ok());
      committed = true;
    });
    CHECK(store->Close().ok());  // releases the hold and waits
    CHECK(committed);

    CHECK(store->Recover().status().IsInvalidArgument());  // only before any work

    bool refused = false;
    store->Submit(WriteBatch(), [&refused](const Status& s, const BatchResult&) {
      refused = s.IsShutdownInProgress();
    });
    CHECK(refused);

    auto next = OpenOk(loop, path);
    CHECK(next->Recover()->channels.size() == 1);
    CHECK(next->Close().ok());
  }
}

}  // namespace tandem::store::testing
