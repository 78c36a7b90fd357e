// sqlite_store_reclaim.cc: SqliteStore's reclaim of a deleted channel's messages in steps. The
// transaction that deletes a channel removes its channels row, subscriptions and pending rows,
// and leaves its message rows and spans behind as orphans (OrphanChannelMsgs): deleting
// millions of rows there would hold the store thread, and every other channel's commits, for
// as long, and make one huge WAL. The store thread then deletes them between jobs in bounded
// steps, each in its own short transaction (ReclaimStep), before the incremental vacuum gives
// the freed pages back (sqlite_store_space.cc).
//
// Rules:
// - Channel ids are never reused (meta's max_channel_id only grows, and the server numbers
//   channels from it), so an orphan's spans can never be taken for a new channel's; an open
//   raises max_channel_id above every orphan found, and CreateChannel refuses an orphan's id.
// - An orphan's spans are exact: the deleting transaction moves the first span up to the
//   channel's first_seq (so every row a span covers exists) and adds an end span at last_seq + 1
//   (it holds no row; it bounds the last span, whose end was in the deleted channels row). Rows
//   left = end span's first_seq - first span's first_seq.
// - A step deletes the lowest rows first: whole spans go, the last one it reaches is shrunk
//   (its first_seq and first_id move up past the rows deleted). Each row is checked to be the
//   channel's before it goes, so a damaged index never deletes another channel's message.
// - Orphans are found from the tables after an open or a takeover (spans whose channel_id has
//   no channels row), but only when meta's orphan_spans is 1: a store without orphans opens
//   with no query more. The step that removes the last orphan's last span sets it back to 0.
// - A failed step is logged and retried later (kReclaimRetryMs, doubling); it never becomes the
//   store's sticky error, so it fails no commit.
// - Progress (Store::reclaim) is kept per orphan (rows left, exact: sqlite_store.h, orphans_)
//   and published under mu_ after the deleting commit, after each step and at open; the log
//   says when a channel's reclaim starts (rows to go) and ends (rows, steps, time, and what
//   the other deleted channels still hold).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "store/schema.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"
#include "store/transaction.h"

namespace tandem::store {

// --- In the deleting transaction, and at open --------------------------------------------------

Status SqliteStore::OrphanChannelMsgs(int64_t channel_id, ChannelState& ch) {
  if (ch.msgs == 0) {  // an empty channel has no span
    sqlite3_bind_int64(stmts_.get(Stmt::kDeleteChannelSpans), 1, channel_id);
    return Step(Stmt::kDeleteChannelSpans);
  }
  // The end span bounds the last span: read that one before anything moves.
  if (Status s = LoadLastSpan(channel_id, ch); !s.ok()) return s;
  const uint64_t last_first_seq = ch.span_first_seq;
  const int64_t last_first_id = ch.span_first_id;
  uint64_t first_seq = 0;
  int64_t first_id = 0;
  if (Status s = FirstSpan(channel_id, &first_seq, &first_id); !s.ok()) return s;
  if (last_first_seq == 0 || first_seq == 0 || first_seq > ch.first_seq) {
    return Status::Corruption(fmt::format("channel {} seq {}", channel_id, ch.first_seq),
                              "no span of the store's index of messages holds it");
  }
  if (first_seq < ch.first_seq) {
    BindAll(stmts_.get(Stmt::kDeleteSpansBefore), channel_id, first_seq + 1);
    if (Status s = Step(Stmt::kDeleteSpansBefore); !s.ok()) return s;
    BindAll(stmts_.get(Stmt::kPutSpan), channel_id, ch.first_seq,
            first_id + I64(ch.first_seq - first_seq));
    if (Status s = Step(Stmt::kPutSpan); !s.ok()) return s;
  }
  const uint64_t end = ch.last_seq + 1;
  BindAll(stmts_.get(Stmt::kPutSpan), channel_id, end, last_first_id + I64(end - last_first_seq));
  if (Status s = Step(Stmt::kPutSpan); !s.ok()) return s;
  if (Status s = PutMetaInt(kMetaOrphanSpans, 1); !s.ok()) return s;
  new_orphans_.push_back(Orphan{channel_id, end - ch.first_seq});
  return Status::OK();
}

Status SqliteStore::LoadOrphans() {
  if (!orphan_flag_) return Status::OK();
  std::vector<int64_t> ids;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kOrphanChannels);
    StmtReset reset(st);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const int64_t id = sqlite3_column_int64(st, 0);
      ids.push_back(id);
      max_channel_id_ = std::max(max_channel_id_, id);
    }
    if (rc != SQLITE_DONE) return stmts_.Error(Stmt::kOrphanChannels, rc);
  }
  for (int64_t id : ids) {
    Result<uint64_t> left = OrphanRowsLeft(id);
    if (!left.ok()) return left.status();
    orphans_.push_back(Orphan{id, *left});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);  // nothing contends yet: the store thread is not up
    PublishReclaim();
  }
  if (!orphans_.empty()) {
    spdlog::info("store: {} deleted channel(s) with messages left to reclaim: {} rows",
                 orphans_.size(), OrphanRows());
  }
  return Status::OK();
}

