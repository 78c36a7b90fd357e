// sqlite_store.cc: SqliteStore's opening and its loop side (see sqlite_store.h). Its other
// parts: the store and sync threads in sqlite_store_thread.cc, the batch operations in
// sqlite_store_batch.cc, the read side in sqlite_store_read.cc and the file guard in
// sqlite_store_guard.cc. Sections, in order:
//   1. Open: directory, connection, PRAGMAs, the exclusive transaction (schema, epoch, state)
//   2. Loop side: Submit/ReadMsgs/FindSeqByTime, completions, Close
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "store/integrity.h"
#include "store/schema.h"
#include "store/sqlite_error.h"
#include "store/sqlite_store_util.h"
#include "store/transaction.h"
#include "store/vacuum.h"

#include <sys/stat.h>

namespace tandem::store {
namespace {

Status LockedStatus(const std::string& path) {
  return Status::Busy("store is locked by another process", path);
}

}  // namespace

// The same status with "<path>: " in front of its message, unless it names the path already.
Status WithPath(const Status& s, const std::string& path) {
  if (s.ok() || s.message().find(path) != std::string::npos) return s;
  switch (s.code()) {
    case Status::Code::kBusy:
      return Status::Busy(path, s.message());
    case Status::Code::kCorruption:
      return Status::Corruption(path, s.message());
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(path, s.message());
    case Status::Code::kFenced:
      return Status::Fenced(path, s.message());
    default:
      return Status::IOError(path, s.message());
  }
}

// --- 1. Open --------------------------------------------------------------------------------

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, uv_loop_t* loop) {
  Result<std::unique_ptr<SqliteStore>> r = SqliteStore::OpenSqlite(options, loop);
  if (!r.ok()) return r.status();
  return std::unique_ptr<Store>(std::move(r).value());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::OpenSqlite(const StoreOptions& options,
                                                             uv_loop_t* loop) {
  // SQLite's memory statistics take a global mutex on every allocation; nothing reads them.
  // The setting only takes before SQLite initializes (the first open); later calls are refused
  // harmlessly with SQLITE_MISUSE.
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, loop));
  if (Status s = store->OpenFile(); !s.ok()) {
    return WithPath(ExplainCorruption(s, options.path), options.path);
  }
  if (Status s = store->StartThread(); !s.ok()) return s;
  spdlog::info("store: opened {} (epoch {}, {} channels, sync {})", options.path, store->epoch_,
               store->channels_.size(), options.sync == SyncMode::kFull ? "full" : "normal");
  return store;
}

SqliteStore::SqliteStore(const StoreOptions& options, uv_loop_t* loop)
    : options_(options), loop_(loop), reclaim_paused_(options.TEST_pause_reclaim) {}

SqliteStore::~SqliteStore() { Close().IgnoreError(); }

// Opening, step by step: each step leaves db_ and the members it names set for the next.
Status SqliteStore::OpenFile() {
  const std::string& path = options_.path;
  if (Status s = MakeDirectory(); !s.ok()) return s;
  Result<std::optional<StoreIdentity>> file = ReadIdentityFile(path);
  if (!file.ok()) return file.status();
  if (Status s = RefuseIfRescued(*file); !s.ok()) return s;
  if (Status s = OpenConnection(); !s.ok()) return s;
  if (Status s = LockAndSetJournal(); !s.ok()) return s;
  if (Status s = OpeningTransaction(); !s.ok()) return s;
  if (Status s = ConvertToIncremental(db_, path); !s.ok()) return s;
  if (Status s = RecordFiles(); !s.ok()) return s;
  if (Status s = MakeOpeningDurable(); !s.ok()) return s;
  if (!*file || **file != identity_) {
    // Standbys read the identity there; a store without the file is still served.
    if (Status s = WriteIdentityFile(path, identity_); !s.ok()) {
      spdlog::error("store: cannot write {}: {}", IdentityPath(path), s.ToString());
    }
  }
  return Status::OK();
}

Status SqliteStore::MakeDirectory() {
  const std::string& path = options_.path;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) return Status::OK();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(path, "create directory " + dir.string() + ": " + ec.message());
  return Status::OK();
}

