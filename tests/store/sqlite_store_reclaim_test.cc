// sqlite_store_reclaim_test.cc: a deleted channel's messages are reclaimed after its commit, in
// steps of their own transaction (sqlite_store_reclaim.cc): the deleting commit leaves them,
// the steps delete at most kReclaimStepRows rows (and kReclaimStepBytes of data) each, other
// channels are unaffected, a reopen resumes from the tables, a store without orphans does no
// reclaim work at all, a failed step is retried and fails no commit, and ids are not reused.
// Store::reclaim() tells the deleted channels and rows left and the rows reclaimed all along.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "store/schema.h"
#include "tests/store/store_fixture.h"

namespace tandem::store::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kBig = 7;    // the channel deleted (the highest id)
constexpr int64_t kSmall = 2;  // a channel that stays, max_msgs 100
constexpr uint64_t kKept = 50'000;

int64_t Rows(SqliteStore& store, int64_t channel) {
  return QueryInt(store, "SELECT count(*) FROM messages WHERE channel_id=" +
                             std::to_string(channel));
}

int64_t Spans(SqliteStore& store, int64_t channel) {
  return QueryInt(store, "SELECT count(*) FROM spans WHERE channel_id=" + std::to_string(channel));
}

int64_t OrphanFlag(SqliteStore& store) {
  return QueryInt(store, std::string("SELECT value FROM meta WHERE key='") + kMetaOrphanSpans +
                             "'");
}

