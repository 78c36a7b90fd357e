// sqlite_store_batch.cc: SqliteStore's batch operations on the store thread: each op of a
// WriteBatch applied in the group transaction, channel limits enforced after the batch, and the
// coalesced state (pending sets, last_sent, channel counters, id meta rows) flushed before
// COMMIT.
#include <algorithm>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/row_checksum.h"
#include "store/schema.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"

namespace tandem::store {
namespace {

// Raises the counter `*max` to `id`; true when it moved (its meta row is then due).
template <typename T>
bool RaiseTo(T* max, T id) {
  if (id <= *max) return false;
  *max = id;
  return true;
}

}  // namespace

// --- Batch operations -----------------------------------------------------------------------

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
    result->channels.push_back(
        ChannelStats{id, ch.first_seq, ch.last_seq, ch.msgs, ch.bytes, ch.first_timestamp_ns});
  }
  return Status::OK();
}

// One op other than a run of appends; a new op kind fails to compile here until it is applied.
Status SqliteStore::ApplyOp(const WriteBatch& batch, const WriteBatch::Op& op) {
  return std::visit(
      [&](const auto& o) -> Status {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, batch_op::PutServer>) {
          return PutServer(*o.record);
        } else if constexpr (std::is_same_v<T, batch_op::CreateChannel>) {
          return CreateChannel(*o.record);
        } else if constexpr (std::is_same_v<T, batch_op::DeleteChannel>) {
          return DeleteChannel(o.channel_id);
        } else if constexpr (std::is_same_v<T, batch_op::AppendMsg>) {
          return AppendMsgs(batch, &op, 1);
        } else if constexpr (std::is_same_v<T, batch_op::ExpireMsgs>) {
          return ExpireMsgs(o.channel_id, o.before_ns);
        } else if constexpr (std::is_same_v<T, batch_op::PutClient>) {
          return PutClient(*o.record);
        } else if constexpr (std::is_same_v<T, batch_op::DeleteClient>) {
          BindText(stmts_.get(Stmt::kDeleteClient), 1, batch.data(o.client_id));
          return Step(Stmt::kDeleteClient);
        } else if constexpr (std::is_same_v<T, batch_op::PutSub>) {
          return PutSub(*o.record);
        } else if constexpr (std::is_same_v<T, batch_op::DeleteSub>) {
          return DeleteSub(o.sub_id);
        } else if constexpr (std::is_same_v<T, batch_op::UpdateLastSent>) {
          last_sent_[o.sub_id] = o.seq;
          return Status::OK();
        } else if constexpr (std::is_same_v<T, batch_op::AddPending>) {
          pending_.push_back(PendingOp{o.sub_id, o.seq, o.deliveries, PendingKind::kAdd});
          return Status::OK();
        } else if constexpr (std::is_same_v<T, batch_op::SetDeliveries>) {
          pending_.push_back(PendingOp{o.sub_id, o.seq, o.deliveries, PendingKind::kSet});
          return Status::OK();
        } else {
          static_assert(std::is_same_v<T, batch_op::RemovePending>, "every op kind is applied");
          pending_.push_back(PendingOp{o.sub_id, o.seq, 0, PendingKind::kRemove});
          return Status::OK();
        }
      },
      op);
}

Status SqliteStore::PutClient(const ClientRecord& c) {
  BindAll(stmts_.get(Stmt::kPutClient), c.client_id, c.hb_inbox, c.conn_id, c.protocol,
          c.ping_interval, c.ping_max_out);
  return Step(Stmt::kPutClient);
}

