// sqlite_store.h: SqliteStore, the Store implementation over one SQLite file (see store.h for
// the contract). sqlite_store.cc holds open and the loop side; sqlite_store_thread.cc the store
// and sync threads; sqlite_store_batch.cc the write path (batch ops, limits, flushes);
// sqlite_store_read.cc holds LoadState, Recover and the reads; sqlite_store_spans.cc the index
// of the messages table (spans); sqlite_store_reclaim.cc the deleted channels' messages
// removed in steps; sqlite_store_guard.cc the checks that this is the right store
// (identity and epoch at open, the file watch and rescue after). The schema is documented in
// schema.cc, the SQL text is in sql_statements.cc.
//
// Threads. Open() and Recover() run on the caller's thread. Open() then starts the store
// thread, which owns the connection from the first Submit/ReadMsgs/FindSeqByTime on: the loop
// thread queues jobs (mutex + condition variable), the store thread takes EVERY queued job at
// once (one "round"), runs the reads, then applies all write batches of the round in ONE
// transaction (group commit), and hands the finished jobs back through a uv_async_t. The loop
// runs their completions in submission order.
//
// Within a round, reads run before the writes, so a read never returns a message whose commit
// completion has not run yet on the loop.
//
// Between rounds the store thread also takes one step of an online backup (backup.h) after
// each round and back to back while idle; deletes a deleted channel's messages in steps of
// their own transaction (sqlite_store_reclaim.cc) after kIdleStepPauseMs without a job, or
// after a round when none ran for kReclaimBusyStepMs; and, after kFileCheckMs without a job,
// gives free pages back (vacuum.h) one step at a time: a job waits for at most one step.
//
// Checkpoints. tandem runs them, not SQLite's automatic checkpoint, whose errors SQLite
// ignores. A checkpoint syncs the WAL and store.db and takes milliseconds, so it does not run
// behind a commit: once the WAL holds kCheckpointFrames, the store thread checkpoints after a
// round that left no job queued (its commits are already on their way to the sync thread and
// the loop). Only when jobs keep coming without a gap does the commit that takes the WAL to
// kCheckpointInlineFrames checkpoint in line (WalHook), which bounds the WAL, and with it what
// a standby reads when it takes over. A failed checkpoint is sticky like a failed commit.
//
// Sync. With store.sync=full and the exclusive lock, SQLite commits with synchronous=NORMAL
// (in WAL mode: consistent, checkpoints synced, but commits not) and a second thread, the sync
// thread, makes commits durable: it takes every round the store thread has finished, calls
// fdatasync on the WAL once for all of them, and only then hands them to the loop. The store
// thread meanwhile applies the next round, so the disk flush of one group overlaps the work of
// the next. A completion still means "on disk". The applied completions of SubmitStaged are
// handed to the loop by the store thread itself, right after the commit and before the round
// goes to the sync thread (store.h). Rounds whose batches nobody waits for (positions and acks
// after a delivery: WriteBatch::set_unwaited) are not synced on their own: the sync thread
// holds them until a round somebody waits for arrives, kUnwaitedSyncMs at most, and syncs them
// together. Otherwise, at a steady publish rate, every message would cost two fdatasyncs (its
// own and that of the delivery's bookkeeping), and the next message's sync would queue behind
// the bookkeeping's. A failed fdatasync is sticky like a failed
// commit (a later fdatasync could succeed without the lost pages): the jobs of that sync and of
// every later one fail. Without the exclusive lock (TEST_skip_lock) SQLite syncs itself
// (synchronous=FULL), since another connection may replace the WAL file.
//
// Errors. Any failure of a group transaction (I/O error, disk full, fenced, or a batch that
// names an unknown channel or a seq other than last_seq + 1, which is a caller bug) fails every
// batch of the group and becomes the sticky error: every later job completes with it, nothing
// more is written, health() returns it.
//
// Ownership: Open() returns the only owner; the loop is borrowed and must outlive the store
// (Close() hands the async handle to the loop, which frees it in its close callback, so run the
// loop once after Close()). Do not destroy the store from inside one of its completions.
// Thread safety: see store.h. Concurrency: mu_ guards the job queue and the sticky error,
// sync_mu_ the rounds waiting for their sync, done_mu_ the finished jobs; no code holds two.
#pragma once

