// store.h: the persistence interface of tandem, what the streaming layer and ft/ see of SQLite.
//
// One Store is one open SQLite file held under an exclusive lock (locking_mode=EXCLUSIVE, WAL).
// Opening it *is* taking the fault-tolerance lock: Open() fails with Status::Busy while another
// process holds the file, and the kernel frees the lock when the holder exits or dies. Every
// successful Open() increments the fencing epoch in the same transaction that takes the lock.
//
// Writes travel in WriteBatch objects. The loop thread fills a batch and Submit()s it; the store
// thread takes every batch that is queued, applies them in order in ONE transaction (group
// commit: BEGIN IMMEDIATE, epoch check, statements, limit trimming, COMMIT), the configured sync
// makes it durable (with sync full, a sync thread flushes the WAL while the store thread applies
// the next transaction: sqlite_store.h), and then each batch's completion runs on the loop
// thread (uv_async_send), in submission order. A completion with an OK status means the batch
// is durable; only then may the caller acknowledge what the batch holds. SubmitStaged() adds a
// second, earlier completion, `applied`, run once the transaction has committed (visible to
// reads, and to a process that opens the store after this one dies: the kernel keeps the
// written WAL) but before the sync: a caller may deliver there, never acknowledge. Reads may
// see a committed batch before its completions have run; callers bound what they deliver by
// what has been applied.
//
// Errors are sticky (a write whose outcome is unknown is never retried and carried on from):
// after a commit fails with an unknown outcome (I/O error, disk full, fencing), every later
// Submit completes with that same error and nothing more is written.
//
// Ownership: Open() returns the only owner. The Store borrows the uv loop, which must outlive it.
// Thread safety: every public method is called on the loop thread only, except Open() and
// Recover(), which may run anywhere before the Store is shared (a uv_queue_work job, say).
// Completions always run on the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "store/identity.h"
#include "store/status.h"

typedef struct uv_loop_s uv_loop_t;

