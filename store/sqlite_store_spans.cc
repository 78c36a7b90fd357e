// sqlite_store_spans.cc: SqliteStore's index of the messages table, the spans (schema.cc says
// what a span is and why): finding the ids that hold a channel's seqs, starting or extending a
// span on append, and removing a channel's oldest messages with their spans (a deleted
// channel's: sqlite_store_reclaim.cc). Store thread only.
#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"

namespace tandem::store {

Status SqliteStore::StepToRow(Stmt which, int64_t channel_id, uint64_t seq, int64_t id) {
  sqlite3_stmt* st = stmts_.get(which);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return stmts_.Error(which, rc);
  // The name is formatted only for an error: this runs for every row read.
  auto where = [&] { return fmt::format("channel {} seq {}", channel_id, seq); };
  if (rc == SQLITE_DONE) {
    return Status::Corruption(
        where(), fmt::format("its span points at message row {}, which is missing: the store's "
                             "index of messages is damaged",
                             id));
  }
  const int64_t row_channel = sqlite3_column_int64(st, 0);
  const uint64_t row_seq = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
  if (row_channel == channel_id && row_seq == seq) return Status::OK();
  return Status::Corruption(
      where(), fmt::format("its span points at message row {}, which holds channel {} seq {}: "
                           "the store's index of messages is damaged",
                           id, row_channel, row_seq));
}

Status SqliteStore::LoadLastSpan(int64_t channel_id, ChannelState& ch) {
  if (ch.span_known) return Status::OK();
  sqlite3_stmt* st = stmts_.get(Stmt::kLastSpan);
  StmtReset reset(st);
  sqlite3_bind_int64(st, 1, channel_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    ch.span_first_seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
    ch.span_first_id = sqlite3_column_int64(st, 1);
  } else if (rc == SQLITE_DONE) {
    ch.span_first_seq = 0;
  } else {
    return stmts_.Error(Stmt::kLastSpan, rc);
  }
  ch.span_known = true;
  return Status::OK();
}

Status SqliteStore::FirstSpan(int64_t channel_id, uint64_t* first_seq, int64_t* first_id) {
  sqlite3_stmt* st = stmts_.get(Stmt::kSpansFrom);
  StmtReset reset(st);
  BindAll(st, channel_id, int64_t{0});
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return stmts_.Error(Stmt::kSpansFrom, rc);
  *first_seq = rc == SQLITE_ROW ? static_cast<uint64_t>(sqlite3_column_int64(st, 0)) : 0;
  *first_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
  return Status::OK();
}

// The append of `seq` (= last_seq + 1) goes to id next_msg_id_. It extends the last span when
// that span's next id is this one (nothing else was stored since), else starts a span here.
Status SqliteStore::StartAppend(int64_t channel_id, ChannelState& ch, uint64_t seq) {
  if (Status s = LoadLastSpan(channel_id, ch); !s.ok()) return s;
  const bool extends = ch.msgs > 0 && ch.span_first_seq != 0 &&
                       ch.span_first_id + I64(seq - ch.span_first_seq) == next_msg_id_;
  if (extends) return Status::OK();
  BindAll(stmts_.get(Stmt::kPutSpan), channel_id, seq, next_msg_id_);
  if (Status s = Step(Stmt::kPutSpan); !s.ok()) return s;
  ch.span_first_seq = seq;
  ch.span_first_id = next_msg_id_;
  return Status::OK();
}

Status SqliteStore::ForEachSpan(int64_t channel_id, uint64_t from_seq, uint64_t to_seq,
                                const SpanFn& fn) {
  if (from_seq > to_seq) return Status::OK();
  // The span holding from_seq is the last one that starts at or before it.
  uint64_t start = from_seq;
  {
    sqlite3_stmt* at = stmts_.get(Stmt::kSpanAt);
    StmtReset reset(at);
    BindAll(at, channel_id, from_seq);
    int rc = sqlite3_step(at);
    if (rc == SQLITE_ROW)
      start = static_cast<uint64_t>(sqlite3_column_int64(at, 0));
    else if (rc != SQLITE_DONE)
      return stmts_.Error(Stmt::kSpanAt, rc);
  }
  sqlite3_stmt* st = stmts_.get(Stmt::kSpansFrom);
  StmtReset reset(st);
  BindAll(st, channel_id, start);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return stmts_.Error(Stmt::kSpansFrom, rc);
  uint64_t seq = rc == SQLITE_ROW ? static_cast<uint64_t>(sqlite3_column_int64(st, 0)) : 0;
  int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
  if (rc == SQLITE_DONE || seq > from_seq) {
    return Status::Corruption(fmt::format("channel {} seq {}", channel_id, from_seq),
                              "no span of the store's index of messages holds it");
  }
  for (;;) {
    // This span ends before the next one starts, the last one at to_seq.
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return stmts_.Error(Stmt::kSpansFrom, rc);
    const bool more = rc == SQLITE_ROW;
    const uint64_t next_seq = more ? static_cast<uint64_t>(sqlite3_column_int64(st, 0)) : 0;
    const int64_t next_id = more ? sqlite3_column_int64(st, 1) : 0;
    const uint64_t lo = std::max(from_seq, seq);
    const uint64_t hi = more ? std::min(to_seq, next_seq - 1) : to_seq;
    bool stop = false;
    if (lo <= hi) {
      if (Status s = fn(id + I64(lo - seq), lo, hi - lo + 1, &stop); !s.ok()) return s;
    }
    if (stop || !more || hi >= to_seq) return Status::OK();
    seq = next_seq;
    id = next_id;
  }
}

Status SqliteStore::DeleteMsgsBefore(int64_t channel_id, ChannelState& ch, uint64_t new_first) {
  const uint64_t last_gone = std::min(new_first - 1, ch.last_seq);
  Status s = ForEachSpan(channel_id, ch.first_seq, last_gone,
                         [this](int64_t id, uint64_t, uint64_t n, bool*) {
                           BindAll(stmts_.get(Stmt::kDeleteMsgRange), id, id + I64(n) - 1);
                           return Step(Stmt::kDeleteMsgRange);
                         });
  if (!s.ok()) return s;
  // The spans wholly below new_first go; the one holding it stays as it is, starting below
  // the channel's first seq (a span only says where seqs would be, see schema.cc).
  uint64_t keep_from = new_first;
  if (new_first <= ch.last_seq) {
    sqlite3_stmt* at = stmts_.get(Stmt::kSpanAt);
    StmtReset reset(at);
    BindAll(at, channel_id, new_first);
    int rc = sqlite3_step(at);
    if (rc != SQLITE_ROW)
      return stmts_.Error(Stmt::kSpanAt, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
    keep_from = static_cast<uint64_t>(sqlite3_column_int64(at, 0));
  }
  BindAll(stmts_.get(Stmt::kDeleteSpansBefore), channel_id, keep_from);
  if (s = Step(Stmt::kDeleteSpansBefore); !s.ok()) return s;
  if (new_first > ch.last_seq) ch.span_known = false;  // none left
  return Status::OK();
}

}  // namespace tandem::store