#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/backup.h"
#include "store/sql_statements.h"
#include "store/store.h"

typedef struct uv_async_s uv_async_t;

namespace tandem::store {

class SqliteStore final : public Store {
 public:
  // How often the store thread checks that its path still leads to its files.
  static constexpr int64_t kFileCheckMs = 500;
  // WAL frames after which the store thread checkpoints once no job is queued (SQLite's default
  // for its own checkpoints), and the bound at which the commit that reaches it checkpoints in
  // line (see "Checkpoints" above).
  static constexpr int kCheckpointFrames = 1000;
  static constexpr int kCheckpointInlineFrames = 2 * kCheckpointFrames;
  // The store thread's pause between two steps of idle work (incremental vacuum), so that a job
  // arriving meanwhile runs first.
  static constexpr int64_t kIdleStepPauseMs = 5;
  // How often the store thread measures the file for space() while it is busy.
  static constexpr int64_t kSpaceMeasureMs = 1000;
  // The longest the sync thread holds back rounds whose batches nobody waits for
  // (WriteBatch::set_unwaited), waiting for a round to share their fdatasync with (see "Sync").
  static constexpr int64_t kUnwaitedSyncMs = 20;
  // Reclaiming a deleted channel's messages (sqlite_store_reclaim.cc). A step deletes at most
  // kReclaimStepRows message rows, and stops early after kReclaimStepBytes of message data (the
  // 256 pages a vacuum step moves), in its own transaction: its cost grows with both, and at
  // these bounds it is milliseconds (2 ms for 16 B messages, 5 ms for 128 B; store/README.md)
  // and a WAL of under 300 pages, so a commit that arrives meanwhile waits that long at most.
  static constexpr uint64_t kReclaimStepRows = 4096;
  static constexpr uint64_t kReclaimStepBytes = 1u << 20;
  // While jobs come without a pause, one step after a round at most this often, so that a store
  // that is never idle still reclaims (at most 4,096 rows every quarter second).
  static constexpr int64_t kReclaimBusyStepMs = 250;
  // After a failed step: the first retry waits this long, each later one twice as long, up to
  // kReclaimRetryMaxMs.
  static constexpr int64_t kReclaimRetryMs = 1000;
  static constexpr int64_t kReclaimRetryMaxMs = 60000;
  static Result<std::unique_ptr<SqliteStore>> OpenSqlite(const StoreOptions& options,
                                                         uv_loop_t* loop);
  ~SqliteStore() override;

  Result<Recovered> Recover() override;
  void Submit(WriteBatch batch, CommitDone done) override;
  void SubmitStaged(WriteBatch batch, CommitDone applied, CommitDone done) override;
  void ReadMsgs(int64_t channel_id, uint64_t from_seq, size_t max_count, ReadDone done) override;
  void FindSeqByTime(int64_t channel_id, int64_t ts_ns, SeqDone done) override;
  Status Close() override;
  uint64_t epoch() const override { return epoch_; }
  const StoreIdentity& identity() const override { return identity_; }
  Status health() const override;
  void Backup(const std::string& path, BackupDone done) override;
  StoreSpace space() const override;
  uint64_t syncs() const override { return syncs_.load(std::memory_order_relaxed); }
  ReclaimProgress reclaim() const override;