namespace tandem::store {

enum class SyncMode { kFull, kNormal };

struct StoreOptions {
  std::string path = "./tandem-data/store.db";  // the directory is created if missing
  SyncMode sync = SyncMode::kFull;
  // Identity (see store/identity.h). With cluster_id set, Open() refuses a store recorded with
  // another cluster id or group, and records `group` in a store that has none yet.
  std::string cluster_id;
  std::string group;
  // Non-empty: Open() may not create a store (a missing or empty file is refused with NotFound
  // and this text as the reason). Empty: a missing file is created (a first start).
  std::string no_create_reason;
  // Non-empty: the store id the group serves; a store with another id is refused.
  std::string expect_store_id;
  // The highest fencing epoch heard in the group: a store whose epoch is lower (an older copy
  // of the group's store) is refused.
  uint64_t min_epoch = 0;
  // Test-only: skip the exclusive lock (locking_mode=NORMAL) so that two instances can both
  // believe they are active; used to prove that fencing catches them.
  bool TEST_skip_lock = false;
  // Test-only: open with the reclaim of deleted channels' messages paused (SqliteStore's
  // TEST_PauseReclaim resumes it).
  bool TEST_pause_reclaim = false;
};

// Limits a channel was created with. 0 means unlimited. max_age in nanoseconds.
struct ChannelLimits {
  uint64_t max_msgs = 0;
  uint64_t max_bytes = 0;
  int64_t max_age_ns = 0;
};

struct ChannelRecord {
  int64_t id = 0;
  std::string name;
  uint64_t first_seq = 1;  // first stored; first_seq == last_seq + 1 when empty
  uint64_t last_seq = 0;   // last ever assigned; never goes back while the channel exists
  uint64_t msgs = 0;
  uint64_t bytes = 0;             // sum of stored MsgProto sizes
  int64_t last_timestamp_ns = 0;  // timestamp of last_seq, so timestamps stay non-decreasing
  ChannelLimits limits;
};

struct ClientRecord {
  std::string client_id;
  std::string hb_inbox;
  std::string conn_id;
  int32_t protocol = 0;
  int32_t ping_interval = 0;
  int32_t ping_max_out = 0;
};

struct SubRecord {
  uint64_t id = 0;  // assigned by the caller, unique for the store's life
  int64_t channel_id = 0;
  std::string client_id;  // for offline durables: the last owner
  std::string queue;      // stored queue name; "durable:group" for durable queue groups
  std::string inbox;      // delivery subject
  std::string ack_inbox;
  std::string durable_name;
  int32_t max_in_flight = 0;
  int32_t ack_wait_s = 0;
  uint64_t last_sent = 0;
  bool is_durable = false;
  bool is_offline = false;        // closed durable or shadow durable queue group
  std::vector<uint64_t> pending;  // filled by Recover() only, ascending
  // Parallel to `pending`: how many times each was sent (at least 1; rows of a store older than
  // schema 4 read as 1). Filled by Recover() only.
  std::vector<uint32_t> deliveries;
};

struct ServerRecord {
  std::string cluster_id;
  std::string pub_prefix, sub_requests, unsub_requests, close_requests, sub_close_requests,
      ping_requests, discover;
  uint64_t epoch = 0;  // this instance's fencing epoch (the one its Open() wrote)
};

// Everything the loop needs to serve after a start or a takeover. Cost is independent of the
// number of stored messages: channels come with their counters, not their messages.
struct Recovered {
  ServerRecord server;  // cluster_id empty on a fresh store
  std::vector<ChannelRecord> channels;
  std::vector<ClientRecord> clients;
  std::vector<SubRecord> subs;
  uint64_t max_sub_id = 0;
  int64_t max_channel_id = 0;
};

struct MsgRecord {
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  std::string data;  // the serialized MsgProto as first delivered
};

// A channel's counters after a batch touched it (appends, trims, expiry).
struct ChannelStats {
  int64_t channel_id = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  // The timestamp of the oldest stored message; 0 when the channel is empty or the store does
  // not know it (after a restart, until an expiry or a limit has read that message).
  int64_t first_timestamp_ns = 0;
};

struct BatchResult {
  std::vector<ChannelStats> channels;  // one entry per channel whose messages changed
};

// The operations a WriteBatch holds, one struct per kind. Records are shared and immutable so
// that an op stays small (a batch may hold thousands of appends); message bytes and client ids
// live in the batch's byte buffer and are named by a DataRef.
namespace batch_op {
struct DataRef {
  size_t offset = 0;
  size_t size = 0;
};
// Inserts or replaces a whole record (a channel: creates it).
template <typename R>
struct PutRecord {
  std::shared_ptr<const R> record;
};
using PutServer = PutRecord<ServerRecord>;
using CreateChannel = PutRecord<ChannelRecord>;
using PutClient = PutRecord<ClientRecord>;
using PutSub = PutRecord<SubRecord>;
struct DeleteChannel {
  int64_t channel_id = 0;
};
struct AppendMsg {
  int64_t channel_id = 0;
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  DataRef data;  // the serialized MsgProto
};
struct ExpireMsgs {
  int64_t channel_id = 0;
  int64_t before_ns = 0;
};
struct DeleteClient {
  DataRef client_id;
};
struct DeleteSub {
  uint64_t sub_id = 0;
};
// A subscription and a message seq: its last sent, or one pending.
struct SubSeq {
  uint64_t sub_id = 0;
  uint64_t seq = 0;
};
struct UpdateLastSent : SubSeq {};
struct AddPending : SubSeq {
  uint32_t deliveries = 1;  // times sent so far
};
// A pending message was sent again: its stored delivery count.
struct SetDeliveries : SubSeq {
  uint32_t deliveries = 1;
};
struct RemovePending : SubSeq {};
}  // namespace batch_op

// An ordered list of changes applied atomically. Cheap to move; fill it on the loop thread.
// Message bytes and client ids are copied into one buffer per batch, so that a batch of
// thousands of messages costs a few allocations rather than one per message.
class WriteBatch {
 public:
  void PutServer(const ServerRecord& server);
  void CreateChannel(const ChannelRecord& channel);  // id, name, limits
  // With its subscriptions; its messages are deleted after the commit, in steps.
  void DeleteChannel(int64_t channel_id);
  // Appends one message; `data` is the serialized MsgProto. Limits of the channel (max_msgs,
  // max_bytes) are enforced after the append within the same transaction, always keeping the
  // newest message.
  void AppendMsg(int64_t channel_id, uint64_t seq, int64_t timestamp_ns, std::string_view data);
  // Removes the messages whose timestamp is < `before_ns` (max_age). Like the reference server,
  // this may remove the newest one too and leave the channel empty (first_seq = last_seq + 1).
  void ExpireMsgs(int64_t channel_id, int64_t before_ns);
  void PutClient(const ClientRecord& client);
  void DeleteClient(const std::string& client_id);
  void PutSub(const SubRecord& sub);  // insert or replace, without its pending set
  void DeleteSub(uint64_t sub_id);    // with its pending set
  void UpdateLastSent(uint64_t sub_id, uint64_t last_sent);
  // Call AddPending once per (sub, seq) while it is pending: an AddPending and a RemovePending
  // of the same pair that meet in one group commit cancel out and write nothing. `deliveries`
  // is how many times the message was sent to the subscription so far.
  void AddPending(uint64_t sub_id, uint64_t seq, uint32_t deliveries = 1);
  // Records a new delivery count of a pending (sub, seq) whose AddPending was written before.
  void SetDeliveries(uint64_t sub_id, uint64_t seq, uint32_t deliveries);
  void RemovePending(uint64_t sub_id, uint64_t seq);
  // Room for `ops` operations and `bytes` of message data, so that a large batch does not grow
  // (and move) in steps.
  void Reserve(size_t ops, size_t bytes) {
    ops_.reserve(ops);
    bytes_.reserve(bytes);
  }

