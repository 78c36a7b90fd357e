// sqlite_store_batch_test.cc: every WriteBatch operation round-trips through Recover(); limits
// (max_msgs, max_bytes with the newest kept, max_age via ExpireMsgs); ReadMsgs and
// FindSeqByTime; DeleteChannel.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/store/store_fixture.h"

namespace tandem::store::testing {
namespace {

const SubRecord* FindSub(const Recovered& r, uint64_t id) {
  for (const SubRecord& s : r.subs) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

// Commits one ExpireMsgs of `channel` for messages older than `before_ns`.
CommitOutcome Expire(TestLoop& loop, Store& store, int64_t channel, int64_t before_ns) {
  WriteBatch b;
  b.ExpireMsgs(channel, before_ns);
  return SubmitWait(loop, store, std::move(b));
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE_FIXTURE(StoreRig, "store: every WriteBatch op round-trips through Recover") {
    {
      auto store = OpenOk(loop, path);
      WriteBatch b;
      ServerRecord sv;
      sv.cluster_id = "test-cluster";
      sv.pub_prefix = "_STAN.pub.X";
      sv.sub_requests = "_STAN.sub.X";
      sv.unsub_requests = "_STAN.unsub.X";
      sv.close_requests = "_STAN.close.X";
      sv.sub_close_requests = "_STAN.subclose.X";
      sv.ping_requests = "_STAN.ping.X";
      sv.discover = "_STAN.discover.test-cluster";
      b.PutServer(sv);
      b.CreateChannel(MakeChannel(1, "foo", ChannelLimits{100, 1 << 20, 60'000'000'000}));
      b.CreateChannel(MakeChannel(2, "bar"));
      b.CreateChannel(MakeChannel(7, "gone"));
      AppendRange(b, 1, 1, 3, 10);
      b.AppendMsg(2, 1, 5000, std::string("\0binary\xff", 8));
      AppendRange(b, 7, 1, 2);
      ClientRecord c1{"me", "_INBOX.hb.me", "conn-1", 1, 5, 3};
      ClientRecord c2{"other", "_INBOX.hb.other", "conn-2", 0, 0, 0};
      b.PutClient(c1);
      b.PutClient(c2);
      SubRecord s1 = MakeSub(10, 1, "me");
      s1.durable_name = "dur";
      s1.is_durable = true;
      b.PutSub(s1);
      SubRecord s2 = MakeSub(11, 1, "other");
      s2.queue = "dur:group";
      s2.is_offline = true;
      b.PutSub(s2);
      b.PutSub(MakeSub(12, 2, "me"));
      b.PutSub(MakeSub(13, 7, "me"));
      b.AddPending(13, 1);
      b.AddPending(10, 1);
      b.AddPending(10, 2);
      b.AddPending(10, 3);
      b.UpdateLastSent(10, 3);
      b.AddPending(12, 1);
      b.UpdateLastSent(12, 1);
      auto first = SubmitWait(loop, *store, std::move(b));
      REQUIRE(first.status.ok());

      WriteBatch b2;
      b2.RemovePending(10, 2);
      b2.DeleteClient("other");
      b2.DeleteSub(12);
      b2.DeleteChannel(7);
      ClientRecord c1b = c1;
      c1b.conn_id = "conn-3";
      b2.PutClient(c1b);
      REQUIRE(SubmitWait(loop, *store, std::move(b2)).status.ok());
      CHECK(store->Close().ok());
    }
    auto [store, r] = Reopen(loop, path);
    CHECK(r->server.cluster_id == "test-cluster");
    CHECK(r->server.pub_prefix == "_STAN.pub.X");
    CHECK(r->server.sub_requests == "_STAN.sub.X");
    CHECK(r->server.unsub_requests == "_STAN.unsub.X");
    CHECK(r->server.close_requests == "_STAN.close.X");
    CHECK(r->server.sub_close_requests == "_STAN.subclose.X");
    CHECK(r->server.ping_requests == "_STAN.ping.X");
    CHECK(r->server.discover == "_STAN.discover.test-cluster");
    CHECK(r->server.epoch == store->epoch());

    REQUIRE(r->channels.size() == 2);
    const ChannelRecord* foo = FindChannel(*r, 1);
    REQUIRE(foo != nullptr);
    CHECK(foo->name == "foo");
    CHECK(foo->first_seq == 1);
    CHECK(foo->last_seq == 3);
    CHECK(foo->msgs == 3);
    CHECK(foo->bytes == 30);
    CHECK(foo->last_timestamp_ns == 3000);
    CHECK(foo->limits.max_msgs == 100);
    CHECK(foo->limits.max_bytes == 1 << 20);
    CHECK(foo->limits.max_age_ns == 60'000'000'000);
    const ChannelRecord* bar = FindChannel(*r, 2);
    REQUIRE(bar != nullptr);
    CHECK(bar->msgs == 1);
    CHECK(bar->bytes == 8);
    CHECK(FindChannel(*r, 7) == nullptr);
    CHECK(r->max_channel_id == 7);  // a deleted id is not handed out again

    REQUIRE(r->clients.size() == 1);
    CHECK(r->clients[0].client_id == "me");
    CHECK(r->clients[0].hb_inbox == "_INBOX.hb.me");
    CHECK(r->clients[0].conn_id == "conn-3");
    CHECK(r->clients[0].protocol == 1);
    CHECK(r->clients[0].ping_interval == 5);
    CHECK(r->clients[0].ping_max_out == 3);

    REQUIRE(r->subs.size() == 2);
    const SubRecord* d = FindSub(*r, 10);
    REQUIRE(d != nullptr);
    CHECK(d->channel_id == 1);
    CHECK(d->client_id == "me");
    CHECK(d->durable_name == "dur");
    CHECK(d->is_durable);
    CHECK_FALSE(d->is_offline);
    CHECK(d->inbox == "_INBOX.deliver.10");
    CHECK(d->ack_inbox == "_INBOX.ack.10");
    CHECK(d->max_in_flight == 1024);
    CHECK(d->ack_wait_s == 30);
    CHECK(d->last_sent == 3);
    CHECK(d->pending == std::vector<uint64_t>{1, 3});
    const SubRecord* q = FindSub(*r, 11);
    REQUIRE(q != nullptr);
    CHECK(q->queue == "dur:group");
    CHECK(q->is_offline);
    CHECK(q->pending.empty());
    CHECK(r->max_sub_id == 13);

    Result<std::vector<MsgRecord>> msgs = ReadWait(loop, *store, 2, 1, 10);
    REQUIRE(msgs.ok());
    REQUIRE(msgs->size() == 1);
    CHECK((*msgs)[0].seq == 1);
    CHECK((*msgs)[0].timestamp_ns == 5000);
    CHECK((*msgs)[0].data == std::string("\0binary\xff", 8));
    CHECK(ReadWait(loop, *store, 7, 1, 10).status().IsNotFound());
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: runs of appends, split at other channels and run lengths, in order") {
    {
      auto store = OpenOk(loop, path);
      WriteBatch b;
      b.CreateChannel(MakeChannel(1, "foo"));
      b.CreateChannel(MakeChannel(2, "bar"));
      AppendRange(b, 1, 1, 70, 10);   // two runs of 32 and six single rows
      AppendRange(b, 2, 1, 5, 20);    // another channel in between
      AppendRange(b, 1, 71, 104, 10);  // one run and two single rows
      auto c = SubmitWait(loop, *store, std::move(b));
      REQUIRE(c.status.ok());

      // A seq that goes back inside what would be a run fails the batch; nothing of it lands.
      WriteBatch bad;
      AppendRange(bad, 1, 105, 120);
      bad.AppendMsg(1, 110, 1, "again");
      AppendRange(bad, 1, 121, 140);
      auto failed = SubmitWait(loop, *store, std::move(bad));
      CHECK(failed.status.IsInvalidArgument());
      CHECK(failed.status.message().find("seq 110 does not follow last_seq 120") !=
            std::string::npos);
      CHECK(store->Close().ok());
    }
    auto [store, r] = Reopen(loop, path);
    const ChannelRecord* foo = FindChannel(*r, 1);
    REQUIRE(foo != nullptr);
    CHECK(foo->first_seq == 1);
    CHECK(foo->last_seq == 104);
    CHECK(foo->msgs == 104);
    CHECK(foo->bytes == 1040);
    CHECK(foo->last_timestamp_ns == 104000);
    Result<std::vector<MsgRecord>> msgs = ReadWait(loop, *store, 1, 1, 200);
    REQUIRE(msgs.ok());
    REQUIRE(msgs->size() == 104);
    for (uint64_t i = 0; i < 104; ++i) {
      const MsgRecord& m = (*msgs)[i];
      REQUIRE(m.seq == i + 1);
      CHECK(m.timestamp_ns == static_cast<int64_t>(m.seq) * 1000);
      CHECK(m.data == std::string(10, static_cast<char>('a' + m.seq % 26)));
    }
    Result<std::vector<MsgRecord>> bar = ReadWait(loop, *store, 2, 1, 10);
    REQUIRE(bar.ok());
    CHECK(bar->size() == 5);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: max_msgs trims the oldest and reports the counters") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo", ChannelLimits{3, 0, 0}));
    AppendRange(b, 1, 1, 5);
    auto c = SubmitWait(loop, *store, std::move(b));
    REQUIRE(c.status.ok());
    REQUIRE(c.result.channels.size() == 1);
    const ChannelStats& st = c.result.channels[0];
    CHECK(st.channel_id == 1);
    CHECK(st.first_seq == 3);
    CHECK(st.last_seq == 5);
    CHECK(st.msgs == 3);
    CHECK(st.bytes == 300);
    CHECK(Seqs(ReadWait(loop, *store, 1, 1, 100).value()) == Range(3, 5));

    WriteBatch b2;
    AppendRange(b2, 1, 6, 6);
    c = SubmitWait(loop, *store, std::move(b2));
    CHECK(c.result.channels[0].first_seq == 4);
    CHECK(Seqs(ReadWait(loop, *store, 1, 0, 100).value()) == Range(4, 6));
    CHECK(store->Close().ok());

    auto [again, r] = Reopen(loop, path);
    CHECK(r->channels[0].first_seq == 4);
    CHECK(r->channels[0].last_seq == 6);
    CHECK(r->channels[0].msgs == 3);
    CHECK(r->channels[0].bytes == 300);
    CHECK(again->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: max_bytes trims the oldest but always keeps the newest") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo", ChannelLimits{0, 250, 0}));
    AppendRange(b, 1, 1, 3, 100);
    auto c = SubmitWait(loop, *store, std::move(b));
    REQUIRE(c.status.ok());
    CHECK(c.result.channels[0].first_seq == 2);
    CHECK(c.result.channels[0].msgs == 2);
    CHECK(c.result.channels[0].bytes == 200);

    WriteBatch big;
    big.AppendMsg(1, 4, 4000, std::string(500, 'z'));  // alone above the limit
    c = SubmitWait(loop, *store, std::move(big));
    REQUIRE(c.status.ok());
    CHECK(c.result.channels[0].first_seq == 4);
    CHECK(c.result.channels[0].last_seq == 4);
    CHECK(c.result.channels[0].msgs == 1);
    CHECK(c.result.channels[0].bytes == 500);
    CHECK(Seqs(ReadWait(loop, *store, 1, 1, 100).value()) == std::vector<uint64_t>{4});
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: ExpireMsgs removes messages older than the bound, up to all of them") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo"));
    AppendRange(b, 1, 1, 5);  // timestamps 1000..5000
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());

    WriteBatch e1;
    e1.ExpireMsgs(1, 3000);  // removes 1000 and 2000
    auto c = SubmitWait(loop, *store, std::move(e1));
    REQUIRE(c.status.ok());
    REQUIRE(c.result.channels.size() == 1);
    CHECK(c.result.channels[0].first_seq == 3);
    CHECK(c.result.channels[0].msgs == 3);
    CHECK(c.result.channels[0].bytes == 300);

    c = Expire(loop, *store, 1, 3000);  // nothing older left
    CHECK(c.result.channels.empty());

    c = Expire(loop, *store, 1, 1'000'000);
    REQUIRE(c.result.channels.size() == 1);
    CHECK(c.result.channels[0].first_seq == 6);
    CHECK(c.result.channels[0].last_seq == 5);
    CHECK(c.result.channels[0].msgs == 0);
    CHECK(c.result.channels[0].bytes == 0);
    CHECK(ReadWait(loop, *store, 1, 1, 100)->empty());

    // The sequence goes on after an empty channel.
    WriteBatch more;
    AppendRange(more, 1, 6, 7);
    c = SubmitWait(loop, *store, std::move(more));
    CHECK(c.result.channels[0].first_seq == 6);
    CHECK(c.result.channels[0].msgs == 2);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: the counters report the oldest message's timestamp") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo"));
    AppendRange(b, 1, 1, 5);  // timestamps 1000..5000
    auto c = SubmitWait(loop, *store, std::move(b));
    REQUIRE(c.result.channels.size() == 1);
    CHECK(c.result.channels[0].first_timestamp_ns == 1000);

    c = Expire(loop, *store, 1, 2500);  // removes 1000 and 2000
    REQUIRE(c.result.channels.size() == 1);
    CHECK(c.result.channels[0].first_timestamp_ns == 3000);
    CHECK(store->Close().ok());

    // Reopened, the store does not know it until an expiry has read the oldest message; that
    // expiry reports it even though it removes nothing.
    store = Reopen(loop, path).store;
    c = Expire(loop, *store, 1, 100);
    REQUIRE(c.result.channels.size() == 1);
    CHECK(c.result.channels[0].first_timestamp_ns == 3000);
    CHECK(c.result.channels[0].first_seq == 3);
    c = Expire(loop, *store, 1, 100);  // known now: nothing changed, nothing reported
    CHECK(c.result.channels.empty());

    c = Expire(loop, *store, 1, 1'000'000);
    REQUIRE(c.result.channels.size() == 1);
    CHECK(c.result.channels[0].first_timestamp_ns == 0);
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: ReadMsgs and FindSeqByTime") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo", ChannelLimits{6, 0, 0}));
    b.CreateChannel(MakeChannel(2, "empty"));
    const int64_t ts[] = {100, 200, 200, 300, 300, 300, 400, 500};
    for (uint64_t seq = 1; seq <= 8; ++seq) b.AppendMsg(1, seq, ts[seq - 1], "m");
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());  // keeps 3..8

    CHECK(Seqs(ReadWait(loop, *store, 1, 0, 2).value()) == Range(3, 4));
    CHECK(Seqs(ReadWait(loop, *store, 1, 5, 100).value()) == Range(5, 8));
    CHECK(ReadWait(loop, *store, 1, 9, 100)->empty());
    CHECK(ReadWait(loop, *store, 1, 1, 0)->empty());

    auto find = [&](int64_t channel, int64_t t) {
      Result<uint64_t> r = FindWait(loop, *store, channel, t);
      REQUIRE(r.ok());
      return *r;
    };
    CHECK(find(1, 0) == 3);  // before everything: the first stored
    CHECK(find(1, 200) == 3);
    CHECK(find(1, 201) == 4);
    CHECK(find(1, 300) == 4);
    CHECK(find(1, 301) == 7);
    CHECK(find(1, 500) == 8);
    CHECK(find(1, 501) == 9);  // after the newest: last_seq + 1, "new only"
    CHECK(find(2, 0) == 1);    // empty channel: last_seq + 1
    CHECK(FindWait(loop, *store, 99, 0).status().IsNotFound());
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: DeleteChannel removes its messages, subscriptions and pending rows") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo"));
    b.CreateChannel(MakeChannel(2, "keep"));
    AppendRange(b, 1, 1, 3);
    AppendRange(b, 2, 1, 1);
    b.PutSub(MakeSub(1, 1, "c"));
    b.PutSub(MakeSub(2, 2, "c"));
    b.AddPending(1, 1);
    b.AddPending(2, 1);
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    WriteBatch del;
    del.AddPending(1, 2);  // coalesced state of the channel's subs must not come back
    del.UpdateLastSent(1, 2);
    del.DeleteChannel(1);
    del.CreateChannel(MakeChannel(3, "foo"));  // same name, new id
    REQUIRE(SubmitWait(loop, *store, std::move(del)).status.ok());
    CHECK(store->Close().ok());

    auto [again, r] = Reopen(loop, path);
    REQUIRE(r->channels.size() == 2);
    CHECK(FindChannel(*r, 1) == nullptr);
    CHECK(FindChannel(*r, 3)->name == "foo");
    REQUIRE(r->subs.size() == 1);
    CHECK(r->subs[0].id == 2);
    CHECK(r->subs[0].pending == std::vector<uint64_t>{1});
    CHECK(ReadWait(loop, *again, 3, 1, 10)->empty());
    CHECK(again->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: a channel is a row, not a table; interleaved channels read apart") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    auto schema_objects = [&store] { return QueryInt(*store, "SELECT count(*) FROM sqlite_schema"); };
    const int64_t before = schema_objects();
    REQUIRE(before > 0);
    constexpr int kChannels = 2000;
    WriteBatch b;
    for (int c = 1; c <= kChannels; ++c) b.CreateChannel(MakeChannel(c, "c" + std::to_string(c)));
    // Two rounds over every channel: each channel's rows lie kChannels rows apart.
    for (uint64_t seq = 1; seq <= 2; ++seq) {
      for (int c = 1; c <= kChannels; ++c) {
        const std::string data = std::to_string(c) + "-" + std::to_string(seq);
        b.AppendMsg(c, seq, static_cast<int64_t>(seq), data);
      }
    }
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    CHECK(schema_objects() == before);
    for (int c : {1, 777, kChannels}) {
      Result<std::vector<MsgRecord>> r = ReadWait(loop, *store, c, 1, 10);
      REQUIRE(r.ok());
      REQUIRE(r->size() == 2);
      CHECK((*r)[0].data == std::to_string(c) + "-1");
      CHECK((*r)[1].data == std::to_string(c) + "-2");
    }
    CHECK(store->Close().ok());
  }

  TEST_CASE_FIXTURE(StoreRig,
                    "store: spans: one per interruption, kept by trimming, read across") {
    auto store = OpenOk(loop, path, SyncMode::kNormal);
    auto spans = [&store] {
      return QueryInt(*store, "SELECT count(*) FROM spans WHERE channel_id=1");
    };
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo", ChannelLimits{15, 0, 0}));
    b.CreateChannel(MakeChannel(2, "bar"));
    AppendRange(b, 1, 1, 40);
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    WriteBatch b2;
    AppendRange(b2, 1, 41, 50);  // nothing stored in between: the same span
    REQUIRE(SubmitWait(loop, *store, std::move(b2)).status.ok());
    CHECK(spans() == 1);
    // Trimmed to 36..50; the span still starts at 1: trimming rewrites no span.
    CHECK(QueryInt(*store, "SELECT first_seq FROM spans WHERE channel_id=1") == 1);
    WriteBatch b3;
    AppendRange(b3, 2, 1, 3);  // channel 2 interrupts
    AppendRange(b3, 1, 51, 60);
    REQUIRE(SubmitWait(loop, *store, std::move(b3)).status.ok());
    CHECK(spans() == 2);
    CHECK(Seqs(ReadWait(loop, *store, 1, 1, 100).value()) == Range(46, 60));
    Result<std::vector<MsgRecord>> across = ReadWait(loop, *store, 1, 48, 6);
    REQUIRE(across.ok());
    CHECK(Seqs(*across) == Range(48, 53));
    CHECK((*across)[5].data == std::string(100, static_cast<char>('a' + 53 % 26)));
    CHECK(FindWait(loop, *store, 1, 52000).value() == 52);
    CHECK(Seqs(ReadWait(loop, *store, 2, 1, 100).value()) == Range(1, 3));
    CHECK(store->Close().ok());

    // After a restart the last span is found again and extended.
    auto [again, r] = Reopen(loop, path);
    WriteBatch b4;
    AppendRange(b4, 1, 61, 61);
    REQUIRE(SubmitWait(loop, *again, std::move(b4)).status.ok());
    CHECK(QueryInt(*again, "SELECT count(*) FROM spans WHERE channel_id=1") == 2);
    CHECK(Seqs(ReadWait(loop, *again, 1, 1, 100).value()) == Range(47, 61));
    // Trimming past the first span's last seq (50) removes that span.
    WriteBatch b5;
    AppendRange(b5, 1, 62, 66);
    REQUIRE(SubmitWait(loop, *again, std::move(b5)).status.ok());
    CHECK(QueryInt(*again, "SELECT count(*) FROM spans WHERE channel_id=1") == 1);
    CHECK(Seqs(ReadWait(loop, *again, 1, 1, 100).value()) == Range(52, 66));
    // Damage to the index is Corruption naming the channel and seq, never another message.
    REQUIRE(Exec(*again, "UPDATE spans SET first_id=first_id+1 WHERE channel_id=1").ok());
    Result<std::vector<MsgRecord>> bad = ReadWait(loop, *again, 1, 55, 5);
    REQUIRE(!bad.ok());
    CHECK(bad.status().IsCorruption());
    CHECK(bad.status().message().find("channel 1 seq 55") != std::string::npos);
    CHECK(again->Close().ok());
  }
}

}  // namespace tandem::store::testing
