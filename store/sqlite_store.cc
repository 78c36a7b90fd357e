// sqlite_store.cc: SqliteStore, the store thread with its group commit, recovery and limit
// enforcement (see sqlite_store.h).
//
// The read side (Recover, ReadMsgs, FindSeqByTime on the store thread) is in
// sqlite_store_read.cc. Sections, in order:
//   1. Open: directory, connection, PRAGMAs, the exclusive transaction (schema, epoch, state)
//   2. Loop side: Submit/ReadMsgs/FindSeqByTime, completions, Close
//   3. Store thread: rounds and the group transaction
//   4. Sync thread: fdatasync of the WAL for finished rounds (store.sync=full)
//   5. Batch operations, limits and coalescing
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
#include "store/row_checksum.h"
#include "store/schema.h"
#include "store/sqlite_error.h"
#include "store/transaction.h"

#include <sys/stat.h>

namespace tandem::store {
namespace {

void BindText(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

Status LockedStatus(const std::string& path) {
  return Status::Busy("store is locked by another process", path);
}

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

}  // namespace

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
    : options_(options), loop_(loop) {}

SqliteStore::~SqliteStore() { Close().IgnoreError(); }

Status SqliteStore::OpenFile() {
  const std::string& path = options_.path;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IOError(path, "create directory " + dir.string() + ": " + ec.message());
  }
  Result<std::optional<StoreIdentity>> file = ReadIdentityFile(path);
  if (!file.ok()) return file.status();
  if (*file && !(*file)->rescued_to.empty() && ::access((*file)->rescued_to.c_str(), F_OK) == 0) {
    return Status::NotFound(
        path, fmt::format("the active lost this file and saved what it held to {}: what is here "
                          "is out of date; stop the group, move {} to {} and start again",
                          (*file)->rescued_to, (*file)->rescued_to, path));
  }
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

  // The locking mode must be set before the first access: SQLite then keeps the WAL index in
  // heap memory (no -shm file) and holds the file's exclusive lock until the connection closes.
  Stmt locking =
      options_.TEST_skip_lock ? Stmt::kPragmaLockingNormal : Stmt::kPragmaLockingExclusive;
  if (Status s = ExecStmt(db_, locking); !s.ok()) return s;
  // The first access: a holder's exclusive lock makes it fail with SQLITE_BUSY.
  char mode[16] = {0};
  rc = sqlite3_exec(
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
  // Checkpoints are ours, not SQLite's automatic ones, whose errors SQLite ignores: a failed
  // fsync of the database during a checkpoint must stop the store like any other I/O error.
  sqlite3_wal_hook(db_, &SqliteStore::WalHook, this);

  // Take the write lock at once, in the transaction that migrates and bumps the epoch.
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
  tables_.Attach(db_);
  if (Status s = CheckIdentity(); !s.ok()) return s;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kBumpEpoch);
    StmtReset reset(st);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return stmts_.Error(Stmt::kBumpEpoch, rc);
    epoch_ = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  }
  if (Status s = LoadState(); !s.ok()) return s;
  if (Status s = tx.Commit(); !s.ok()) return s;
  if (Status s = RecordFiles(); !s.ok()) return s;
  if (own_sync_) {
    // The WAL exists now (the epoch bump wrote it) and keeps its inode while we hold the lock.
    const std::string wal = path + "-wal";
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return Status::IOError(wal, std::string("open: ") + std::strerror(errno));
    // The new epoch (and a new identity) is on disk before anyone is told.
    if (Status s = SyncWal(); !s.ok()) return s;
  } else {
    // Commits are not synced with store.sync=normal, but the epoch a member announces and the
    // identity file must never be ahead of the database: a checkpoint (which syncs) makes the
    // opening transaction durable first.
    int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_FULL, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "checkpoint after open");
  }
  if (!*file || **file != identity_) {
    // Standbys read the identity there; a store without the file is still served.
    if (Status s = WriteIdentityFile(path, identity_); !s.ok()) {
      spdlog::error("store: cannot write {}: {}", IdentityPath(path), s.ToString());
    }
  }
  return Status::OK();
}