  bool empty() const { return ops_.empty(); }

  // Nobody waits for this batch to be durable (it carries positions, acks and pending rows,
  // whose loss to a power cut costs redeliveries, never a message or an acknowledgement). A
  // store whose sync is a stage of its own may then hold its sync back, up to
  // SqliteStore::kUnwaitedSyncMs, so that it shares the fdatasync of the next batch somebody
  // waits for instead of holding that one up; its completion is late by as much. It is still
  // committed at once, so a process that dies loses none of it.
  void set_unwaited() { unwaited_ = true; }
  bool unwaited() const { return unwaited_; }
  size_t size() const { return ops_.size(); }
  size_t bytes() const { return bytes_.size(); }

  // The store implementation walks the ops (one batch_op struct each); callers do not.
  using Op = std::variant<batch_op::PutServer, batch_op::CreateChannel, batch_op::DeleteChannel,
                          batch_op::AppendMsg, batch_op::ExpireMsgs, batch_op::PutClient,
                          batch_op::DeleteClient, batch_op::PutSub, batch_op::DeleteSub,
                          batch_op::UpdateLastSent, batch_op::AddPending, batch_op::SetDeliveries,
                          batch_op::RemovePending>;
  const std::vector<Op>& ops() const { return ops_; }
  // The bytes a DataRef names (a message's data, a client id).
  std::string_view data(batch_op::DataRef ref) const {
    return std::string_view(bytes_).substr(ref.offset, ref.size);
  }

 private:
  batch_op::DataRef AddData(std::string_view data);

  std::vector<Op> ops_;
  bool unwaited_ = false;
  std::string bytes_;  // the data of every op, back to back
};

// What a finished online backup wrote (Store::Backup).
struct BackupResult {
  std::string path;         // the sealed copy
  uint64_t bytes = 0;       // its size
  int64_t elapsed_ms = 0;   // from the request reaching the store thread to the seal
  uint64_t steps = 0;       // backup steps, each between two group commits
  int64_t max_step_us = 0;  // the longest step: the longest a commit waited for the backup
};

// The store file's size and its free pages (Store::space).
struct StoreSpace {
  uint64_t file_bytes = 0;  // the database file (without its WAL)
  uint64_t wal_bytes = 0;   // its write-ahead log
  uint64_t page_bytes = 0;  // page size
  uint64_t pages = 0;       // pages in use and free
  uint64_t free_pages = 0;  // pages on the free list, given back by the incremental vacuum
};

// The reclaim of deleted channels' messages (WriteBatch::DeleteChannel: the deleting commit
// leaves a channel's message rows behind, the store deletes them afterwards in steps), as the
// store last left it: after the deleting commit, after each step, and at Open.
struct ReclaimProgress {
  uint64_t channels = 0;        // deleted channels whose message rows are not all deleted yet
  uint64_t rows_left = 0;       // their message rows still in the store
  uint64_t rows_reclaimed = 0;  // message rows of deleted channels deleted since Open
};

class Store {
 public:
  using CommitDone = std::function<void(const Status&, const BatchResult&)>;
  using ReadDone = std::function<void(Result<std::vector<MsgRecord>>)>;
  using SeqDone = std::function<void(Result<uint64_t>)>;
  using BackupDone = std::function<void(const Status&, const BackupResult&)>;

