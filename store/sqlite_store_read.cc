// sqlite_store_read.cc: the read side of SqliteStore: LoadState() and Recover() (metadata and
// counters only, never the messages) and the store thread's ReadMsgs (which verifies each
// row's checksum) and FindSeqByTime.
//
// Sections: 1. Load and Recover, 2. Reads on the store thread.
#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/row_checksum.h"
#include "store/schema.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"

namespace tandem::store {
namespace {

std::string ColumnText(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

std::string ColumnBlob(sqlite3_stmt* st, int col) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(st, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

}  // namespace

// --- 1. Load and Recover ---------------------------------------------------------------------

SqliteStore::ChannelState SqliteStore::StateOf(const ChannelRecord& c) {
  ChannelState ch;
  ch.first_seq = c.first_seq;
  ch.last_seq = c.last_seq;
  ch.msgs = c.msgs;
  ch.bytes = c.bytes;
  ch.last_timestamp_ns = c.last_timestamp_ns;
  ch.limits = c.limits;
  return ch;
}

Status SqliteStore::LoadState() {
  int rc;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kLoadMeta);
    StmtReset reset(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::string key = ColumnText(st, 0);
      if (key == kMetaMaxSubId) max_sub_id_ = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
      if (key == kMetaMaxChannelId) max_channel_id_ = sqlite3_column_int64(st, 1);
      if (key == kMetaOrphanSpans) orphan_flag_ = sqlite3_column_int64(st, 1) != 0;
      for (const ServerMetaField& m : kServerMeta) {
        if (key == m.key) loaded_.server.*m.field = ColumnText(st, 1);
      }
    }
    if (rc != SQLITE_DONE) return stmts_.Error(Stmt::kLoadMeta, rc);
  }
  sqlite3_stmt* st = stmts_.get(Stmt::kLoadChannels);
  StmtReset reset(st);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ChannelRecord c;
    c.id = sqlite3_column_int64(st, 0);
    c.name = ColumnText(st, 1);
    c.first_seq = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
    c.last_seq = static_cast<uint64_t>(sqlite3_column_int64(st, 3));
    c.msgs = static_cast<uint64_t>(sqlite3_column_int64(st, 4));
    c.bytes = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
    c.last_timestamp_ns = sqlite3_column_int64(st, 6);
    c.limits.max_msgs = static_cast<uint64_t>(sqlite3_column_int64(st, 7));
    c.limits.max_bytes = static_cast<uint64_t>(sqlite3_column_int64(st, 8));
    c.limits.max_age_ns = sqlite3_column_int64(st, 9);
    max_channel_id_ = std::max(max_channel_id_, c.id);
    channels_[c.id] = StateOf(c);
    loaded_.channels.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return stmts_.Error(Stmt::kLoadChannels, rc);
  sqlite3_stmt* max_id = stmts_.get(Stmt::kMaxMsgId);
  StmtReset reset_max(max_id);
  if (rc = sqlite3_step(max_id); rc != SQLITE_ROW) return stmts_.Error(Stmt::kMaxMsgId, rc);
  next_msg_id_ = sqlite3_column_int64(max_id, 0) + 1;  // NULL (no message) reads as 0
  return LoadOrphans();
}

// Holds mu_ throughout, so that the store thread cannot start a round meanwhile. The server
// record and the channels were read by LoadState(); this reads clients and subscriptions.
Result<Recovered> SqliteStore::Recover() {
  std::unique_lock<std::mutex> lock(mu_);
  // A vacuum or reclaim step, or a measure: milliseconds.
  cv_.wait(lock, [this] { return !idle_busy_; });
  if (!sticky_.ok()) return sticky_;
  if (busy_ || !queue_.empty() || closed_) {
    return Status::InvalidArgument("Recover", "call it once, before any Submit or read");
  }
  Recovered out;
  out.server = std::move(loaded_.server);
  out.server.epoch = epoch_;
  out.channels = std::move(loaded_.channels);
  loaded_ = Recovered{};
  int rc;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kLoadClients);
    StmtReset reset(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      ClientRecord c;
      c.client_id = ColumnText(st, 0);
      c.hb_inbox = ColumnText(st, 1);
      c.conn_id = ColumnText(st, 2);
      c.protocol = sqlite3_column_int(st, 3);
      c.ping_interval = sqlite3_column_int(st, 4);
      c.ping_max_out = sqlite3_column_int(st, 5);
      out.clients.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return stmts_.Error(Stmt::kLoadClients, rc);
  }
  std::unordered_map<uint64_t, size_t> sub_index;
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kLoadSubs);
    StmtReset reset(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      SubRecord s;
      s.id = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
      s.channel_id = sqlite3_column_int64(st, 1);
      s.client_id = ColumnText(st, 2);
      s.queue = ColumnText(st, 3);
      s.inbox = ColumnText(st, 4);
      s.ack_inbox = ColumnText(st, 5);
      s.durable_name = ColumnText(st, 6);
      s.max_in_flight = sqlite3_column_int(st, 7);
      s.ack_wait_s = sqlite3_column_int(st, 8);
      s.last_sent = static_cast<uint64_t>(sqlite3_column_int64(st, 9));
      s.is_durable = sqlite3_column_int(st, 10) != 0;
      s.is_offline = sqlite3_column_int(st, 11) != 0;
      out.max_sub_id = std::max(out.max_sub_id, s.id);
      sub_index[s.id] = out.subs.size();
      out.subs.push_back(std::move(s));
    }
    if (rc != SQLITE_DONE) return stmts_.Error(Stmt::kLoadSubs, rc);
  }
  {
    sqlite3_stmt* st = stmts_.get(Stmt::kLoadPending);
    StmtReset reset(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      auto it = sub_index.find(static_cast<uint64_t>(sqlite3_column_int64(st, 0)));
      if (it == sub_index.end()) continue;  // cannot happen: pending rows die with their sub
      SubRecord& sub = out.subs[it->second];
      sub.pending.push_back(static_cast<uint64_t>(sqlite3_column_int64(st, 1)));
      sub.deliveries.push_back(static_cast<uint32_t>(std::max<int64_t>(
          1,
          std::min<int64_t>(sqlite3_column_int64(st, 2), std::numeric_limits<uint32_t>::max()))));
    }
    if (rc != SQLITE_DONE) return stmts_.Error(Stmt::kLoadPending, rc);
  }
  out.max_sub_id = std::max(out.max_sub_id, max_sub_id_);
  out.max_channel_id = max_channel_id_;
  return out;
}