// After every commit, with the number of frames in the WAL: the automatic checkpoint SQLite
// would run (at 1000 frames), but one whose failure fails the commit that triggered it. The
// commit itself is then in the WAL; failing it means that it is never acknowledged, and the
// error is sticky like any other (a standby recovers from the WAL).
int SqliteStore::WalHook(void* arg, sqlite3* db, const char* name, int frames) {
  if (frames < kCheckpointFrames) return SQLITE_OK;
  int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    auto* self = static_cast<SqliteStore*>(arg);
    spdlog::error("store: checkpoint of {} failed: {}", self->options_.path, sqlite3_errstr(rc));
    return rc;
  }
  return SQLITE_OK;
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
  }
}

void SqliteStore::Submit(WriteBatch batch, CommitDone done) {
  Job job;
  job.kind = Job::Kind::kWrite;
  job.batch = std::move(batch);
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
  if (sync_thread_.joinable()) {  // after the store thread: it has queued its last round
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      sync_stopping_ = true;
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
  tables_.Finalize();
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

void SqliteStore::TEST_FailNextSync(const Status& s) {
  std::lock_guard<std::mutex> lock(sync_mu_);
  test_sync_error_ = s;
}

Status SqliteStore::TEST_RunIdle(const std::function<Status(sqlite3*)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (busy_ || !queue_.empty()) return Status::Busy("TEST_RunIdle: the store thread is busy");
  return fn(db_);
}

int SqliteStore::TEST_StmtRuns(Stmt s) {
  std::lock_guard<std::mutex> lock(mu_);
  return sqlite3_stmt_status(stmts_.get(s), SQLITE_STMTSTATUS_RUN, 0);
}

// --- 3. Store thread ------------------------------------------------------------------------

void SqliteStore::ThreadMain() {
  std::vector<Job> jobs;
  for (;;) {
    GuardFiles();
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wakes at least every kFileCheckMs, idle or not, so that GuardFiles runs.
      if (!cv_.wait_for(lock, std::chrono::milliseconds(kFileCheckMs),
                        [this] { return stopping_ || (!queue_.empty() && !held_); })) {
        continue;
      }
      if (queue_.empty()) return;  // stopping, and everything queued has been done
      jobs.swap(queue_);
      busy_ = true;
    }
    const bool wrote = RunRound(jobs);
    if (own_sync_) {
      {
        std::lock_guard<std::mutex> lock(sync_mu_);
        sync_queue_.push_back(Round{std::move(jobs), wrote});
      }
      sync_cv_.notify_one();
    } else {
      HandBack(jobs);
    }
    jobs.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
  }
}

void SqliteStore::HandBack(std::vector<Job>& jobs) {
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    for (Job& j : jobs) done_.push_back(std::move(j));
  }
  uv_async_send(async_);  // async_ was created before the first job was queued
}

