// sqlite_store_backup.cc: SqliteStore's online backup (Store::Backup): the request on the loop,
// the steps on the store thread between rounds, the seal on a finisher thread (the copy's
// integrity check reads the whole file, which must not hold up commits). See store/backup.h.
#include <utility>

#include <spdlog/spdlog.h>

#include "store/sqlite_store.h"

namespace tandem::store {

void SqliteStore::Backup(const std::string& path, BackupDone done) {
  Job job;
  job.kind = Job::Kind::kBackup;
  job.backup_path = path;
  job.backup_done = std::move(done);
  Enqueue(std::move(job));
}

void SqliteStore::StartBackups(std::vector<Job>& jobs) {
  for (auto it = jobs.begin(); it != jobs.end();) {
    if (it->kind != Job::Kind::kBackup) {
      ++it;
      continue;
    }
    Job& job = *it;
    if (Status sticky = health(); !sticky.ok()) {
      job.status = sticky;
    } else if (backup_) {
      job.status =
          Status::Busy(job.backup_path, "a backup is running already (to " + backup_->path() + ")");
    } else if (auto copy = BackupCopy::Start(db_, job.backup_path); !copy.ok()) {
      job.status = copy.status();
    } else {
      spdlog::info("store: backup to {} started", job.backup_path);
      backup_ = std::move(*copy);
      backup_job_ = std::move(job);
      it = jobs.erase(it);
      continue;
    }
    ++it;  // refused: goes back with the round
  }
}

void SqliteStore::BackupStep() {
  Result<bool> done = backup_->Step();
  if (!done.ok()) {
    EndBackup(done.status());
  } else if (*done) {
    EndBackup(Status::OK());
  }
}

void SqliteStore::EndBackup(const Status& s) {
  Status status = s;
  Status finished = backup_->Finish();  // the store's connection is not touched after this
  if (status.ok()) status = finished;
  if (backup_finisher_.joinable()) backup_finisher_.join();  // the last one; long done
  backup_finisher_ = std::thread(
      [this, copy = std::move(backup_), job = std::move(backup_job_), status]() mutable {
        job.status = status;
        if (job.status.ok()) job.status = copy->Seal(&job.backup);
        if (job.status.ok()) {
          spdlog::info("store: backup to {} done: {} bytes in {} ms, {} steps, longest {} us",
                       job.backup.path, job.backup.bytes, job.backup.elapsed_ms, job.backup.steps,
                       job.backup.max_step_us);
        } else {
          spdlog::error("store: backup to {} failed: {}", copy->path(), job.status.ToString());
        }
        copy.reset();  // removes the partial file unless sealed
        std::vector<Job> jobs;
        jobs.push_back(std::move(job));
        HandBack(jobs);
      });
  backup_.reset();
  backup_job_ = Job();
}

}  // namespace tandem::store