// A file whose active saved it elsewhere (Rescue) is out of date while the rescue file exists.
Status SqliteStore::RefuseIfRescued(const std::optional<StoreIdentity>& file) const {
  if (!file || file->rescued_to.empty() || ::access(file->rescued_to.c_str(), F_OK) != 0) {
    return Status::OK();
  }
  return Status::NotFound(
      options_.path,
      fmt::format("the active lost this file and saved what it held to {}: what is here "
                  "is out of date; stop the group, move {} to {} and start again",
                  file->rescued_to, file->rescued_to, options_.path));
}

Status SqliteStore::OpenConnection() {
  const std::string& path = options_.path;
  // A store is created only on an explicit first start (store/identity.h): otherwise a
  // missing or empty file is refused rather than silently started empty.
  int create = SQLITE_OPEN_CREATE;
  if (!options_.no_create_reason.empty()) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || (S_ISREG(st.st_mode) && st.st_size == 0)) {
      return Status::NotFound(
          path, "no store here, and none may be created: " + options_.no_create_reason);
    }
    create = 0;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | create | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path);
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 0);
  return Status::OK();
}

Status SqliteStore::LockAndSetJournal() {
  const std::string& path = options_.path;
  // The locking mode must be set before the first access: SQLite then keeps the WAL index in
  // heap memory (no -shm file) and holds the file's exclusive lock until the connection closes.
  Stmt locking =
      options_.TEST_skip_lock ? Stmt::kPragmaLockingNormal : Stmt::kPragmaLockingExclusive;
  if (Status s = ExecStmt(db_, locking); !s.ok()) return s;
  // Before the journal mode writes the first page, and after the locking mode: an access made
  // before it would open the WAL in shared-memory mode (a -shm file), which a store on a file
  // system without shared mmap (FUSE) cannot use. Takes effect on a new file only (vacuum.h).
  PrepareAutoVacuum(db_);
  // The first access: a holder's exclusive lock makes it fail with SQLITE_BUSY.
  char mode[16] = {0};
  int rc = sqlite3_exec(
      db_, StmtSql(Stmt::kPragmaJournalWal),
      [](void* out, int n, char** values, char**) -> int {
        if (n > 0 && values[0] != nullptr) snprintf(static_cast<char*>(out), 16, "%s", values[0]);
        return 0;
      },
      mode, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(db_, rc, path);
    return s.IsBusy() ? LockedStatus(path) : s;
  }
  if (std::string_view(mode) != "wal") {
    return Status::IOError(path, fmt::format("journal_mode stays '{}' instead of 'wal'", mode));
  }
  // Full durability is the sync thread's job when we hold the exclusive lock (see the header).
  own_sync_ = options_.sync == SyncMode::kFull && !options_.TEST_skip_lock;
  Stmt sync = options_.sync == SyncMode::kFull && !own_sync_ ? Stmt::kPragmaSyncFull
                                                             : Stmt::kPragmaSyncNormal;
  if (Status s = ExecStmt(db_, sync); !s.ok()) return s;
  if (Status s = ExecStmt(db_, Stmt::kPragmaCacheSize); !s.ok()) return s;
  // Checkpoints are ours, not SQLite's automatic ones (see "Checkpoints" in the header).
  sqlite3_wal_hook(db_, &SqliteStore::WalHook, this);
  return Status::OK();
}

// Takes the write lock at once, in the transaction that migrates, checks, bumps the epoch and
// loads the state.
Status SqliteStore::OpeningTransaction() {
  const std::string& path = options_.path;
  Transaction tx(db_);
  if (Status s = tx.Begin(Stmt::kBeginExclusive); !s.ok()) {
    return s.IsBusy() ? LockedStatus(path) : s;
  }
  Result<int> found = MigrateSchema(db_, path);
  if (!found.ok()) return found.status();
  if (*found != kSchemaVersion) {
    spdlog::info("store: {}: schema {} -> {}", path, *found, kSchemaVersion);
  }
  // The lock is ours, so nobody writes the tables while they are checked (integrity.h).
  if (Status s = QuickCheck(db_, path); !s.ok()) return s;
  if (Status s = stmts_.Prepare(db_); !s.ok()) return s;
  if (Status s = CheckIdentity(); !s.ok()) return s;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kBumpEpoch);
    StmtReset reset(st);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return stmts_.Error(Stmt::kBumpEpoch, rc);
    epoch_ = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  }
  if (Status s = LoadState(); !s.ok()) return s;
  return tx.Commit();
}