bool SqliteStore::RunRound(std::vector<Job>& jobs) {
  Status sticky = health();
  std::vector<Job*> writes;
  for (Job& job : jobs) {
    if (job.kind == Job::Kind::kWrite) {
      writes.push_back(&job);
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
  ClearTransactionState();
  return WithPath(s, options_.path);
}

void SqliteStore::ClearTransactionState() {
  pending_.clear();
  last_sent_.clear();
  dirty_channels_.clear();
  touched_.clear();
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

// --- 4. Sync thread ---------------------------------------------------------------------------

void SqliteStore::SyncThreadMain() {
  std::vector<Round> rounds;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [this] { return sync_stopping_ || !sync_queue_.empty(); });
      if (sync_queue_.empty()) return;  // stopping, and every round has been handed back
      rounds.swap(sync_queue_);
    }
    bool wrote = false;
    for (const Round& r : rounds) wrote = wrote || r.wrote;
    if (wrote && sync_failed_.ok()) {
      if (Status s = SyncWal(); !s.ok()) {
        sync_failed_ = s;
        SetSticky(s);
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
  if (err == ENOSPC) return Status::IOError(what, "fdatasync: disk full");
  return Status::IOError(what, std::string("fdatasync: ") + std::strerror(err));
}

// --- 5. Batch operations --------------------------------------------------------------------

Status SqliteStore::ApplyBatch(const WriteBatch& batch, BatchResult* result) {
  ++batch_counter_;
  touched_.clear();
  const std::vector<WriteBatch::Op>& ops = batch.ops();
  // The channel of an append, or nullptr for any other op.
  auto append_channel = [&](size_t i) -> const int64_t* {
    const auto* a = std::get_if<batch_op::AppendMsg>(&ops[i]);
    return a == nullptr ? nullptr : &a->channel_id;
  };
  for (size_t i = 0; i < ops.size();) {
    // Consecutive appends to one channel go in together (see AppendMsgs).
    size_t n = 1;
    if (const int64_t* channel = append_channel(i)) {
      while (i + n < ops.size() && append_channel(i + n) != nullptr &&
             *append_channel(i + n) == *channel) {
        ++n;
      }
      if (Status s = AppendMsgs(batch, &ops[i], n); !s.ok()) return s;
    } else if (Status s = ApplyOp(batch, ops[i]); !s.ok()) {
      return s;
    }
    i += n;
  }
  for (int64_t id : touched_) {
    auto it = channels_.find(id);
    if (it == channels_.end()) continue;  // deleted later in the batch
    ChannelState& ch = it->second;
    if (Status s = EnforceLimits(id, ch); !s.ok()) return s;
    result->channels.push_back(ChannelStats{id, ch.first_seq, ch.last_seq, ch.msgs, ch.bytes});
  }
  return Status::OK();
}

// One op other than a run of appends; a new op kind fails to compile here until it is applied.
Status SqliteStore::ApplyOp(const WriteBatch& batch, const WriteBatch::Op& op) {
  return std::visit(
      [&](const auto& o) -> Status {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, batch_op::PutServer>) {
          return PutServer(*o.server);
        } else if constexpr (std::is_same_v<T, batch_op::CreateChannel>) {
          return CreateChannel(*o.channel);
        } else if constexpr (std::is_same_v<T, batch_op::DeleteChannel>) {
          return DeleteChannel(o.channel_id);
        } else if constexpr (std::is_same_v<T, batch_op::AppendMsg>) {
          return AppendMsgs(batch, &op, 1);
        } else if constexpr (std::is_same_v<T, batch_op::ExpireMsgs>) {
          return ExpireMsgs(o.channel_id, o.before_ns);
        } else if constexpr (std::is_same_v<T, batch_op::PutClient>) {
          return PutClient(*o.client);
        } else if constexpr (std::is_same_v<T, batch_op::DeleteClient>) {
          BindText(stmts_.get(Stmt::kDeleteClient), 1, batch.data(o.client_id));
          return Step(Stmt::kDeleteClient);
        } else if constexpr (std::is_same_v<T, batch_op::PutSub>) {
          return PutSub(*o.sub);
        } else if constexpr (std::is_same_v<T, batch_op::DeleteSub>) {
          return DeleteSub(o.sub_id);
        } else if constexpr (std::is_same_v<T, batch_op::UpdateLastSent>) {
          last_sent_[o.sub_id] = o.last_sent;
          return Status::OK();
        } else if constexpr (std::is_same_v<T, batch_op::AddPending>) {
          AddPending(o.sub_id, o.seq);
          return Status::OK();
        } else {
          static_assert(std::is_same_v<T, batch_op::RemovePending>, "every op kind is applied");
          RemovePending(o.sub_id, o.seq);
          return Status::OK();
        }
      },
      op);
}

Status SqliteStore::PutClient(const ClientRecord& c) {
  sqlite3_stmt* st = stmts_.get(Stmt::kPutClient);
  BindText(st, 1, c.client_id);
  BindText(st, 2, c.hb_inbox);
  BindText(st, 3, c.conn_id);
  sqlite3_bind_int(st, 4, c.protocol);
  sqlite3_bind_int(st, 5, c.ping_interval);
  sqlite3_bind_int(st, 6, c.ping_max_out);
  return Step(Stmt::kPutClient);
}

Status SqliteStore::Step(Stmt id) {
  sqlite3_stmt* st = stmts_.get(id);
  int rc = sqlite3_step(st);
  Status s = rc == SQLITE_DONE ? Status::OK() : stmts_.Error(id, rc);
  sqlite3_reset(st);
  return s;
}

Status SqliteStore::StepMsg(int64_t channel_id, MsgStmt id, sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  Status s = rc == SQLITE_DONE ? Status::OK() : tables_.Error(channel_id, id, rc);
  sqlite3_reset(st);
  return s;
}

void SqliteStore::TouchChannel(int64_t channel_id, ChannelState& ch) {
  if (ch.touched_batch != batch_counter_) {
    ch.touched_batch = batch_counter_;
    touched_.push_back(channel_id);
  }
  if (!ch.dirty) {
    ch.dirty = true;
    dirty_channels_.push_back(channel_id);
  }
}

// Appends `n` messages of one channel (ops[0..n), all batch_op::AppendMsg), kInsertRun rows per
// statement while there are that many left, then one by one.
Status SqliteStore::AppendMsgs(const WriteBatch& batch, const WriteBatch::Op* ops, size_t n) {
  auto msg = [ops](size_t i) -> const batch_op::AppendMsg& {
    return std::get<batch_op::AppendMsg>(ops[i]);
  };
  const int64_t channel_id = msg(0).channel_id;
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) {
    return Status::InvalidArgument("AppendMsg", fmt::format("unknown channel {}", channel_id));
  }
  ChannelState& ch = it->second;
  for (size_t done = 0; done < n;) {
    const size_t rows = n - done >= static_cast<size_t>(kInsertRun) ? kInsertRun : 1;
    const MsgStmt which = rows == 1 ? MsgStmt::kInsertMsg : MsgStmt::kInsertMsgRun;
    Status s;
    sqlite3_stmt* st = tables_.Get(channel_id, which, &s);
    if (st == nullptr) return s;
    uint64_t last = ch.last_seq;
    for (size_t r = 0; r < rows; ++r) {
      const batch_op::AppendMsg& op = msg(done + r);
      if (op.seq <= last) {
        sqlite3_clear_bindings(st);
        return Status::InvalidArgument(
            "AppendMsg",
            fmt::format("channel {}: seq {} is not above last_seq {}", channel_id, op.seq, last));
      }
      last = op.seq;
      const std::string_view data = batch.data(op.data);
      const int p = static_cast<int>(4 * r);
      sqlite3_bind_int64(st, p + 1, I64(op.seq));
      sqlite3_bind_int64(st, p + 2, op.timestamp_ns);
      sqlite3_bind_blob(st, p + 3, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, p + 4, RowChecksum(op.seq, op.timestamp_ns, data));
    }
    if (s = StepMsg(channel_id, which, st); !s.ok()) return s;
    for (size_t r = 0; r < rows; ++r) {
      const batch_op::AppendMsg& op = msg(done + r);
      if (ch.msgs == 0) ch.first_seq = op.seq;
      ch.last_seq = op.seq;
      ch.msgs += 1;
      ch.bytes += op.data.size;
      ch.last_timestamp_ns = op.timestamp_ns;
    }
    done += rows;
  }
  TouchChannel(channel_id, ch);
  return Status::OK();
}

// Removes messages of a channel oldest first while `remove(timestamp)` says so; with
// keep_newest the last message always stays. Moves first_seq, msgs and bytes.
Status SqliteStore::RemoveOldest(int64_t channel_id, ChannelState& ch, bool keep_newest,
                                 const std::function<bool(int64_t)>& remove) {
  Status prepared;
  sqlite3_stmt* st = tables_.Get(channel_id, MsgStmt::kScanOldest, &prepared);
  if (st == nullptr) return prepared;
  uint64_t new_first = ch.first_seq;
  {
    StmtReset reset(st);
    sqlite3_bind_int64(st, 1, I64(ch.first_seq));
    for (;;) {
      if (ch.msgs == 0 || (keep_newest && ch.msgs == 1)) {
        new_first = ch.msgs == 0 ? ch.last_seq + 1 : ch.last_seq;
        break;
      }
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) {  // counters said more rows: trust the rows
        ch.msgs = 0;
        ch.bytes = 0;
        new_first = ch.last_seq + 1;
        break;
      }
      if (rc != SQLITE_ROW) return tables_.Error(channel_id, MsgStmt::kScanOldest, rc);
      uint64_t seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
      if (!remove(sqlite3_column_int64(st, 1))) {
        new_first = seq;
        break;
      }
      ch.msgs -= 1;
      ch.bytes -= std::min<uint64_t>(ch.bytes, static_cast<uint64_t>(sqlite3_column_int64(st, 2)));
    }
  }
  if (new_first == ch.first_seq) return Status::OK();
  sqlite3_stmt* del = tables_.Get(channel_id, MsgStmt::kDeleteMsgsBefore, &prepared);
  if (del == nullptr) return prepared;
  sqlite3_bind_int64(del, 1, I64(new_first));
  if (Status s = StepMsg(channel_id, MsgStmt::kDeleteMsgsBefore, del); !s.ok()) return s;
  ch.first_seq = new_first;
  TouchChannel(channel_id, ch);
  return Status::OK();
}