// --- Steps on the store thread -----------------------------------------------------------------

bool SqliteStore::ReclaimDue() const {
  return (!orphans_.empty() || orphan_flag_) && !reclaim_paused_ && sticky_.ok() &&
         NowMs() >= reclaim_next_ms_;
}

bool SqliteStore::ReclaimStarved() const {
  return ReclaimDue() && NowMs() - reclaim_last_ms_ >= kReclaimBusyStepMs;
}

Result<uint64_t> SqliteStore::OrphanRowsLeft(int64_t channel_id) {
  uint64_t first = 0;
  int64_t first_id = 0;
  if (Status s = FirstSpan(channel_id, &first, &first_id); !s.ok()) return s;
  ChannelState end;  // the orphan's end span is its last (the channel's own state is gone)
  if (Status s = LoadLastSpan(channel_id, end); !s.ok()) return s;
  return end.span_first_seq > first ? end.span_first_seq - first : 0;
}

bool SqliteStore::IsOrphan(int64_t channel_id) const {
  auto is = [channel_id](const Orphan& o) { return o.channel_id == channel_id; };
  return std::any_of(orphans_.begin(), orphans_.end(), is) ||
         std::any_of(new_orphans_.begin(), new_orphans_.end(), is);
}

uint64_t SqliteStore::OrphanRows() const {
  uint64_t rows = 0;
  for (const Orphan& o : orphans_) rows += o.rows_left;
  return rows;
}

void SqliteStore::PublishReclaim() {
  reclaim_progress_.channels = orphans_.size();
  reclaim_progress_.rows_left = OrphanRows();
}

ReclaimProgress SqliteStore::reclaim() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reclaim_progress_;
}

void SqliteStore::ReclaimOnce() {
  const int64_t channel_id = orphans_.empty() ? 0 : orphans_.front().channel_id;
  ReclaimRun& run = reclaim_run_;
  if (channel_id != 0 && !run.started) {
    run = ReclaimRun{true, orphans_.front().rows_left, 0, 0, NowMs(), 0};
    spdlog::info("store: reclaiming the messages of deleted channel {}: {} rows to go", channel_id,
                 run.rows_at_start);
  }
  uint64_t rows = 0;
  bool done = false;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = ReclaimStep(channel_id, &rows, &done);
  const int64_t step_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  reclaim_last_ms_ = NowMs();
  if (s.IsFenced()) {  // another instance owns the store now: it writes nothing more at all
    SetSticky(s);
    return;
  }
  if (!s.ok()) {
    // A channel whose steps keep failing (a damaged span) must not hold back the ones deleted
    // after it: it goes to the back of the line and starts its run again when its turn comes.
    if (orphans_.size() > 1) {
      orphans_.push_back(orphans_.front());
      orphans_.pop_front();
      run = ReclaimRun{};
    }
    reclaim_retry_ms_ = reclaim_retry_ms_ == 0 ? kReclaimRetryMs : reclaim_retry_ms_;
    reclaim_next_ms_ = reclaim_last_ms_ + reclaim_retry_ms_;
    spdlog::error(
        "store: reclaiming the messages of deleted channel {} failed, retried in {} ms: {}",
        channel_id, reclaim_retry_ms_, s.ToString());
    reclaim_retry_ms_ = std::min(2 * reclaim_retry_ms_, kReclaimRetryMaxMs);
    std::lock_guard<std::mutex> lock(mu_);
    ++reclaim_stats_.failures;
    return;
  }
  reclaim_retry_ms_ = 0;
  run.rows += rows;
  run.steps += 1;
  run.max_step_us = std::max(run.max_step_us, step_us);
  if (channel_id != 0) {
    Orphan& first = orphans_.front();
    first.rows_left -= std::min(rows, first.rows_left);
  }
  if (done) {
    if (channel_id != 0) {
      orphans_.pop_front();
      spdlog::info(
          "store: reclaimed the messages of deleted channel {}: {} rows in {} steps over {} ms "
          "(the longest step {:.1f} ms){}",
          channel_id, run.rows, run.steps, reclaim_last_ms_ - run.start_ms,
          static_cast<double>(run.max_step_us) / 1000,
          orphans_.empty() ? std::string()
                           : fmt::format("; {} more deleted channel(s) with {} rows to go",
                                         orphans_.size(), OrphanRows()));
    }
    run = ReclaimRun{};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++reclaim_stats_.steps;
    reclaim_stats_.max_step_rows = std::max(reclaim_stats_.max_step_rows, rows);
    reclaim_progress_.rows_reclaimed += rows;
    PublishReclaim();
  }
  CheckpointIfDue();
}