// The new epoch (and a new identity) reaches the disk before anyone is told.
Status SqliteStore::MakeOpeningDurable() {
  const std::string& path = options_.path;
  if (own_sync_) {
    // The WAL exists now (the epoch bump wrote it) and keeps its inode while we hold the lock.
    const std::string wal = path + "-wal";
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return Status::IOError(wal, std::string("open: ") + std::strerror(errno));
    return SyncWal();
  }
  // Commits are not synced with store.sync=normal, but the epoch a member announces and the
  // identity file must never be ahead of the database: a checkpoint (which syncs) makes the
  // opening transaction durable first.
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_FULL, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "checkpoint after open");
  return Status::OK();
}

// After every commit, with the number of frames in the WAL. Only a WAL that reached
// kCheckpointInlineFrames because jobs never left a gap is checkpointed here; a failure then
// fails the commit that triggered it. That commit is in the WAL either way; failing it means
// that it is never acknowledged, and the error is sticky like any other (a standby recovers
// from the WAL).
int SqliteStore::WalHook(void* arg, sqlite3*, const char*, int frames) {
  auto* self = static_cast<SqliteStore*>(arg);
  self->wal_frames_ = frames;
  if (frames > self->max_wal_frames_.load(std::memory_order_relaxed))
    self->max_wal_frames_.store(frames, std::memory_order_relaxed);  // store thread only writes
  if (frames < kCheckpointInlineFrames) return SQLITE_OK;
  return self->Checkpoint(true);
}

int SqliteStore::Checkpoint(bool in_line) {
  wal_frames_ = 0;  // due again after more commits, not retried in a loop after a failure
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  (in_line ? checkpoints_in_line_ : checkpoints_between_).fetch_add(1, std::memory_order_relaxed);
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) return SQLITE_OK;
  spdlog::error("store: checkpoint of {} failed: {}", options_.path, sqlite3_errstr(rc));
  if (!in_line) SetSticky(SqliteStatus(db_, rc, options_.path + ": checkpoint"));
  return rc;
}

Status SqliteStore::StartThread() {
  try {
    if (own_sync_) sync_thread_ = std::thread(&SqliteStore::SyncThreadMain, this);
    thread_ = std::thread(&SqliteStore::ThreadMain, this);
  } catch (const std::system_error& e) {
    return Status::IOError(options_.path, std::string("start store thread: ") + e.what());
  }
  return Status::OK();
}

// --- 2. Loop side ---------------------------------------------------------------------------

void SqliteStore::Job::Complete() {
  switch (kind) {
    case Kind::kWrite:
      if (applied_done) applied_done(status, result);  // not handed back on its own
      if (commit_done) commit_done(status, result);
      break;
    case Kind::kRead:
      if (read_done) {
        read_done(status.ok() ? Result<std::vector<MsgRecord>>(std::move(msgs))
                              : Result<std::vector<MsgRecord>>(status));
      }
      break;
    case Kind::kFindSeq:
      if (seq_done) seq_done(status.ok() ? Result<uint64_t>(found_seq) : Result<uint64_t>(status));
      break;
    case Kind::kBackup:
      if (backup_done) backup_done(status, backup);
      break;
  }
}

void SqliteStore::Submit(WriteBatch batch, CommitDone done) {
  Job job;
  job.kind = Job::Kind::kWrite;
  job.batch = std::move(batch);
  job.commit_done = std::move(done);
  Enqueue(std::move(job));
}

void SqliteStore::SubmitStaged(WriteBatch batch, CommitDone applied, CommitDone done) {
  Job job;
  job.kind = Job::Kind::kWrite;
  job.batch = std::move(batch);
  job.applied_done = std::move(applied);
  job.commit_done = std::move(done);
  Enqueue(std::move(job));
}

void SqliteStore::ReadMsgs(int64_t channel_id, uint64_t from_seq, size_t max_count, ReadDone done) {
  Job job;
  job.kind = Job::Kind::kRead;
  job.channel_id = channel_id;
  job.seq = from_seq;
  job.max_count = max_count;
  job.read_done = std::move(done);
  Enqueue(std::move(job));
}