Status SqliteStore::Step(Stmt id) {
  sqlite3_stmt* st = stmts_.get(id);
  int rc = sqlite3_step(st);
  Status s = rc == SQLITE_DONE ? Status::OK() : stmts_.Error(id, rc);
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

// Appends `n` messages of one channel (ops[0..n), all batch_op::AppendMsg) under consecutive
// ids, so in one span (sqlite_store_spans.cc), kInsertRun rows per statement while there are
// that many left, then one by one.
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
  for (size_t i = 0; i < n; ++i) {
    if (msg(i).seq != ch.last_seq + 1 + i) {
      return Status::InvalidArgument(
          "AppendMsg", fmt::format("channel {}: seq {} does not follow last_seq {}", channel_id,
                                   msg(i).seq, ch.last_seq + i));
    }
  }
  if (Status s = StartAppend(channel_id, ch, msg(0).seq); !s.ok()) return s;
  for (size_t done = 0; done < n;) {
    const size_t rows = n - done >= static_cast<size_t>(kInsertRun) ? kInsertRun : 1;
    const Stmt which = rows == 1 ? Stmt::kInsertMsg : Stmt::kInsertMsgRun;
    sqlite3_stmt* st = stmts_.get(which);
    for (size_t r = 0; r < rows; ++r) {
      const batch_op::AppendMsg& op = msg(done + r);
      const std::string_view data = batch.data(op.data);
      const int p = static_cast<int>(6 * r);
      sqlite3_bind_int64(st, p + 1, next_msg_id_ + static_cast<int64_t>(r));
      sqlite3_bind_int64(st, p + 2, channel_id);
      sqlite3_bind_int64(st, p + 3, I64(op.seq));
      sqlite3_bind_int64(st, p + 4, op.timestamp_ns);
      sqlite3_bind_blob(st, p + 5, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, p + 6, RowChecksum(op.seq, op.timestamp_ns, data));
    }
    if (Status s = Step(which); !s.ok()) return s;
    next_msg_id_ += static_cast<int64_t>(rows);
    for (size_t r = 0; r < rows; ++r) {
      const batch_op::AppendMsg& op = msg(done + r);
      if (ch.msgs == 0) {
        ch.first_seq = op.seq;
        ch.first_timestamp_ns = op.timestamp_ns;
      }
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
// keep_newest the last message always stays. Moves first_seq, msgs and bytes, and learns the
// timestamp of the oldest message left (reported even when nothing was removed, so that the
// loop schedules max_age by it; see ChannelStats::first_timestamp_ns).
Status SqliteStore::RemoveOldest(int64_t channel_id, ChannelState& ch, bool keep_newest,
                                 const std::function<bool(int64_t)>& remove) {
  uint64_t new_first = ch.first_seq;
  const int64_t known_first_ts = ch.first_timestamp_ns;
  bool decided = false;
  // True (and new_first set) when the counters leave nothing more to remove.
  auto at_end = [&] {
    if (ch.msgs != 0 && !(keep_newest && ch.msgs == 1)) return false;
    new_first = ch.msgs == 0 ? ch.last_seq + 1 : ch.last_seq;
    ch.first_timestamp_ns = ch.msgs == 0 ? 0 : ch.last_timestamp_ns;
    return decided = true;
  };
  Status s = ForEachSpan(channel_id, ch.first_seq, ch.last_seq,
                         [&](int64_t id, uint64_t seq, uint64_t n, bool* stop) -> Status {
                           sqlite3_stmt* st = stmts_.get(Stmt::kScanMsgRange);
                           StmtReset reset(st);
                           BindAll(st, id, id + I64(n) - 1);
                           for (uint64_t i = 0; i < n; ++i) {
                             if (at_end()) {
                               *stop = true;
                               return Status::OK();
                             }
                             Status at =
                                 StepToRow(Stmt::kScanMsgRange, channel_id, seq + i, id + I64(i));
                             if (!at.ok()) return at;
                             const int64_t ts = sqlite3_column_int64(st, 2);
                             if (!remove(ts)) {
                               new_first = seq + i;
                               ch.first_timestamp_ns = ts;
                               decided = *stop = true;
                               return Status::OK();
                             }
                             ch.msgs -= 1;
                             ch.bytes -= std::min<uint64_t>(
                                 ch.bytes, static_cast<uint64_t>(sqlite3_column_int64(st, 3)));
                           }
                           return Status::OK();
                         });
  if (!s.ok()) return s;
  if (!decided && !at_end()) {  // counters said more rows than the spans hold: trust the rows
    ch.msgs = 0;
    ch.bytes = 0;
    ch.first_timestamp_ns = 0;
    new_first = ch.last_seq + 1;
  }
  if (new_first == ch.first_seq) {
    if (ch.first_timestamp_ns != known_first_ts) TouchChannel(channel_id, ch);
    return Status::OK();
  }
  if (s = DeleteMsgsBefore(channel_id, ch, new_first); !s.ok()) return s;
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
  // Ids are never reused: a deleted channel's messages may still be there
  // (sqlite_store_reclaim.cc).
  if (IsOrphan(c.id)) {
    return Status::InvalidArgument(
        "CreateChannel", fmt::format("channel {} was deleted: its id is not used again", c.id));
  }
  BindAll(stmts_.get(Stmt::kInsertChannel), c.id, c.name, c.first_seq, c.last_seq, c.msgs, c.bytes,
          c.last_timestamp_ns, c.limits.max_msgs, c.limits.max_bytes, c.limits.max_age_ns);
  if (Status s = Step(Stmt::kInsertChannel); !s.ok()) return s;
  channels_[c.id] = StateOf(c);
  meta_ids_dirty_ |= RaiseTo(&max_channel_id_, c.id);
  return Status::OK();
}

Status SqliteStore::DeleteChannel(int64_t channel_id) {
  if (Status s = FlushSubState(); !s.ok()) return s;
  auto it = channels_.find(channel_id);
  if (it != channels_.end()) {
    if (Status s = OrphanChannelMsgs(channel_id, it->second); !s.ok()) return s;
  }
  for (Stmt id : {Stmt::kDeleteChannelPending, Stmt::kDeleteChannelSubs, Stmt::kDeleteChannel}) {
    sqlite3_bind_int64(stmts_.get(id), 1, channel_id);
    if (Status s = Step(id); !s.ok()) return s;
  }
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
  BindAll(stmts_.get(Stmt::kPutSub), r.id, r.channel_id, r.client_id, r.queue, r.inbox, r.ack_inbox,
          r.durable_name, r.max_in_flight, r.ack_wait_s, r.last_sent, r.is_durable, r.is_offline);
  if (Status s = Step(Stmt::kPutSub); !s.ok()) return s;
  meta_ids_dirty_ |= RaiseTo(&max_sub_id_, r.id);
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

// The ops of one (sub, seq) in op order, folded as they would apply to the row. An AddPending
// and a RemovePending of it in one transaction cancel out (the contract is that AddPending is
// called once per (sub, seq) while it is pending); after a SetDeliveries the row may exist from
// an earlier transaction, so a RemovePending later in this one deletes it.
Status SqliteStore::FlushPending() {
  std::stable_sort(pending_.begin(), pending_.end(), [](const PendingOp& a, const PendingOp& b) {
    return a.sub_id != b.sub_id ? a.sub_id < b.sub_id : a.seq < b.seq;
  });
  for (size_t i = 0; i < pending_.size();) {
    const PendingOp& first = pending_[i];
    bool changed = false;      // an op of this key is left to write
    bool present = false;      // the row must exist after the transaction
    bool added_first = false;  // the first op since the last cancellation was AddPending
    uint32_t deliveries = 0;
    for (;
         i < pending_.size() && pending_[i].sub_id == first.sub_id && pending_[i].seq == first.seq;
         ++i) {
      const PendingOp& op = pending_[i];
      if (!changed) {
        changed = true;
        present = op.kind != PendingKind::kRemove;
        added_first = op.kind == PendingKind::kAdd;
        deliveries = op.deliveries;
      } else if (op.kind == PendingKind::kAdd) {
        present = true;
        deliveries = op.deliveries;
      } else if (op.kind == PendingKind::kSet) {
        if (present) deliveries = op.deliveries;
      } else if (added_first) {
        changed = false;  // added and removed here: nothing to write
      } else {
        present = false;
      }
    }
    if (!changed) continue;
    Stmt id = present ? Stmt::kInsertPending : Stmt::kDeletePending;
    sqlite3_stmt* st = stmts_.get(id);
    sqlite3_bind_int64(st, 1, I64(first.sub_id));
    sqlite3_bind_int64(st, 2, I64(first.seq));
    if (present) sqlite3_bind_int64(st, 3, deliveries);
    if (Status s = Step(id); !s.ok()) return s;
  }
  ClearPending();
  return Status::OK();
}

void SqliteStore::ClearPending() {
  if (pending_.capacity() > kPendingOpsKept) {
    std::vector<PendingOp>().swap(pending_);
  } else {
    pending_.clear();
  }
}

Status SqliteStore::FlushSubState() {
  if (Status s = FlushPending(); !s.ok()) return s;
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