// channel_id 0: no orphan is left, only meta's flag to clear.
Status SqliteStore::ReclaimStep(int64_t channel_id, uint64_t* rows, bool* done) {
  Transaction tx(db_);
  Status s = tx.Begin(Stmt::kBeginImmediate);
  if (s.ok()) s = CheckEpoch();
  if (s.ok() && channel_id != 0) s = ReclaimSpans(channel_id, rows, done);
  if (s.ok() && channel_id == 0) *done = true;
  const bool last = s.ok() && *done && orphans_.size() <= 1;
  if (last) s = PutMetaInt(kMetaOrphanSpans, 0);
  if (s.ok()) s = tx.Commit();
  if (s.ok() && last) orphan_flag_ = false;
  if (!s.ok()) *done = false;
  return WithPath(s, options_.path);
}

Status SqliteStore::ReclaimSpans(int64_t channel_id, uint64_t* rows, bool* done) {
  // The lowest spans, one more than the step can empty (each holds a row at least).
  std::vector<std::pair<uint64_t, int64_t>> spans;
  bool all_read = false;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kSpansFrom);
    StmtReset reset(st);
    BindAll(st, channel_id, int64_t{0});
    int rc = SQLITE_ROW;
    while (spans.size() <= kReclaimStepRows && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      spans.emplace_back(static_cast<uint64_t>(sqlite3_column_int64(st, 0)),
                         sqlite3_column_int64(st, 1));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return stmts_.Error(Stmt::kSpansFrom, rc);
    all_read = rc == SQLITE_DONE;
  }
  uint64_t budget = kReclaimStepRows, bytes = 0;
  size_t i = 0;
  for (; i + 1 < spans.size() && budget > 0 && bytes < kReclaimStepBytes; ++i) {
    const auto [seq, id] = spans[i];
    const uint64_t len = spans[i + 1].first - seq;
    const uint64_t most = std::min(len, budget);
    uint64_t n = 0;
    {
      sqlite3_stmt* st = stmts_.get(Stmt::kScanMsgRange);
      StmtReset reset(st);
      BindAll(st, id, id + I64(most) - 1);
      while (n < most && bytes < kReclaimStepBytes) {
        if (Status at = StepToRow(Stmt::kScanMsgRange, channel_id, seq + n, id + I64(n)); !at.ok())
          return at;
        bytes += static_cast<uint64_t>(sqlite3_column_int64(st, 3));
        ++n;
      }
    }
    BindAll(stmts_.get(Stmt::kDeleteMsgRange), id, id + I64(n) - 1);
    if (Status s = Step(Stmt::kDeleteMsgRange); !s.ok()) return s;
    *rows += n;
    budget -= n;
    if (n < len) {  // shrunk: the span starts at its first row left
      BindAll(stmts_.get(Stmt::kDeleteSpansBefore), channel_id, seq + 1);
      if (Status s = Step(Stmt::kDeleteSpansBefore); !s.ok()) return s;
      BindAll(stmts_.get(Stmt::kPutSpan), channel_id, seq + n, id + I64(n));
      return Step(Stmt::kPutSpan);
    }
  }
  // spans[0, i) are empty now. Only the end span left: the channel is done.
  if (all_read && i + 1 >= spans.size()) {
    sqlite3_bind_int64(stmts_.get(Stmt::kDeleteChannelSpans), 1, channel_id);
    *done = true;
    return Step(Stmt::kDeleteChannelSpans);
  }
  BindAll(stmts_.get(Stmt::kDeleteSpansBefore), channel_id, spans[i].first);
  return Step(Stmt::kDeleteSpansBefore);
}

// --- Test hooks --------------------------------------------------------------------------------

SqliteStore::ReclaimStats SqliteStore::TEST_reclaim() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reclaim_stats_;
}

void SqliteStore::TEST_PauseReclaim(bool pause) {
  std::unique_lock<std::mutex> lock(mu_);
  reclaim_paused_ = pause;
  // A step under way ends within milliseconds.
  cv_.wait_for(lock, std::chrono::seconds(2), [this] { return !busy_ && !idle_busy_; });
}

}  // namespace tandem::store