  // Test hooks. While held, the store thread takes no job (Close() releases it).
  void TEST_Hold(bool hold);
  // Group transactions committed since Open().
  uint64_t TEST_transactions() const;
  // Checkpoints since Open(): after a round with nothing queued, and in line with a commit; and
  // the most frames the WAL held after a commit.
  struct Checkpoints {
    uint64_t between_jobs = 0, in_line = 0;
    int max_wal_frames = 0;
  };
  Checkpoints TEST_checkpoints() const;
  // The next fdatasync of the WAL fails with `s` instead of running (store.sync=full only).
  void TEST_FailNextSync(const Status& s);
  // While held, the sync thread takes no round (Close() releases it; store.sync=full only).
  void TEST_HoldSync(bool hold);
  // Runs `fn` on the connection once no job is queued or running and the store thread's idle
  // work is between steps (waits up to 2 s, else Busy).
  Status TEST_RunIdle(const std::function<Status(sqlite3*)>& fn);
  // How many times a prepared statement ran since Open(). REQUIRES: as TEST_RunIdle.
  int TEST_StmtRuns(Stmt s);
  // Reclaim steps since Open(): steps committed, the most rows one step deleted, steps that
  // failed (what is left and what was deleted: reclaim()).
  struct ReclaimStats {
    uint64_t steps = 0, max_step_rows = 0, failures = 0;
  };
  ReclaimStats TEST_reclaim() const;
  // While paused, the store thread takes no reclaim step (a step under way ends first).
  void TEST_PauseReclaim(bool pause);

 private:
  struct ChannelState {
    uint64_t first_seq = 1;
    uint64_t last_seq = 0;
    uint64_t msgs = 0;
    uint64_t bytes = 0;
    int64_t last_timestamp_ns = 0;
    int64_t first_timestamp_ns = 0;  // as in ChannelStats: 0 = empty or not known
    ChannelLimits limits;
    bool dirty = false;          // counters to write at the end of the transaction
    uint64_t touched_batch = 0;  // batch_counter_ of the last batch that changed messages
    // The channel's last span (schema.cc), read on first use: span_first_seq 0 = none.
    bool span_known = false;
    uint64_t span_first_seq = 0;
    int64_t span_first_id = 0;
  };
  // One queued request; the store thread fills in the result part, the loop completes it.
  struct Job {
    enum class Kind { kWrite, kRead, kFindSeq, kBackup };
    Kind kind = Kind::kWrite;
    WriteBatch batch;
    CommitDone applied_done;  // SubmitStaged: after the commit, before the sync
    CommitDone commit_done;
    ReadDone read_done;
    SeqDone seq_done;
    BackupDone backup_done;
    std::string backup_path;
    int64_t channel_id = 0;
    uint64_t seq = 0;  // ReadMsgs from_seq
    size_t max_count = 0;
    int64_t ts_ns = 0;
    // Results.
    Status status;
    BatchResult result;
    std::vector<MsgRecord> msgs;
    uint64_t found_seq = 0;
    BackupResult backup;

    void Complete();
  };
  // One pending-row op of the transaction (AddPending, SetDeliveries, RemovePending), kept in
  // op order; FlushSubState folds each (sub, seq)'s ops into at most one statement. A vector of
  // 24-byte entries rather than a hash map: no allocation per op, and the rows are written in
  // key order.
  enum class PendingKind : uint8_t { kAdd, kSet, kRemove };
  struct PendingOp {
    uint64_t sub_id, seq;
    uint32_t deliveries;
    PendingKind kind;
  };
  // Capacity of pending_ kept between transactions; a larger one is given back.
  static constexpr size_t kPendingOpsKept = 64 * 1024;

  SqliteStore(const StoreOptions& options, uv_loop_t* loop);
  // Open()'s work, in the order OpenFile runs its steps.
  Status OpenFile();
  Status MakeDirectory();
  Status RefuseIfRescued(const std::optional<StoreIdentity>& file) const;
  Status OpenConnection();     // sqlite3_open_v2, unless a store may not be created here
  Status LockAndSetJournal();  // exclusive locking, WAL, synchronous, the WAL hook
  Status OpeningTransaction();
  Status MakeOpeningDurable();
  // In Open()'s transaction, before the epoch bump: reads (and on first use makes) the store's
  // identity and checks it, and the epoch, against the options.
  Status CheckIdentity();
  // Device and inode of the database and its WAL, as Open() left them (file_guard.cc).
  Status RecordFiles();
  // Store thread: true when the path still leads to the files recorded (file_guard.cc).
  Status CheckFiles() const;
  // Store thread: saves the open database beside its old path; returns the rescue file.
  Result<std::string> Rescue();
  // Store thread: runs CheckFiles when due and, on a mismatch, Rescue and the sticky error.
  void GuardFiles();
  // Reads, in Open()'s transaction, the channels and the meta rows once: the store thread's
  // state comes from them, and Recover() hands them out (loaded_).
  Status LoadState();
  static ChannelState StateOf(const ChannelRecord& c);
  Status StartThread();
  static int WalHook(void* arg, sqlite3* db, const char* name, int frames);
  // Store thread: a passive checkpoint of the WAL; a failure is logged, and sticky unless it
  // runs in line (then it fails the commit that triggered it, which makes it sticky).
  int Checkpoint(bool in_line);
  // Store thread, after a round: checkpoints when the WAL is due and no job is queued.
  void CheckpointIfDue();