Status SqliteStore::EnforceLimits(int64_t channel_id, ChannelState& ch) {
  const ChannelLimits& lim = ch.limits;
  auto over = [&ch, &lim](int64_t) {
    return (lim.max_msgs != 0 && ch.msgs > lim.max_msgs) ||
           (lim.max_bytes != 0 && ch.bytes > lim.max_bytes);
  };
  if (ch.msgs <= 1 || !over(0)) return Status::OK();
  return RemoveOldest(channel_id, ch, /*keep_newest=*/true, over);
}

// Max age follows the reference server: every expired message goes, the newest included, so a
// channel can become empty (first_seq = last_seq + 1).
Status SqliteStore::ExpireMsgs(int64_t channel_id, int64_t before_ns) {
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) {
    return Status::InvalidArgument("ExpireMsgs", fmt::format("unknown channel {}", channel_id));
  }
  return RemoveOldest(channel_id, it->second, /*keep_newest=*/false,
                      [before_ns](int64_t ts) { return ts < before_ns; });
}

Status SqliteStore::CreateChannel(const ChannelRecord& c) {
  if (channels_.count(c.id) != 0) {
    return Status::InvalidArgument("CreateChannel", fmt::format("channel {} exists", c.id));
  }
  sqlite3_stmt* st = stmts_.get(Stmt::kInsertChannel);
  sqlite3_bind_int64(st, 1, c.id);
  BindText(st, 2, c.name);
  sqlite3_bind_int64(st, 3, I64(c.first_seq));
  sqlite3_bind_int64(st, 4, I64(c.last_seq));
  sqlite3_bind_int64(st, 5, I64(c.msgs));
  sqlite3_bind_int64(st, 6, I64(c.bytes));
  sqlite3_bind_int64(st, 7, c.last_timestamp_ns);
  sqlite3_bind_int64(st, 8, I64(c.limits.max_msgs));
  sqlite3_bind_int64(st, 9, I64(c.limits.max_bytes));
  sqlite3_bind_int64(st, 10, c.limits.max_age_ns);
  if (Status s = Step(Stmt::kInsertChannel); !s.ok()) return s;
  if (Status s = tables_.Create(c.id); !s.ok()) return s;
  channels_[c.id] = StateOf(c);
  if (c.id > max_channel_id_) {
    max_channel_id_ = c.id;
    meta_ids_dirty_ = true;
  }
  return Status::OK();
}

