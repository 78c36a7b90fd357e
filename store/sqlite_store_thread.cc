// sqlite_store_thread.cc: SqliteStore's store thread (rounds of reads and one group
// transaction of every queued batch) and its sync thread (fdatasync of the WAL for finished
// rounds, store.sync=full). See sqlite_store.h, "Threads" and "Sync".
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "store/schema.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"
#include "store/transaction.h"

namespace tandem::store {

// --- Store thread ---------------------------------------------------------------------------

void SqliteStore::ThreadMain() {
  std::vector<Job> jobs;
  bool more_idle_work = false;
  for (;;) {
    GuardFiles();
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wakes at least every kFileCheckMs, idle or not, so that GuardFiles runs; at once while
      // a backup runs, and soon while the idle work has more to do or a reclaim step is due
      // (a deleted channel's messages do not wait for kFileCheckMs without a job).
      const bool soon = more_idle_work || ReclaimDue();
      const int64_t wait_ms = backup_ ? 0 : soon ? kIdleStepPauseMs : kFileCheckMs;
      if (!cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                        [this] { return stopping_ || (!queue_.empty() && !held_); })) {
        idle_busy_ = true;  // the connection is in use: Recover and TEST_RunIdle wait
        const bool reclaim = ReclaimDue();
        lock.unlock();
        if (backup_) {
          BackupStep();
        } else {
          more_idle_work = IdleWork(reclaim);
        }
        lock.lock();
        idle_busy_ = false;
        lock.unlock();
        cv_.notify_all();
        continue;
      }
      if (queue_.empty()) break;  // stopping, and everything queued has been done
      jobs.swap(queue_);
      busy_ = true;
    }
    StartBackups(jobs);
    const bool wrote = RunRound(jobs);
    if (own_sync_) {
      HandBackApplied(jobs);
      const bool waited = std::any_of(jobs.begin(), jobs.end(), [](const Job& j) {
        return j.kind != Job::Kind::kWrite || !j.batch.unwaited();
      });
      {
        std::lock_guard<std::mutex> lock(sync_mu_);
        sync_queue_.push_back(Round{std::move(jobs), wrote, waited});
      }
      sync_cv_.notify_one();
    } else {
      HandBack(jobs);
    }
    jobs.clear();
    CheckpointIfDue();
    if (backup_) {
      BackupStep();                                  // a busy store copies too, one step per round
    } else if (!orphans_.empty() || orphan_flag_) {  // no lock taken without a reclaim
      bool starved;
      {
        std::lock_guard<std::mutex> lock(mu_);
        starved = ReclaimStarved();
      }
      if (starved) ReclaimOnce();  // jobs leave no pause: a step now and then all the same
    }
    MeasureSpaceWhenDue();
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
  if (backup_) EndBackup(Status::ShutdownInProgress("store is closing", "backup abandoned"));
}

void SqliteStore::CheckpointIfDue() {
  if (wal_frames_ < kCheckpointFrames || !health().ok()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty()) return;  // the next round first; in line at the bound
  }
  Checkpoint(false);
}

void SqliteStore::HandBack(std::vector<Job>& jobs) {
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    for (Job& j : jobs) done_.push_back(std::move(j));
  }
  uv_async_send(async_);  // async_ was created before the first job was queued
}

void SqliteStore::HandBackApplied(std::vector<Job>& jobs) {
  std::vector<Job> applied;
  for (Job& job : jobs) {
    if (job.kind != Job::Kind::kWrite || !job.applied_done) continue;
    Job a;
    a.kind = Job::Kind::kWrite;
    a.commit_done = std::move(job.applied_done);
    a.status = job.status;
    a.result = job.result;
    applied.push_back(std::move(a));
  }
  if (!applied.empty()) HandBack(applied);
}

bool SqliteStore::RunRound(std::vector<Job>& jobs) {
  Status sticky = health();
  std::vector<Job*> writes;
  for (Job& job : jobs) {
    if (job.kind == Job::Kind::kWrite) {
      writes.push_back(&job);
    } else if (job.kind == Job::Kind::kBackup) {
      continue;  // a refused request (StartBackups): its status is set
    } else if (!sticky.ok()) {
      job.status = sticky;
    } else {
      RunRead(job);
    }
  }
  if (writes.empty()) return false;
  Status s = sticky.ok() ? ApplyGroup(writes) : sticky;
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++transactions_;
    PublishReclaim();  // a deleting commit adds its channels
  } else {
    if (sticky.ok()) SetSticky(s);
    // This job and every later one, reads included, complete with the error.
    bool after_first_write = false;
    for (Job& job : jobs) {
      after_first_write = after_first_write || job.kind == Job::Kind::kWrite;
      if (!after_first_write) continue;
      job.status = s;
      job.result = BatchResult();
      job.msgs.clear();
    }
  }
  // The batches go back to the loop with their jobs and are freed there: the loop allocated
  // them, and glibc frees another thread's chunks under its arena lock, which the store thread
  // would then contend for with every allocation of the loop.
  return s.ok();
}