  // Loop side.
  void Enqueue(Job job);
  void DrainCompletions();
  void AssertLoopThread() const {
    assert(loop_thread_ == std::thread::id() || loop_thread_ == std::this_thread::get_id());
  }
  static void AsyncCb(uv_async_t* handle) noexcept;

  // Store thread.
  void ThreadMain();
  // Runs the reads and the one group transaction of a round; true when that committed writes.
  bool RunRound(std::vector<Job>& jobs);
  void RunRead(Job& job);
  Status ApplyGroup(std::vector<Job*>& writes);
  Status CheckEpoch();
  Status ApplyBatch(const WriteBatch& batch, BatchResult* result);
  Status ApplyOp(const WriteBatch& batch, const WriteBatch::Op& op);
  Status AppendMsgs(const WriteBatch& batch, const WriteBatch::Op* ops, size_t n);
  Status PutClient(const ClientRecord& c);
  Status ExpireMsgs(int64_t channel_id, int64_t before_ns);
  Status EnforceLimits(int64_t channel_id, ChannelState& ch);
  Status RemoveOldest(int64_t channel_id, ChannelState& ch, bool keep_newest,
                      const std::function<bool(int64_t ts_ns)>& remove);
  Status CreateChannel(const ChannelRecord& rec);
  Status DeleteChannel(int64_t channel_id);
  Status PutServer(const ServerRecord& rec);
  Status PutSub(const SubRecord& rec);
  Status DeleteSub(uint64_t sub_id);
  Status FlushSubState();
  // Folds pending_ (sorted) into one statement per (sub, seq) and runs them.
  Status FlushPending();
  void ClearPending();
  Status FlushChannels();
  Status FlushMetaIds();
  Status PutMeta(const char* key, const std::string& text);
  Status PutMetaInt(const char* key, int64_t value);
  Status Step(Stmt id);  // steps a statement that returns no row, then resets it
  Result<uint64_t> FindSeq(int64_t channel_id, int64_t ts_ns);
  // The message spans (sqlite_store_spans.cc). SpanFn is called for each stretch of ids that
  // holds seqs [seq, seq + n) of the channel, in seq order, until it sets *stop.
  using SpanFn = std::function<Status(int64_t first_id, uint64_t seq, uint64_t n, bool* stop)>;
  Status ForEachSpan(int64_t channel_id, uint64_t from_seq, uint64_t to_seq, const SpanFn& fn);
  Status LoadLastSpan(int64_t channel_id, ChannelState& ch);
  // The channel's lowest span (first_seq 0 when it has none).
  Status FirstSpan(int64_t channel_id, uint64_t* first_seq, int64_t* first_id);
  // The id the next append of `ch` gets, with a new span when it cannot extend the last one.
  Status StartAppend(int64_t channel_id, ChannelState& ch, uint64_t seq);
  // Deletes the channel's messages below `new_first` and the spans that held them.
  Status DeleteMsgsBefore(int64_t channel_id, ChannelState& ch, uint64_t new_first);
  // Reclaim of a deleted channel's messages (sqlite_store_reclaim.cc). In the deleting
  // transaction: leaves the messages and spans of the channel behind, made exact (the first
  // span starts at first_seq, an end span at last_seq + 1) and flagged in meta.
  Status OrphanChannelMsgs(int64_t channel_id, ChannelState& ch);
  // In Open()'s transaction, when meta flags orphans: lists them from the tables.
  Status LoadOrphans();
  // Store thread, between rounds: true when a step is due now, and when jobs keep coming and
  // no step ran for kReclaimBusyStepMs. ReclaimOnce takes one step of the first orphan.
  // REQUIRES: mu_ held.
  bool ReclaimDue() const;
  bool ReclaimStarved() const;
  void ReclaimOnce();
  // One step's transaction: deletes up to the step's bounds of the channel's lowest rows and
  // the spans it emptied; *done once no span of the channel is left.
  Status ReclaimStep(int64_t channel_id, uint64_t* rows, bool* done);
  Status ReclaimSpans(int64_t channel_id, uint64_t* rows, bool* done);
  // Rows of an orphan left to delete (end span's first_seq - first span's first_seq).
  Result<uint64_t> OrphanRowsLeft(int64_t channel_id);
  // True when the channel id is a deleted channel's whose messages may be left (committed or in
  // the transaction under way).
  bool IsOrphan(int64_t channel_id) const;
  uint64_t OrphanRows() const;  // the rows_left of every committed orphan
  // Copies the orphans' figures into reclaim_progress_ for reclaim(). REQUIRES: mu_ held.
  void PublishReclaim();
  // Steps `which` (kReadMsgRange or kScanMsgRange: channel_id and seq come first) to its next
  // row, which must hold the channel's `seq` at `id`: Corruption when it is missing or holds
  // another message.
  Status StepToRow(Stmt which, int64_t channel_id, uint64_t seq, int64_t id);
  void TouchChannel(int64_t channel_id, ChannelState& ch);
  void SetSticky(const Status& s);
  void ClearTransactionState();
  // Store thread, between rounds (sqlite_store_backup.cc): the backup requests of a round
  // start (or fail) and leave `jobs`; the running backup takes one step; a finished one is
  // sealed on the finisher thread.
  void StartBackups(std::vector<Job>& jobs);
  void BackupStep();
  void EndBackup(const Status& s);
  // Store thread, when idle (sqlite_store_space.cc): measures the file, takes a reclaim step
  // when `reclaim` (ReclaimDue), else gives free pages back in small steps. True when there is
  // more to do.
  bool IdleWork(bool reclaim);
  void MeasureSpace();
  void MeasureSpaceWhenDue();  // every kSpaceMeasureMs, busy or idle