// Until no deleted channel is left to reclaim, for at most `timeout`.
bool WaitReclaimed(SqliteStore& store, std::chrono::milliseconds timeout = 30s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (store.reclaim().channels != 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(5ms);
  return store.reclaim().channels == 0;
}

// Channel kBig (max_msgs kKept) gets kKept + 5,000 messages in ten batches, each followed by
// ten of kSmall: ten spans, the first starting below the first seq kept. Both have a
// subscription with a pending message.
void FillBigAndSmall(TestLoop& loop, SqliteStore& store) {
  WriteBatch setup;
  setup.CreateChannel(MakeChannel(kSmall, "small", ChannelLimits{100, 0, 0}));
  setup.CreateChannel(MakeChannel(kBig, "big", ChannelLimits{kKept, 0, 0}));
  setup.PutSub(MakeSub(1, kBig, "c"));
  setup.PutSub(MakeSub(2, kSmall, "c"));
  setup.AddPending(1, 1);
  setup.AddPending(2, 1);
  REQUIRE(SubmitWait(loop, store, std::move(setup)).status.ok());
  const uint64_t per = (kKept + 5'000) / 10;
  for (uint64_t i = 0; i < 10; ++i) {
    WriteBatch b;
    AppendRange(b, kBig, i * per + 1, (i + 1) * per, 16);
    AppendRange(b, kSmall, i * 10 + 1, (i + 1) * 10, 16);
    REQUIRE(SubmitWait(loop, store, std::move(b)).status.ok());
  }
  REQUIRE(Rows(store, kBig) == static_cast<int64_t>(kKept));
  REQUIRE(Spans(store, kBig) == 10);
}

CommitOutcome DeleteChannel(TestLoop& loop, Store& store, int64_t channel) {
  WriteBatch b;
  b.DeleteChannel(channel);
  return SubmitWait(loop, store, std::move(b));
}

// kSmall works as before: appends, its max_msgs, reads of what it holds.
void CheckSmallWorks(TestLoop& loop, SqliteStore& store, uint64_t last_seq) {
  WriteBatch b;
  AppendRange(b, kSmall, last_seq + 1, last_seq + 150, 16);
  CommitOutcome c = SubmitWait(loop, store, std::move(b));
  REQUIRE(c.status.ok());
  REQUIRE(c.result.channels.size() == 1);
  CHECK(c.result.channels[0].msgs == 100);
  CHECK(c.result.channels[0].last_seq == last_seq + 150);
  Result<std::vector<MsgRecord>> r = ReadWait(loop, store, kSmall, 1, 1000);
  REQUIRE(r.ok());
  CHECK(Seqs(*r) == Range(last_seq + 51, last_seq + 150));
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE_FIXTURE(StoreRig,
                    "store: a deleted channel's messages outlive its commit, then go in steps") {
    {
      auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
      FillBigAndSmall(loop, *store);
      REQUIRE(DeleteChannel(loop, *store, kBig).status.ok());
      // The commit removed the channel, its subscription and pending row, not its messages.
      CHECK(QueryInt(*store, "SELECT count(*) FROM channels WHERE id=7") == 0);
      CHECK(QueryInt(*store, "SELECT count(*) FROM subscriptions WHERE channel_id=7") == 0);
      CHECK(QueryInt(*store, "SELECT count(*) FROM pending WHERE sub_id=1") == 0);
      CHECK(Rows(*store, kBig) == static_cast<int64_t>(kKept));
      CHECK(OrphanFlag(*store) == 1);
      // Exact spans: the first starts at the first seq kept, an end span after the last.
      CHECK(QueryInt(*store, "SELECT min(first_seq) FROM spans WHERE channel_id=7") == 5'001);
      CHECK(QueryInt(*store, "SELECT max(first_seq) FROM spans WHERE channel_id=7") == 55'001);
      CHECK(store->reclaim().channels == 1);
      CHECK(store->Close().ok());
    }
    // Found again from the tables; Recover knows nothing of it but its id.
    auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
    Result<Recovered> r = store->Recover();
    REQUIRE(r.ok());
    REQUIRE(r->channels.size() == 1);
    CHECK(r->channels[0].id == kSmall);
    REQUIRE(r->subs.size() == 1);
    CHECK(r->subs[0].id == 2);
    CHECK(r->subs[0].pending == std::vector<uint64_t>{1});
    CHECK(r->max_channel_id == kBig);  // never given to a new channel
    CHECK(store->reclaim().channels == 1);
    CHECK(Rows(*store, kBig) == static_cast<int64_t>(kKept));

    store->TEST_PauseReclaim(false);
    REQUIRE(WaitReclaimed(*store));
    const SqliteStore::ReclaimStats st = store->TEST_reclaim();
    CHECK(store->reclaim().rows_reclaimed == kKept);
    CHECK(st.max_step_rows <= SqliteStore::kReclaimStepRows);
    CHECK(st.steps >= (kKept + SqliteStore::kReclaimStepRows - 1) / SqliteStore::kReclaimStepRows);
    CHECK(st.failures == 0);
    CHECK(Rows(*store, kBig) == 0);
    CHECK(Spans(*store, kBig) == 0);
    CHECK(OrphanFlag(*store) == 0);
    CheckSmallWorks(loop, *store, 100);
    WriteBatch later;  // a channel made after
    later.CreateChannel(MakeChannel(kBig + 1, "later"));
    AppendRange(later, kBig + 1, 1, 5, 16);
    REQUIRE(SubmitWait(loop, *store, std::move(later)).status.ok());
    CHECK(Seqs(ReadWait(loop, *store, kBig + 1, 1, 10).value()) == Range(1, 5));
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a reclaim stopped by a close resumes at the next open and finishes") {
    {
      auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
      FillBigAndSmall(loop, *store);
      REQUIRE(DeleteChannel(loop, *store, kBig).status.ok());
      store->TEST_PauseReclaim(false);
      // Other channels keep committing meanwhile, and keep their limits.
      for (uint64_t i = 0; i < 5 && store->TEST_reclaim().steps < 3; ++i) {
        CheckSmallWorks(loop, *store, 100 + i * 150);
      }
      const auto end = std::chrono::steady_clock::now() + 30s;
      while (store->TEST_reclaim().steps < 3 && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(1ms);
      store->TEST_PauseReclaim(true);
      REQUIRE(store->TEST_reclaim().steps >= 3);
      const uint64_t rows = store->reclaim().rows_reclaimed;
      REQUIRE(rows < kKept);  // mid-way
      CHECK(Rows(*store, kBig) == static_cast<int64_t>(kKept - rows));
      // The lowest span starts at the lowest row left.
      CHECK(QueryInt(*store, "SELECT min(first_seq) FROM spans WHERE channel_id=7") ==
            static_cast<int64_t>(5'001 + rows));
      CHECK(QueryInt(*store, "SELECT min(seq) FROM messages WHERE channel_id=7") ==
            static_cast<int64_t>(5'001 + rows));
      CHECK(store->Close().ok());
    }
    auto [store, r] = Reopen(loop, path);
    CHECK(r->channels.size() == 1);
    REQUIRE(WaitReclaimed(*store));
    CHECK(Rows(*store, kBig) == 0);
    CHECK(Spans(*store, kBig) == 0);
    CHECK(OrphanFlag(*store) == 0);
    CHECK(QueryInt(*store, "SELECT count(*) FROM messages WHERE channel_id=2") == 100);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: reclaim() gives the deleted channels, their rows left and the rows "
                    "reclaimed, and a reopen reads the rows left from the tables") {
    uint64_t left = 0;
    {
      auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
      FillBigAndSmall(loop, *store);
      ReclaimProgress p = store->reclaim();
      CHECK(p.channels == 0);
      CHECK(p.rows_left == 0);
      CHECK(p.rows_reclaimed == 0);
      REQUIRE(DeleteChannel(loop, *store, kBig).status.ok());
      p = store->reclaim();  // as soon as the deleting commit is through
      CHECK(p.channels == 1);
      CHECK(p.rows_left == kKept);
      CHECK(p.rows_reclaimed == 0);
      // While steps run, rows pass from one figure to the other, never lost nor counted twice.
      store->TEST_PauseReclaim(false);
      const auto end = std::chrono::steady_clock::now() + 30s;
      uint64_t last_left = kKept;
      int samples = 0, bad = 0;
      while (store->TEST_reclaim().steps < 4 && std::chrono::steady_clock::now() < end) {
        p = store->reclaim();
        ++samples;
        if (p.channels != 1 || p.rows_left > last_left || p.rows_left + p.rows_reclaimed != kKept)
          ++bad;
        last_left = p.rows_left;
        std::this_thread::sleep_for(100us);
      }
      store->TEST_PauseReclaim(true);
      REQUIRE(store->TEST_reclaim().steps >= 4);
      CHECK(samples > 0);
      CHECK(bad == 0);
      p = store->reclaim();
      CHECK(p.channels == 1);
      CHECK(p.rows_reclaimed >= 4 * SqliteStore::kReclaimStepRows);
      REQUIRE(p.rows_left > 0);  // mid-way (a step deletes at most 4,096 of the 50,000)
      CHECK(p.rows_left + p.rows_reclaimed == kKept);
      CHECK(static_cast<int64_t>(p.rows_left) == Rows(*store, kBig));
      left = p.rows_left;
      CHECK(store->Close().ok());
    }
    auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
    REQUIRE(store->Recover().ok());
    ReclaimProgress p = store->reclaim();
    CHECK(p.channels == 1);
    CHECK(p.rows_left == left);    // from the spans the steps left
    CHECK(p.rows_reclaimed == 0);  // since this open
    REQUIRE(DeleteChannel(loop, *store, kSmall).status.ok());  // a second one, behind the first
    p = store->reclaim();
    CHECK(p.channels == 2);
    CHECK(p.rows_left == left + 100);
    store->TEST_PauseReclaim(false);
    REQUIRE(WaitReclaimed(*store));
    p = store->reclaim();
    CHECK(p.channels == 0);
    CHECK(p.rows_left == 0);
    CHECK(p.rows_reclaimed == left + 100);
    CHECK(Rows(*store, kBig) == 0);
    CHECK(Rows(*store, kSmall) == 0);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a store without a deleted channel's messages reclaims nothing") {
    {
      auto store = OpenOk(loop, path, SyncMode::kNormal);
      WriteBatch b;
      b.CreateChannel(MakeChannel(1, "full"));
      b.CreateChannel(MakeChannel(2, "empty"));
      AppendRange(b, 1, 1, 100, 16);
      REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
      REQUIRE(DeleteChannel(loop, *store, 2).status.ok());  // no message: nothing left behind
      CHECK(store->reclaim().channels == 0);
      CHECK(store->Close().ok());
    }
    auto [store, r] = Reopen(loop, path);
    CHECK(store->TEST_StmtRuns(Stmt::kOrphanChannels) == 0);  // the open did not look
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * SqliteStore::kFileCheckMs));
    const SqliteStore::ReclaimStats st = store->TEST_reclaim();
    CHECK(st.steps == 0);
    CHECK(st.failures == 0);
    CHECK(OrphanFlag(*store) == -1);  // never set
    CHECK(Rows(*store, 1) == 100);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a failed reclaim step is retried and fails no commit") {
    auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
    FillBigAndSmall(loop, *store);
    REQUIRE(DeleteChannel(loop, *store, kBig).status.ok());
    REQUIRE(Exec(*store, "CREATE TRIGGER refuse BEFORE DELETE ON messages WHEN old.channel_id=7 "
                         "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
                .ok());
    store->TEST_PauseReclaim(false);
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (store->TEST_reclaim().failures == 0 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(1ms);
    CHECK(store->TEST_reclaim().failures >= 1);
    CheckSmallWorks(loop, *store, 100);  // commits go on
    CHECK(store->health().ok());
    CHECK(Rows(*store, kBig) == static_cast<int64_t>(kKept));  // the step rolled back whole
    CHECK(store->reclaim().rows_left == kKept);  // and so did its figures
    CHECK(store->reclaim().rows_reclaimed == 0);
    REQUIRE(Exec(*store, "DROP TRIGGER refuse").ok());
    REQUIRE(WaitReclaimed(*store));  // the retry, a second later
    CHECK(Rows(*store, kBig) == 0);
    CHECK(Spans(*store, kBig) == 0);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a deleted channel whose steps keep failing does not hold back the next") {
    auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
    FillBigAndSmall(loop, *store);
    REQUIRE(DeleteChannel(loop, *store, kBig).status.ok());    // first in line
    REQUIRE(DeleteChannel(loop, *store, kSmall).status.ok());  // behind it
    REQUIRE(Exec(*store, "CREATE TRIGGER refuse BEFORE DELETE ON messages WHEN old.channel_id=7 "
                         "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
                .ok());
    store->TEST_PauseReclaim(false);
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (Rows(*store, kSmall) != 0 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(5ms);
    CHECK(Rows(*store, kSmall) == 0);
    CHECK(Spans(*store, kSmall) == 0);
    CHECK(Rows(*store, kBig) == static_cast<int64_t>(kKept));
    CHECK(store->TEST_reclaim().failures >= 1);
    REQUIRE(Exec(*store, "DROP TRIGGER refuse").ok());
    REQUIRE(WaitReclaimed(*store));
    CHECK(Rows(*store, kBig) == 0);
    CHECK(OrphanFlag(*store) == 0);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a reclaim step of a store another instance took is fenced") {
    // Like a commit's, a fenced step stops every write for good instead of retrying.
    auto a = OpenOk(loop, path, SyncMode::kFull, /*skip_lock=*/true, /*pause_reclaim=*/true);
    FillBigAndSmall(loop, *a);
    REQUIRE(DeleteChannel(loop, *a, kBig).status.ok());
    auto b = OpenOk(loop, path, SyncMode::kFull, /*skip_lock=*/true, /*pause_reclaim=*/true);
    a->TEST_PauseReclaim(false);
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (a->health().ok() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(5ms);
    CHECK(a->health().IsFenced());
    CHECK(a->TEST_reclaim().failures == 0);
    CHECK(Rows(*b, kBig) == static_cast<int64_t>(kKept));
    CHECK(a->Close().ok());
    CHECK(b->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a reclaim step stops after kReclaimStepBytes of messages") {
    auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "large"));
    AppendRange(b, 1, 1, 100, 100'000);
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    REQUIRE(DeleteChannel(loop, *store, 1).status.ok());
    store->TEST_PauseReclaim(false);
    REQUIRE(WaitReclaimed(*store));
    const SqliteStore::ReclaimStats st = store->TEST_reclaim();
    const uint64_t per_step = SqliteStore::kReclaimStepBytes / 100'000 + 1;  // 11
    CHECK(store->reclaim().rows_reclaimed == 100);
    CHECK(st.max_step_rows <= per_step);
    CHECK(st.steps >= 100 / per_step);
    CHECK(Rows(*store, 1) == 0);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a deleted channel's id is not given to a new channel") {
    auto store = OpenOk(loop, path, SyncMode::kNormal, false, /*pause_reclaim=*/true);
    WriteBatch b;
    b.CreateChannel(MakeChannel(3, "gone"));
    AppendRange(b, 3, 1, 10, 16);
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    REQUIRE(DeleteChannel(loop, *store, 3).status.ok());
    WriteBatch again;
    again.CreateChannel(MakeChannel(3, "new"));
    CommitOutcome c = SubmitWait(loop, *store, std::move(again));
    CHECK(c.status.IsInvalidArgument());
    CHECK(c.status.message().find("channel 3 was deleted") != std::string::npos);
    CHECK(Rows(*store, 3) == 10);  // still the deleted channel's, and nobody else's
    CHECK(store->Close().ok());
  }
}

}  // namespace tandem::store::testing