Status SqliteStore::DeleteChannel(int64_t channel_id) {
  if (Status s = FlushSubState(); !s.ok()) return s;
  for (Stmt id : {Stmt::kDeleteChannelPending, Stmt::kDeleteChannelSubs, Stmt::kDeleteChannel}) {
    sqlite3_bind_int64(stmts_.get(id), 1, channel_id);
    if (Status s = Step(id); !s.ok()) return s;
  }
  if (Status s = tables_.Drop(channel_id); !s.ok()) return s;
  channels_.erase(channel_id);
  return Status::OK();
}

Status SqliteStore::PutServer(const ServerRecord& sv) {
  for (const ServerMetaField& m : kServerMeta) {
    if (Status s = PutMeta(m.key, sv.*m.field); !s.ok()) return s;
  }
  return Status::OK();
}

Status SqliteStore::PutMeta(const char* key, const std::string& text) {
  sqlite3_stmt* st = stmts_.get(Stmt::kPutMeta);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  BindText(st, 2, text);
  return Step(Stmt::kPutMeta);
}

Status SqliteStore::PutMetaInt(const char* key, int64_t value) {
  sqlite3_stmt* st = stmts_.get(Stmt::kPutMeta);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, value);
  return Step(Stmt::kPutMeta);
}

// PutSub replaces the row, last_sent included, so the coalesced state written before it.
Status SqliteStore::PutSub(const SubRecord& r) {
  if (Status s = FlushSubState(); !s.ok()) return s;
  sqlite3_stmt* st = stmts_.get(Stmt::kPutSub);
  sqlite3_bind_int64(st, 1, I64(r.id));
  sqlite3_bind_int64(st, 2, r.channel_id);
  BindText(st, 3, r.client_id);
  BindText(st, 4, r.queue);
  BindText(st, 5, r.inbox);
  BindText(st, 6, r.ack_inbox);
  BindText(st, 7, r.durable_name);
  sqlite3_bind_int(st, 8, r.max_in_flight);
  sqlite3_bind_int(st, 9, r.ack_wait_s);
  sqlite3_bind_int64(st, 10, I64(r.last_sent));
  sqlite3_bind_int(st, 11, r.is_durable ? 1 : 0);
  sqlite3_bind_int(st, 12, r.is_offline ? 1 : 0);
  if (Status s = Step(Stmt::kPutSub); !s.ok()) return s;
  if (r.id > max_sub_id_) {
    max_sub_id_ = r.id;
    meta_ids_dirty_ = true;
  }
  return Status::OK();
}