  // Opens (creating if needed and allowed) and locks the store, migrates the schema forward,
  // checks its identity against the options, increments the epoch, and writes the identity
  // file beside it. Busy when another process holds the lock; Corruption for a damaged file or
  // one of a newer schema; IOError for an unreadable path; NotFound for a missing store that
  // may not be created; InvalidArgument for a store of another identity or an older epoch.
  //
  // While the store is open, its store thread checks about twice a second that the path still
  // leads to the files it holds (device and inode of the database and its WAL). If the file
  // was deleted, moved or replaced, it saves what it holds to `<path>.rescued-<UTC time>` (the
  // directory is made again if it is gone) with SQLite's online backup from the open
  // connection, and then fails with a sticky IOError that names the rescue file: nothing is
  // acknowledged after that, and the process fences.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, uv_loop_t* loop);

  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Loads what the loop needs to serve (see Recovered). Call once, before any Submit.
  virtual Result<Recovered> Recover() = 0;

  // Queues a batch for the next group commit; `done` runs on the loop thread afterwards.
  // Completions of Submit, ReadMsgs and FindSeqByTime run in the order of the calls. A batch
  // that names an unknown channel, creates an existing one or appends a seq other than the
  // channel's last_seq + 1 (seqs are contiguous) is a caller bug: it fails its whole group with
  // InvalidArgument, which is sticky like any other failed commit. After Close(), `done` runs at
  // once with ShutdownInProgress.
  virtual void Submit(WriteBatch batch, CommitDone done) = 0;
  // Submit, with `applied` run on the loop thread once the batch's transaction committed and
  // before `done` (with the commit's status and result; `done` then reports the sync). The
  // applied completions also run in submission order. This default runs both at completion;
  // a store whose sync is a stage of its own (SqliteStore, store.sync=full) runs `applied` as
  // soon as the commit is through.
  virtual void SubmitStaged(WriteBatch batch, CommitDone applied, CommitDone done) {
    Submit(std::move(batch), [applied = std::move(applied), done = std::move(done)](
                                 const Status& s, const BatchResult& r) {
      applied(s, r);
      done(s, r);
    });
  }

  // Reads up to `max_count` messages of a channel with seq >= from_seq, in order. Sees every
  // batch whose completion ran before the call. NotFound for an unknown channel.
  virtual void ReadMsgs(int64_t channel_id, uint64_t from_seq, size_t max_count, ReadDone done) = 0;
  // The first seq whose timestamp is >= ts_ns, or last_seq + 1 when there is none (also for an
  // empty channel). NotFound for an unknown channel.
  virtual void FindSeqByTime(int64_t channel_id, int64_t ts_ns, SeqDone done) = 0;

  // Waits for queued batches to commit, stops the store thread, closes the file and so frees
  // the lock. Completions of batches still queued run before Close returns. Call it on the
  // loop thread, then let the loop run once more: it frees the store's uv_async_t handle.
  virtual Status Close() = 0;

  virtual uint64_t epoch() const = 0;
  // Who this store is (constant after Open).
  virtual const StoreIdentity& identity() const = 0;
  // The sticky error, OK while the store is healthy.
  virtual Status health() const = 0;

  // Writes a consistent copy of the store to `path` (absolute; its directory must exist; an
  // existing file is never replaced) while the store keeps committing (store/backup.h); `done`
  // runs on the loop thread. The copy holds every batch whose completion ran before the call.
  // Busy while another backup runs. Completes out of order with the other jobs.
  virtual void Backup(const std::string& path, BackupDone done) {
    done(Status::InvalidArgument("this store cannot take a backup", path), BackupResult());
  }
  // The file's size and free pages, as last measured by the store thread (about every second).
  virtual StoreSpace space() const { return StoreSpace(); }
  // fdatasyncs that made commits durable since Open (0 for a store that does not sync on its
  // own): fewer than the commits when commits share one. Any thread.
  virtual uint64_t syncs() const { return 0; }
  // Deleted channels' messages left to reclaim and reclaimed since Open (ReclaimProgress). Any
  // thread; never waits for a reclaim step.
  virtual ReclaimProgress reclaim() const { return ReclaimProgress(); }

 protected:
  Store() = default;
};

}  // namespace tandem::store