void SqliteStore::FindSeqByTime(int64_t channel_id, int64_t ts_ns, SeqDone done) {
  Job job;
  job.kind = Job::Kind::kFindSeq;
  job.channel_id = channel_id;
  job.ts_ns = ts_ns;
  job.seq_done = std::move(done);
  Enqueue(std::move(job));
}

void SqliteStore::Enqueue(Job job) {
  if (closed_) {  // misuse after Close(): complete at once, without the store thread
    job.status = Status::ShutdownInProgress("store is closed", options_.path);
    job.Complete();
    return;
  }
  if (loop_thread_ == std::thread::id()) loop_thread_ = std::this_thread::get_id();
  AssertLoopThread();
  if (async_ == nullptr) {  // created here, on the loop thread, because uv_async_init must be
    async_ = new uv_async_t;
    int rc = uv_async_init(loop_, async_, &SqliteStore::AsyncCb);
    assert(rc == 0);  // uv_async_init only fails on a closed loop
    (void)rc;
    async_->data = this;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void SqliteStore::AsyncCb(uv_async_t* handle) noexcept {
  if (handle->data != nullptr) static_cast<SqliteStore*>(handle->data)->DrainCompletions();
}

// Completions run one at a time from ready_, so that a completion that re-enters (Close(), a
// nested drain) keeps the submission order.
void SqliteStore::DrainCompletions() {
  AssertLoopThread();
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    for (Job& j : done_) ready_.push_back(std::move(j));
    done_.clear();
  }
  while (!ready_.empty()) {
    Job job = std::move(ready_.front());
    ready_.pop_front();
    job.Complete();
  }
}

Status SqliteStore::Close() {
  AssertLoopThread();
  if (closed_) return Status::OK();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    held_ = false;
  }
  cv_.notify_all();
  const bool thread_started = thread_.joinable();
  if (thread_started) thread_.join();
  if (backup_finisher_.joinable()) backup_finisher_.join();  // it hands back before it ends
  if (sync_thread_.joinable()) {  // after the store thread: it has queued its last round
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      sync_stopping_ = true;
      sync_held_ = false;
    }
    sync_cv_.notify_all();
    sync_thread_.join();
  }
  closed_ = true;
  DrainCompletions();
  if (async_ != nullptr) {
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
  stmts_.Finalize();
  Status s;
  if (db_ != nullptr) {
    int rc = sqlite3_close(db_);  // checkpoints (syncing the database) and removes the WAL
    if (rc != SQLITE_OK)
      s = SqliteStatus(db_, rc, "close " + options_.path);
    else if (thread_started)
      spdlog::info("store: closed {}", options_.path);
    db_ = nullptr;
  }
  if (wal_fd_ >= 0) {
    ::close(wal_fd_);
    wal_fd_ = -1;
  }
  return s;
}

Status SqliteStore::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sticky_;
}

void SqliteStore::TEST_Hold(bool hold) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = hold;
  }
  cv_.notify_all();
}

uint64_t SqliteStore::TEST_transactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return transactions_;
}

SqliteStore::Checkpoints SqliteStore::TEST_checkpoints() const {
  return Checkpoints{checkpoints_between_.load(), checkpoints_in_line_.load(),
                     max_wal_frames_.load()};
}

void SqliteStore::TEST_FailNextSync(const Status& s) {
  std::lock_guard<std::mutex> lock(sync_mu_);
  test_sync_error_ = s;
}

void SqliteStore::TEST_HoldSync(bool hold) {
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_held_ = hold;
  }
  sync_cv_.notify_all();
}

Status SqliteStore::TEST_RunIdle(const std::function<Status(sqlite3*)>& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  // The store thread's idle work (a vacuum or reclaim step, a measure) ends within
  // milliseconds.
  cv_.wait_for(lock, std::chrono::seconds(2),
               [this] { return !busy_ && !idle_busy_ && queue_.empty(); });
  if (busy_ || idle_busy_ || !queue_.empty())
    return Status::Busy("TEST_RunIdle: the store thread is busy");
  return fn(db_);
}

int SqliteStore::TEST_StmtRuns(Stmt s) {
  std::lock_guard<std::mutex> lock(mu_);
  return sqlite3_stmt_status(stmts_.get(s), SQLITE_STMTSTATUS_RUN, 0);
}

}  // namespace tandem::store