Status SqliteStore::DeleteSub(uint64_t sub_id) {
  if (Status s = FlushSubState(); !s.ok()) return s;
  for (Stmt id : {Stmt::kDeleteSubPending, Stmt::kDeleteSub}) {
    sqlite3_bind_int64(stmts_.get(id), 1, I64(sub_id));
    if (Status s = Step(id); !s.ok()) return s;
  }
  return Status::OK();
}

// An AddPending and a RemovePending of the same (sub, seq) in one transaction cancel out: the
// contract is that AddPending is called once per (sub, seq) while it is pending.
void SqliteStore::AddPending(uint64_t sub_id, uint64_t seq) {
  auto [it, inserted] = pending_.try_emplace(PendingKey{sub_id, seq}, PendingChange{true, true});
  if (!inserted) it->second.present = true;
}

void SqliteStore::RemovePending(uint64_t sub_id, uint64_t seq) {
  auto [it, inserted] = pending_.try_emplace(PendingKey{sub_id, seq}, PendingChange{false, false});
  if (inserted) return;
  if (it->second.added_first) {
    pending_.erase(it);
  } else {
    it->second.present = false;
  }
}

Status SqliteStore::FlushSubState() {
  for (const auto& [key, change] : pending_) {
    Stmt id = change.present ? Stmt::kInsertPending : Stmt::kDeletePending;
    sqlite3_stmt* st = stmts_.get(id);
    sqlite3_bind_int64(st, 1, I64(key.sub_id));
    sqlite3_bind_int64(st, 2, I64(key.seq));
    if (Status s = Step(id); !s.ok()) return s;
  }
  pending_.clear();
  for (const auto& [sub_id, last_sent] : last_sent_) {
    sqlite3_stmt* st = stmts_.get(Stmt::kUpdateLastSent);
    sqlite3_bind_int64(st, 1, I64(sub_id));
    sqlite3_bind_int64(st, 2, I64(last_sent));
    if (Status s = Step(Stmt::kUpdateLastSent); !s.ok()) return s;
  }
  last_sent_.clear();
  return Status::OK();
}

Status SqliteStore::FlushChannels() {
  for (int64_t id : dirty_channels_) {
    auto it = channels_.find(id);
    if (it == channels_.end() || !it->second.dirty) continue;
    ChannelState& ch = it->second;
    sqlite3_stmt* st = stmts_.get(Stmt::kUpdateChannelCounters);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, I64(ch.first_seq));
    sqlite3_bind_int64(st, 3, I64(ch.last_seq));
    sqlite3_bind_int64(st, 4, I64(ch.msgs));
    sqlite3_bind_int64(st, 5, I64(ch.bytes));
    sqlite3_bind_int64(st, 6, ch.last_timestamp_ns);
    if (Status s = Step(Stmt::kUpdateChannelCounters); !s.ok()) return s;
    ch.dirty = false;
  }
  dirty_channels_.clear();
  return Status::OK();
}

Status SqliteStore::FlushMetaIds() {
  if (!meta_ids_dirty_) return Status::OK();
  if (Status s = PutMetaInt(kMetaMaxSubId, I64(max_sub_id_)); !s.ok()) return s;
  return PutMetaInt(kMetaMaxChannelId, max_channel_id_);
}

}  // namespace tandem::store