  // Store or sync thread: gives finished jobs to the loop.
  void HandBack(std::vector<Job>& jobs);
  // Store thread, before a round goes to the sync thread: hands the applied completions of its
  // writes to the loop at once, each with its batch's status and result.
  void HandBackApplied(std::vector<Job>& jobs);

  // Sync thread (see "Sync" above).
  void SyncThreadMain();
  Status SyncWal();

  // Constant after construction.
  const StoreOptions options_;
  uv_loop_t* const loop_;

  // Connection state: the opening thread until StartThread(), then the store thread (and
  // TEST_RunIdle while idle).
  sqlite3* db_ = nullptr;
  Statements stmts_;
  uint64_t epoch_ = 0;
  StoreIdentity identity_;
  struct FileId {
    uint64_t dev = 0, ino = 0;
  };
  FileId db_file_, wal_file_;       // set by RecordFiles(), constant after
  int64_t next_file_check_ms_ = 0;  // store thread
  std::unordered_map<int64_t, ChannelState> channels_;
  uint64_t max_sub_id_ = 0;
  int64_t max_channel_id_ = 0;
  int64_t next_msg_id_ = 1;  // the id of the next message appended (max(id) + 1 at open)
  Recovered loaded_;  // server and channels as LoadState read them, until Recover() takes them
  // The running backup and its request (store thread only), and the thread that seals the last
  // one (joined before the next starts and by Close()).
  std::unique_ptr<BackupCopy> backup_;
  Job backup_job_;
  std::thread backup_finisher_;
  // Last measured space; written by the store thread, read by the loop under space_mu_.
  mutable std::mutex space_mu_;
  StoreSpace space_;
  int64_t next_space_ms_ = 0;  // store thread
  bool vacuuming_ = false;     // store thread: a vacuum started and goes on until no page is free
  // Deleted channels whose messages are left to reclaim, in the order they were deleted (store
  // thread; Open()'s transaction fills it first), and those of the transaction under way (they
  // join after its commit). rows_left is exact, not an estimate: an orphan's spans cover its
  // rows and nothing else (OrphanChannelMsgs makes them so), so it is the end span's first_seq
  // minus the first span's, taken from the deleting transaction's counters or, at Open, from
  // the spans (two seeks per orphan, never a count of the messages table); each step takes off
  // the rows it deleted. Only a damaged index (a row a span names is missing) makes it wrong,
  // and then the steps fail anyway.
  struct Orphan {
    int64_t channel_id = 0;
    uint64_t rows_left = 0;
  };
  std::deque<Orphan> orphans_;
  std::vector<Orphan> new_orphans_;
  bool orphan_flag_ = false;  // meta's orphan_spans is 1
  struct ReclaimRun {         // the first orphan's reclaim, for its log lines
    bool started = false;
    uint64_t rows_at_start = 0, rows = 0, steps = 0;
    int64_t start_ms = 0, max_step_us = 0;
  };
  ReclaimRun reclaim_run_;
  int64_t reclaim_next_ms_ = 0;   // no step before (a retry's wait)
  int64_t reclaim_retry_ms_ = 0;  // the wait after the next failure (0: kReclaimRetryMs)
  int64_t reclaim_last_ms_ = 0;   // when the last step ran
  // Per-transaction coalescing (store thread only).
  std::vector<PendingOp> pending_;
  std::unordered_map<uint64_t, uint64_t> last_sent_;
  std::vector<int64_t> dirty_channels_;
  std::vector<int64_t> touched_;
  bool meta_ids_dirty_ = false;
  uint64_t batch_counter_ = 0;
  int wal_frames_ = 0;  // frames in the WAL after the last commit (WalHook); 0 once checkpointed

  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> queue_;
  bool stopping_ = false;
  bool held_ = false;
  bool busy_ = false;       // the store thread is running a round
  bool idle_busy_ = false;  // the store thread is using the connection for its idle work
  Status sticky_;
  uint64_t transactions_ = 0;
  ReclaimStats reclaim_stats_;
  ReclaimProgress reclaim_progress_;  // published by the store thread (PublishReclaim)
  bool reclaim_paused_ = false;