// --- 2. Reads on the store thread -------------------------------------------------------------

void SqliteStore::RunRead(Job& job) {
  if (channels_.count(job.channel_id) == 0) {
    job.status = Status::NotFound("channel", std::to_string(job.channel_id));
    return;
  }
  if (job.kind == Job::Kind::kFindSeq) {
    Result<uint64_t> r = FindSeq(job.channel_id, job.ts_ns);
    if (r.ok())
      job.found_seq = *r;
    else
      job.status = r.status();
    return;
  }
  const ChannelState& ch = channels_.at(job.channel_id);
  const uint64_t from = std::max(job.seq, ch.first_seq);
  if (ch.msgs == 0 || from > ch.last_seq || job.max_count == 0) return;
  const uint64_t to =
      ch.last_seq - from + 1 > job.max_count ? from + job.max_count - 1 : ch.last_seq;
  const int64_t channel_id = job.channel_id;
  const std::string where = fmt::format("channel {}", channel_id);  // names a damaged row
  job.status =
      ForEachSpan(channel_id, from, to, [&](int64_t id, uint64_t seq, uint64_t n, bool*) -> Status {
        sqlite3_stmt* st = stmts_.get(Stmt::kReadMsgRange);
        StmtReset reset(st);
        BindAll(st, id, id + I64(n) - 1);
        for (uint64_t i = 0; i < n; ++i) {
          Status at = StepToRow(Stmt::kReadMsgRange, channel_id, seq + i, id + I64(i));
          if (!at.ok()) return at;
          MsgRecord m;
          m.seq = seq + i;
          m.timestamp_ns = sqlite3_column_int64(st, 2);
          m.data = ColumnBlob(st, 3);
          // A row written before schema 3 has no checksum and is read unverified.
          if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            Status s = VerifyRowChecksum(where, m.seq, m.timestamp_ns, m.data,
                                         sqlite3_column_int64(st, 4));
            if (!s.ok()) return s;
          }
          job.msgs.push_back(std::move(m));
        }
        return Status::OK();
      });
  if (!job.status.ok()) job.msgs.clear();  // nothing of a read that met a damaged row goes out
}

// Timestamps do not decrease with seq, so "the first row at or after q has ts >= T (or there
// is none)" is false then true over q in [first_seq, last_seq + 1]: binary search for the
// boundary with O(log n) point lookups, no scan and no timestamp index.
Result<uint64_t> SqliteStore::FindSeq(int64_t channel_id, int64_t ts_ns) {
  const ChannelState& ch = channels_.at(channel_id);
  if (ch.msgs == 0) return ch.last_seq + 1;
  // Returns the seq of the first row at or after q with ts >= T, 0 when that row is too old,
  // last_seq + 1 when there is no row at or after q.
  auto probe = [&](uint64_t q, uint64_t* found) -> Status {
    if (q > ch.last_seq) {
      *found = ch.last_seq + 1;
      return Status::OK();
    }
    return ForEachSpan(channel_id, q, q, [&](int64_t id, uint64_t, uint64_t, bool*) -> Status {
      sqlite3_stmt* st = stmts_.get(Stmt::kScanMsgRange);
      StmtReset reset(st);
      BindAll(st, id, id);
      if (Status at = StepToRow(Stmt::kScanMsgRange, channel_id, q, id); !at.ok()) return at;
      *found = sqlite3_column_int64(st, 2) >= ts_ns ? q : 0;
      return Status::OK();
    });
  };
  uint64_t lo = ch.first_seq, hi = ch.last_seq + 1, found = 0;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (Status s = probe(mid, &found); !s.ok()) return s;
    if (found != 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (Status s = probe(lo, &found); !s.ok()) return s;
  return found != 0 ? found : ch.last_seq + 1;
}

}  // namespace tandem::store