void SqliteStore::SetSticky(const Status& s) {
  spdlog::error("store: writes stop: {}", s.ToString());
  std::lock_guard<std::mutex> lock(mu_);
  sticky_ = s;
}

// One transaction for every batch of the round: BEGIN IMMEDIATE, epoch check, the batches in
// order (limits enforced after each), the coalesced subscription state, the channel counters
// once per channel, COMMIT.
Status SqliteStore::ApplyGroup(std::vector<Job*>& writes) {
  Transaction tx(db_);
  Status s = tx.Begin(Stmt::kBeginImmediate);
  if (s.ok()) s = CheckEpoch();
  for (size_t i = 0; s.ok() && i < writes.size(); ++i) {
    s = ApplyBatch(writes[i]->batch, &writes[i]->result);
  }
  if (s.ok()) s = FlushSubState();
  if (s.ok()) s = FlushChannels();
  if (s.ok()) s = FlushMetaIds();
  if (s.ok()) s = tx.Commit();
  if (s.ok() && !new_orphans_.empty()) {  // deleted channels: their messages are reclaimed next
    orphans_.insert(orphans_.end(), new_orphans_.begin(), new_orphans_.end());
    orphan_flag_ = true;
  }
  ClearTransactionState();
  return WithPath(s, options_.path);
}

void SqliteStore::ClearTransactionState() {
  ClearPending();
  last_sent_.clear();
  dirty_channels_.clear();
  touched_.clear();
  new_orphans_.clear();
  meta_ids_dirty_ = false;
}

Status SqliteStore::CheckEpoch() {
  sqlite3_stmt* st = stmts_.get(Stmt::kGetMeta);
  StmtReset reset(st);
  sqlite3_bind_text(st, 1, kMetaEpoch, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) return stmts_.Error(Stmt::kGetMeta, rc);
  uint64_t current = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  if (current != epoch_) {
    return Status::Fenced(options_.path, fmt::format("store epoch is {}, ours is {}: another "
                                                     "instance took over",
                                                     current, epoch_));
  }
  return Status::OK();
}

// --- Sync thread ------------------------------------------------------------------------------

void SqliteStore::SyncThreadMain() {
  std::vector<Round> rounds;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock,
                    [this] { return sync_stopping_ || (!sync_queue_.empty() && !sync_held_); });
      if (sync_queue_.empty()) return;  // stopping, and every round has been handed back
      // Unwaited rounds share the sync of the next waited one, kUnwaitedSyncMs at most.
      auto ready = [this] {
        return sync_stopping_ || sync_held_ ||
               std::any_of(sync_queue_.begin(), sync_queue_.end(),
                           [](const Round& r) { return r.waited; });
      };
      if (!ready()) sync_cv_.wait_for(lock, std::chrono::milliseconds(kUnwaitedSyncMs), ready);
      if (sync_held_) continue;
      rounds.swap(sync_queue_);
    }
    bool wrote = false;
    for (const Round& r : rounds) wrote = wrote || r.wrote;
    if (wrote && sync_failed_.ok()) {
      if (Status s = SyncWal(); !s.ok()) {
        sync_failed_ = s;
        SetSticky(s);
      } else {
        syncs_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    for (Round& r : rounds) {
      if (!sync_failed_.ok()) {  // committed, but maybe not on disk: never acknowledged
        for (Job& job : r.jobs) {
          if (job.kind != Job::Kind::kWrite || !job.status.ok()) continue;
          job.status = sync_failed_;
          job.result = BatchResult();
        }
      }
      HandBack(r.jobs);
    }
    rounds.clear();
  }
}

Status SqliteStore::SyncWal() {
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (!test_sync_error_.ok()) return std::exchange(test_sync_error_, Status::OK());
  }
  if (::fdatasync(wal_fd_) == 0) return Status::OK();
  const int err = errno;
  const std::string what = options_.path + "-wal";
  if (err == ENOSPC) return Status::DiskFull(what + ": fdatasync");
  return Status::IOError(what, std::string("fdatasync: ") + std::strerror(err));
}

}  // namespace tandem::store