  // Checkpoint counts, written by the store thread (also from WalHook, which may run under mu_
  // in TEST_RunIdle: hence atomics, not mu_), read by TEST_checkpoints.
  std::atomic<uint64_t> checkpoints_between_{0}, checkpoints_in_line_{0};
  std::atomic<uint64_t> syncs_{0};  // successful fdatasyncs of the sync thread
  std::atomic<int> max_wal_frames_{0};

  // The sync stage. own_sync_ and wal_fd_ are constant once the store thread runs;
  // sync_failed_ is the sync thread's own.
  struct Round {
    std::vector<Job> jobs;
    bool wrote = false;  // a transaction committed in this round: the WAL needs a sync
    bool waited = true;  // somebody waits for one of its jobs (false: unwaited batches only)
  };
  bool own_sync_ = false;
  int wal_fd_ = -1;
  Status sync_failed_;
  std::mutex sync_mu_;  // guards sync_queue_, sync_stopping_, sync_held_ and test_sync_error_
  std::condition_variable sync_cv_;
  std::vector<Round> sync_queue_;
  bool sync_stopping_ = false;
  bool sync_held_ = false;
  Status test_sync_error_;
  std::thread sync_thread_;

  // Guarded by done_mu_: jobs finished by the store thread, not yet taken by the loop.
  std::mutex done_mu_;
  std::vector<Job> done_;

  // Loop thread only.
  std::thread::id loop_thread_;  // set on first use, checked by AssertLoopThread()
  uv_async_t* async_ = nullptr;  // created on first use; freed by its close callback
  std::deque<Job> ready_;        // finished jobs whose completion is about to run
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace tandem::store
