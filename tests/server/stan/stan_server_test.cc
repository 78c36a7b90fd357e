// stan_server_test.cc: the streaming layer on fakes of the core and the store: the publish
// invariant (no PubAck and no delivery before the commit that holds the message, none at all
// after a failed commit), AckWait redelivery on a fake clock, the coalescing of pending
// rows (a delivery acked quickly writes none; at most kPersistPerBatch rows a batch), and the
// owner checks of acks, unsubscribes and closes (session_guard.h).
#include "server/stan/stan_server.h"

#include <uv.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include "server/stan/cluster_id_check.h"
#include "server/stan/stan_codec.h"
#include "server/stan/stan_protocol.pb.h"
#include "server/util/before_sleep.h"
#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {
namespace {

namespace batch_op = store::batch_op;

class Harness {
 public:
  explicit Harness(const StanOptions& options = {}, store::Recovered recovered = {}) {
    uv_loop_init(&loop);
    // The process's before-sleep step, as App registers it: each pass submits the store batch.
    before_sleep = std::make_unique<BeforeSleep>(&loop);
    before_sleep->Add("stan.submit", [this] { stan->SubmitStoreBatch(); });
    stan = std::make_unique<StanServer>(&loop, &nc, &store, std::move(recovered), options);
    REQUIRE(stan->Start().ok());
    stan->SetOnFatal([this](const Status&) { ++fatal; });
  }
  ~Harness() {
    stan->Stop();
    while (!store.submitted.empty()) store.CompleteOne();
    stan.reset();
    before_sleep->Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  void Pass() { uv_run(&loop, UV_RUN_NOWAIT); }
  void CommitAll() {
    for (int i = 0; i < 10; ++i) {
      Pass();
      if (store.submitted.empty()) return;
      store.CompleteOne();
    }
  }

  void Connect(const std::string& id) {
    pb::ConnectRequest req;
    req.set_clientid(id);
    req.set_heartbeatinbox("hb." + id);
    req.set_protocol(1);
    req.set_connid("conn." + id);
    nc.Publish("_STAN.discover.test-cluster", "reply.connect", req.SerializeAsString());
  }
  void Pub(const std::string& client, const std::string& channel, const std::string& guid) {
    pb::PubMsg m;
    m.set_clientid(client);
    m.set_connid("conn." + client);
    m.set_guid(guid);
    m.set_subject(channel);
    m.set_data("data-" + guid);
    nc.Publish("_STAN.pub.test-cluster." + channel, "reply.ack", m.SerializeAsString());
  }
  std::string Subscribe(const std::string& client, const std::string& channel, int ack_wait = 30,
                        const std::string& queue = "") {
    pb::SubscriptionRequest r;
    r.set_clientid(client);
    r.set_subject(channel);
    r.set_qgroup(queue);
    r.set_inbox("deliver." + client);
    r.set_maxinflight(100);
    r.set_ackwaitinsecs(ack_wait);
    r.set_startposition(pb::First);
    nc.Publish("_STAN.sub.test-cluster", "reply.sub", r.SerializeAsString());
    pb::SubscriptionResponse resp;
    REQUIRE(resp.ParseFromString(Last("reply.sub")));
    REQUIRE(resp.error() == "");
    return resp.ackinbox();
  }
  size_t Count(const std::string& subject) const {
    return std::count_if(nc.sent.begin(), nc.sent.end(),
                         [&](auto& s) { return s.subject == subject; });
  }
  std::string Last(const std::string& subject) const {
    for (auto it = nc.sent.rbegin(); it != nc.sent.rend(); ++it)
      if (it->subject == subject) return it->payload;
    return "";
  }

  uv_loop_t loop;
  test::FakeBus nc;
  test::FakeStore store;
  std::unique_ptr<BeforeSleep> before_sleep;
  std::unique_ptr<StanServer> stan;
  int fatal = 0;
};

// Client c1 subscribed to foo with AckWait 1s, and message 1 delivered to it once.
void DeliverOneWithAckWait1s(Harness& h) {
  h.Connect("c1");
  h.CommitAll();
  h.Subscribe("c1", "foo", 1);
  h.Pub("c1", "foo", "g1");
  h.CommitAll();
  REQUIRE(h.Count("deliver.c1") == 1);
}

// The Ack of `seq` on channel foo, published on `ack_inbox` by h.nc.sender.
void AckFoo(Harness& h, const std::string& ack_inbox, uint64_t seq) {
  pb::Ack ack;
  ack.set_subject("foo");
  ack.set_sequence(seq);
  h.nc.Publish(ack_inbox, "", ack.SerializeAsString());
}

size_t PendingOnFoo(Harness& h) {
  size_t n = 0;
  for (auto& [id, sub] : h.stan->channels().Lookup("foo")->subs()) n += sub->pending.size();
  return n;
}

// The error of the reply to an UnsubscribeRequest (on `subject`) or CloseRequest.
std::string UnsubError(Harness& h, const std::string& subject, const std::string& ack_inbox) {
  pb::UnsubscribeRequest u;
  u.set_clientid("c1");
  u.set_subject("foo");
  u.set_inbox(ack_inbox);
  h.nc.Publish(subject, "reply.unsub", u.SerializeAsString());
  pb::SubscriptionResponse r;
  REQUIRE(r.ParseFromString(h.Last("reply.unsub")));
  return r.error();
}

std::string CloseError(Harness& h, const std::string& client) {
  pb::CloseRequest c;
  c.set_clientid(client);
  h.nc.Publish("_STAN.close.test-cluster", "reply.close", c.SerializeAsString());
  pb::CloseResponse r;
  REQUIRE(r.ParseFromString(h.Last("reply.close")));
  return r.error();
}

constexpr char kNotOwner[] = "stan: request refused: not sent by the client's own connection";

// Client c1 registered by connection 7, which holds its inboxes, with a subscription on foo;
// returns its ack inbox.
std::string OwnedSubOnFoo(Harness& h) {
  h.nc.sender = 7;
  h.nc.held = {{7, "hb.c1"}, {7, "deliver.c1"}};
  h.Connect("c1");
  h.CommitAll();
  const std::string ack_inbox = h.Subscribe("c1", "foo");
  h.CommitAll();
  return ack_inbox;
}

template <typename Op>
bool HasOp(const store::WriteBatch& b) {
  for (auto& op : b.ops())
    if (std::holds_alternative<Op>(op)) return true;
  return false;
}

}  // namespace

TEST_SUITE("stan_server") {
  TEST_CASE("stan_server: a queue group takes turns when each message is acked before the next") {
    Harness h;
    h.Connect("c1");
    h.Connect("c2");
    h.CommitAll();
    const std::string ack1 = h.Subscribe("c1", "foo", 30, "workers");
    const std::string ack2 = h.Subscribe("c2", "foo", 30, "workers");
    h.CommitAll();
    for (int i = 1; i <= 6; ++i) {
      h.Pub("c1", "foo", "g" + std::to_string(i));
      h.CommitAll();
      REQUIRE(h.Count("deliver.c1") + h.Count("deliver.c2") == static_cast<size_t>(i));
      // Ack the last delivery of each member (again for an old one: ignored), so that neither
      // has anything pending when the next message comes.
      for (const auto& [inbox, ack_inbox] : {std::pair{"deliver.c1", ack1}, {"deliver.c2", ack2}}) {
        if (h.Count(inbox) == 0) continue;
        pb::MsgProto m;
        REQUIRE(m.ParseFromString(h.Last(inbox)));
        pb::Ack ack;
        ack.set_subject("foo");
        ack.set_sequence(m.sequence());
        h.nc.Publish(ack_inbox, "", ack.SerializeAsString());
      }
      h.CommitAll();
    }
    CHECK(h.Count("deliver.c1") == 3);
    CHECK(h.Count("deliver.c2") == 3);
  }

  TEST_CASE("stan_server: a commit submits the batch filled meanwhile before its PubAcks go") {
    Harness h;
    h.Connect("c1");
    h.CommitAll();
    h.Pub("c1", "foo", "g1");
    h.Pass();  // the before-sleep step submits the first batch
    REQUIRE(h.store.submitted.size() == 1);
    h.Pub("c1", "foo", "g2");  // fills the next batch while the first is in flight
    // The commit continuation submits what filled meanwhile first, not a later loop pass: the
    // store does not wait for the loop (the StoreWriter itself calls nobody to complete it).
    const size_t acks_before = h.Count("reply.ack");
    h.store.CompleteOne();
    REQUIRE(h.store.submitted.size() == 1);  // g2's batch went at once, without a pass
    CHECK(HasOp<batch_op::AppendMsg>(h.store.submitted.front().batch));
    CHECK(h.Count("reply.ack") == acks_before + 1);  // g1's PubAck only
    h.store.CompleteOne();
    CHECK(h.Count("reply.ack") == acks_before + 2);
  }

  TEST_CASE("stan_server: no PubAck and no delivery before the commit") {
    Harness h;
    h.Connect("c1");
    h.CommitAll();
    h.Subscribe("c1", "foo");
    h.Pub("c1", "foo", "g1");
    CHECK(h.Count("reply.ack") == 0);
    CHECK(h.Count("deliver.c1") == 0);
    h.Pass();
    REQUIRE(h.store.submitted.size() == 1);
    CHECK(HasOp<batch_op::AppendMsg>(h.store.submitted.front().batch));
    CHECK(h.Count("reply.ack") == 0);
    CHECK(h.Count("deliver.c1") == 0);
    h.store.CompleteOne();
    CHECK(h.Count("deliver.c1") == 1);
    REQUIRE(h.Count("reply.ack") == 1);
    pb::PubAck ack;
    REQUIRE(ack.ParseFromString(h.Last("reply.ack")));
    CHECK(ack.guid() == "g1");
    CHECK(ack.error() == "");
    // Delivery came first.
    size_t d = 0, a = 0;
    for (size_t i = 0; i < h.nc.sent.size(); ++i) {
      if (h.nc.sent[i].subject == "deliver.c1") d = i;
      if (h.nc.sent[i].subject == "reply.ack") a = i;
    }
    CHECK(d < a);
    pb::MsgProto m;
    REQUIRE(m.ParseFromString(h.Last("deliver.c1")));
    CHECK(m.sequence() == 1);
    CHECK(m.data() == "data-g1");
  }

  TEST_CASE("stan_server: a failed commit stops every acknowledgement") {
    Harness h;
    h.Connect("c1");
    h.CommitAll();
    h.Subscribe("c1", "foo");
    h.Pub("c1", "foo", "g1");
    h.Pass();
    REQUIRE(h.store.submitted.size() == 1);
    h.store.CompleteOne(Status::IOError("store.db", "disk I/O error"));
    CHECK(h.fatal == 1);
    CHECK(h.stan->failed());
    CHECK(h.Count("reply.ack") == 0);
    CHECK(h.Count("deliver.c1") == 0);
    h.Pub("c1", "foo", "g2");
    h.CommitAll();
    CHECK(h.Count("reply.ack") == 0);
    CHECK(h.Count("deliver.c1") == 0);
  }

  TEST_CASE("stan_server: AckWait redelivery appends redelivered and the count") {
    Harness h;
    DeliverOneWithAckWait1s(h);
    h.stan->TEST_timers().TEST_Advance(1100);
    REQUIRE(h.Count("deliver.c1") == 2);
    pb::MsgProto m;
    REQUIRE(m.ParseFromString(h.Last("deliver.c1")));
    CHECK(m.sequence() == 1);
    CHECK(m.redelivered());
    CHECK(m.redeliverycount() == 1);
    h.stan->TEST_timers().TEST_Advance(1100);
    REQUIRE(m.ParseFromString(h.Last("deliver.c1")));
    CHECK(m.redeliverycount() == 2);
  }

  TEST_CASE("stan_server: past max_deliveries a message is dead-lettered with its removal") {
    StanOptions o;
    o.limits.max_deliveries = 2;
    o.limits.dead_letter = "foo.dead";
    o.limits.channels["foo.dead"].dead_letter = "";
    Harness h(o);
    DeliverOneWithAckWait1s(h);
    h.stan->TEST_timers().TEST_Advance(1100);
    h.CommitAll();
    REQUIRE(h.Count("deliver.c1") == 2);
    h.stan->TEST_timers().TEST_Advance(1100);
    CHECK(h.Count("deliver.c1") == 2);  // sent twice: not again
    CHECK(PendingOnFoo(h) == 0);
    h.Pass();
    REQUIRE(h.store.submitted.size() == 1);
    const store::WriteBatch& b = h.store.submitted.front().batch;
    // One batch, so one transaction: the dead letter's append and the pending row's removal.
    CHECK(HasOp<batch_op::RemovePending>(b));
    const batch_op::AppendMsg* append = nullptr;
    for (auto& op : b.ops())
      if (auto* a = std::get_if<batch_op::AppendMsg>(&op)) append = a;
    REQUIRE(append != nullptr);
    CHECK(append->channel_id == h.stan->channels().Lookup("foo.dead")->id());
    pb::MsgProto m;
    REQUIRE(m.ParseFromString(std::string(b.data(append->data))));
    CHECK(m.sequence() == 1);
    CHECK(m.subject() == "foo");
    CHECK(m.reply() == "1");
    CHECK(m.data() == "data-g1");
    CHECK(h.stan->channels().Lookup("foo")->dead_lettered == 1);
  }

  TEST_CASE("stan_server: after a restart the pending messages go out within MaxInflight") {
    // A store with client c1 and its subscription to foo (MaxInflight 2): five messages sent
    // and unacked, message 2 already sent three times.
    store::Recovered r;
    store::ChannelRecord ch;
    ch.id = 1;
    ch.name = "foo";
    ch.first_seq = 1;
    ch.last_seq = 5;
    ch.msgs = 5;
    r.channels.push_back(ch);
    store::ClientRecord c;
    c.client_id = "c1";
    c.hb_inbox = "hb.c1";
    c.conn_id = "conn.c1";
    r.clients.push_back(c);
    store::SubRecord sub;
    sub.id = 1;
    sub.channel_id = 1;
    sub.client_id = "c1";
    sub.inbox = "deliver.c1";
    sub.ack_inbox = "ack.1";
    sub.max_in_flight = 2;
    sub.ack_wait_s = 30;
    sub.last_sent = 5;
    sub.pending = {1, 2, 3, 4, 5};
    sub.deliveries = {1, 3, 1, 1, 1};
    r.subs.push_back(sub);
    r.max_sub_id = 1;
    r.max_channel_id = 1;
    Harness h({}, std::move(r));
    h.Pass();
    REQUIRE(h.store.reads.size() == 1);  // not cached: read from the store
    std::vector<store::MsgRecord> msgs;
    for (uint64_t seq = 1; seq <= 5; ++seq) {
      store::MsgRecord m;
      m.seq = seq;
      AppendMsgProto(&m.data, seq, "foo", "", "d" + std::to_string(seq), 100);
      msgs.push_back(m);
    }
    auto complete_read = [&] {
      REQUIRE(h.store.reads.size() == 1);
      auto done = std::move(h.store.reads.front());
      h.store.reads.clear();
      done(msgs);
    };
    complete_read();
    REQUIRE(h.Count("deliver.c1") == 2);  // MaxInflight, not all five
    pb::MsgProto m;
    REQUIRE(m.ParseFromString(h.Last("deliver.c1")));
    CHECK(m.sequence() == 2);
    CHECK(m.redeliverycount() == 3);  // the stored count goes on
    AckFoo(h, "ack.1", 1);  // one ack: one more
    complete_read();
    CHECK(h.Count("deliver.c1") == 3);
    REQUIRE(m.ParseFromString(h.Last("deliver.c1")));
    CHECK(m.sequence() == 3);
    CHECK(m.redeliverycount() == 1);
  }

  TEST_CASE("stan_server: a quick ack writes no pending row; a slow one does, and its removal") {
    Harness h;
    h.Connect("c1");
    h.CommitAll();
    std::string ack_inbox = h.Subscribe("c1", "foo", 30);
    h.CommitAll();
    h.Pub("c1", "foo", "g1");
    h.Pass();
    h.store.CompleteOne();  // delivered now
    REQUIRE(h.Count("deliver.c1") == 1);
    pb::Ack ack;
    ack.set_subject("foo");
    ack.set_sequence(1);
    h.nc.Publish(ack_inbox, "", ack.SerializeAsString());
    h.Pass();
    bool add = false;
    for (auto& p : h.store.submitted) add |= HasOp<batch_op::AddPending>(p.batch);
    CHECK_FALSE(add);
    h.CommitAll();

    h.Pub("c1", "foo", "g2");
    h.Pass();
    h.store.CompleteOne();
    REQUIRE(h.Count("deliver.c1") == 2);
    h.Pass();
    // Not yet aged: no row, and the stored position stays below it.
    for (auto& p : h.store.submitted) CHECK_FALSE(HasOp<batch_op::AddPending>(p.batch));
    h.CommitAll();
    h.stan->TEST_timers().TEST_Advance(Delivery::kPersistDelayMs + 1);
    h.Pass();
    REQUIRE(h.store.submitted.size() == 1);
    CHECK(HasOp<batch_op::AddPending>(h.store.submitted.front().batch));
    CHECK(HasOp<batch_op::UpdateLastSent>(h.store.submitted.front().batch));
    h.store.CompleteOne();
    ack.set_sequence(2);
    h.nc.Publish(ack_inbox, "", ack.SerializeAsString());
    h.Pass();
    REQUIRE(h.store.submitted.size() == 1);
    CHECK(HasOp<batch_op::RemovePending>(h.store.submitted.front().batch));
  }

  TEST_CASE("stan_server: rows go at most kPersistPerBatch a batch; the position waits for them") {
    Harness h;
    constexpr int kSubs = 42, kMsgs = 100;  // MaxInflight 100 each: every message goes out
    static_assert(kSubs * kMsgs > static_cast<int>(Delivery::kPersistPerBatch));
    for (int i = 0; i < kSubs; ++i) {
      h.Connect("c" + std::to_string(i));
      h.CommitAll();
      h.Subscribe("c" + std::to_string(i), "foo", 30);
      h.CommitAll();
    }
    for (int j = 1; j <= kMsgs; ++j) h.Pub("c0", "foo", "g" + std::to_string(j));
    h.CommitAll();
    REQUIRE(PendingOnFoo(h) == static_cast<size_t>(kSubs * kMsgs));
    h.stan->TEST_timers().TEST_Advance(Delivery::kPersistDelayMs + 1);
    std::set<std::pair<uint64_t, uint64_t>> rows;  // (sub, seq) of every AddPending
    std::vector<size_t> added;                     // AddPending per batch
    for (int b = 0; b < 5; ++b) {
      h.Pass();
      if (h.store.submitted.empty()) break;
      size_t n = 0;
      for (const auto& op : h.store.submitted.front().batch.ops()) {
        if (const auto* a = std::get_if<batch_op::AddPending>(&op)) {
          CHECK(rows.insert({a->sub_id, a->seq}).second);  // one row per delivery
          ++n;
        } else if (const auto* u = std::get_if<batch_op::UpdateLastSent>(&op)) {
          // The stored position never passes a delivery without a row (none was acked).
          for (uint64_t seq = 1; seq <= u->seq; ++seq) CHECK(rows.count({u->sub_id, seq}) == 1);
        }
      }
      added.push_back(n);
      h.store.CompleteOne();  // its applied continuation submits the next batch at once
    }
    REQUIRE(added.size() >= 2);
    CHECK(added[0] == Delivery::kPersistPerBatch);
    CHECK(added[1] == kSubs * kMsgs - Delivery::kPersistPerBatch);
    CHECK(rows.size() == static_cast<size_t>(kSubs * kMsgs));
  }

  // The deliveries without a row are found from one cursor into the pending set: acks at the
  // cursor and in the middle leave holes it must step over, never past an unrecorded delivery.
  TEST_CASE("stan_server: aged deliveries get rows around acked holes; the position waits") {
    Harness h;
    h.Connect("c1");
    h.CommitAll();
    const std::string ack_inbox = h.Subscribe("c1", "foo", 30);
    h.CommitAll();
    // Rows (AddPending seqs) and the last stored position of the batches submitted now.
    auto drain = [&h](std::set<uint64_t>* rows, uint64_t* position) {
      for (int b = 0; b < 5 && !h.store.submitted.empty(); ++b) {
        for (const auto& op : h.store.submitted.front().batch.ops()) {
          if (const auto* a = std::get_if<batch_op::AddPending>(&op)) rows->insert(a->seq);
          if (const auto* u = std::get_if<batch_op::UpdateLastSent>(&op)) *position = u->seq;
        }
        h.store.CompleteOne();
        h.Pass();
      }
    };
    for (int j = 1; j <= 6; ++j) h.Pub("c1", "foo", "g" + std::to_string(j));
    h.CommitAll();
    REQUIRE(h.Count("deliver.c1") == 6);
    AckFoo(h, ack_inbox, 1);  // the first without a row (the cursor's)
    AckFoo(h, ack_inbox, 4);  // one in the middle
    h.Pass();
    std::set<uint64_t> rows;
    uint64_t position = 0;
    drain(&rows, &position);
    CHECK(rows.empty());  // none aged yet
    CHECK(position == 0);  // below every delivery without a row
    h.stan->TEST_timers().TEST_Advance(Delivery::kPersistDelayMs + 1);
    h.Pass();
    drain(&rows, &position);
    CHECK(rows == std::set<uint64_t>{2, 3, 5, 6});
    CHECK(position == 6);

    for (int j = 7; j <= 9; ++j) h.Pub("c1", "foo", "g" + std::to_string(j));
    h.CommitAll();
    REQUIRE(h.Count("deliver.c1") == 9);
    AckFoo(h, ack_inbox, 7);
    AckFoo(h, ack_inbox, 2);  // a recorded one: its removal, no effect on the cursor
    h.Pass();
    rows.clear();
    drain(&rows, &position);
    CHECK(rows.empty());
    CHECK(position == 6);  // not past 8, which has no row yet
    h.stan->TEST_timers().TEST_Advance(Delivery::kPersistDelayMs + 1);
    h.Pass();
    drain(&rows, &position);
    CHECK(rows == std::set<uint64_t>{8, 9});
    CHECK(position == 9);
    CHECK(PendingOnFoo(h) == 5);  // 3, 5, 6, 8, 9
  }

  TEST_CASE("stan_server: acks count only from a connection that acts for the client") {
    Harness h;
    h.nc.sender = 7;  // the client's connection: registers, holds its inboxes
    h.nc.held = {{7, "hb.c1"}, {7, "deliver.c1"}};
    h.Connect("c1");
    h.CommitAll();
    const std::string ack_inbox = h.Subscribe("c1", "foo");
    for (int i = 1; i <= 4; ++i) h.Pub("c1", "foo", "g" + std::to_string(i));
    h.CommitAll();
    REQUIRE(h.Count("deliver.c1") == 4);
    REQUIRE(PendingOnFoo(h) == 4);

    h.nc.sender = 9;  // another connection, even one holding a different inbox
    h.nc.held.insert({9, "deliver.other"});
    for (uint64_t seq = 1; seq <= 4; ++seq) AckFoo(h, ack_inbox, seq);
    CHECK(PendingOnFoo(h) == 4);
    CHECK(h.stan->forged().ack == 4);

    h.nc.sender = 7;
    AckFoo(h, ack_inbox, 1);
    CHECK(PendingOnFoo(h) == 3);
    // Reconnected: a new connection that resubscribed the delivery inbox; it becomes the owner.
    h.nc.held = {{11, "deliver.c1"}};
    h.nc.sender = 11;
    AckFoo(h, ack_inbox, 2);
    CHECK(PendingOnFoo(h) == 2);
    // The old connection no longer acts for the client.
    h.nc.sender = 7;
    AckFoo(h, ack_inbox, 3);
    CHECK(PendingOnFoo(h) == 2);
    CHECK(h.stan->forged().ack == 5);
    // The owner still acks once it dropped the inbox.
    h.nc.held.clear();
    h.nc.sender = 11;
    AckFoo(h, ack_inbox, 3);
    CHECK(PendingOnFoo(h) == 1);
    h.nc.sender = 0;  // in-process
    AckFoo(h, ack_inbox, 4);
    CHECK(PendingOnFoo(h) == 0);
    CHECK(h.stan->forged().ack == 5);
  }

  TEST_CASE("stan_server: unsubscribe and close from another connection are refused") {
    Harness h;
    const std::string ack_inbox = OwnedSubOnFoo(h);

    h.nc.sender = 9;
    CHECK(UnsubError(h, "_STAN.unsub.test-cluster", ack_inbox) == kNotOwner);
    CHECK(UnsubError(h, "_STAN.subclose.test-cluster", ack_inbox) == kNotOwner);
    CHECK(CloseError(h, "c1") == kNotOwner);
    CHECK(h.stan->forged().unsubscribe == 1);
    CHECK(h.stan->forged().subclose == 1);
    CHECK(h.stan->forged().close == 1);
    CHECK(h.stan->clients().size() == 1);
    CHECK(h.stan->subscription_count() == 1);
    // The reference server's checks come first: an unknown client keeps its error.
    CHECK(CloseError(h, "nobody") == "stan: unknown clientID");

    // A connection that holds the client's heartbeat inbox acts for it (a reconnected client).
    h.nc.held = {{12, "hb.c1"}};
    h.nc.sender = 12;
    CHECK(UnsubError(h, "_STAN.subclose.test-cluster", ack_inbox) == "");
    CHECK(h.stan->subscription_count() == 0);
    // ...and became the owner: its close counts after it dropped the heartbeat inbox (libnats
    // unsubscribes it before its CloseRequest), the first connection's no longer does.
    h.nc.held.clear();
    h.nc.sender = 7;
    CHECK(CloseError(h, "c1") == kNotOwner);
    h.nc.sender = 12;
    CHECK(CloseError(h, "c1") == "");
    CHECK(h.stan->clients().size() == 0);
    CHECK(h.stan->forged().close == 2);
  }

  TEST_CASE("stan_server: a connection of the owner's user acts for the client") {
    Harness h;
    h.nc.users = {{7, "alice"}, {8, "alice"}, {9, "mallory"}};
    const std::string ack_inbox = OwnedSubOnFoo(h);
    h.nc.sender = 9;  // another user, holding nothing
    CHECK(UnsubError(h, "_STAN.subclose.test-cluster", ack_inbox) == kNotOwner);
    h.nc.sender = 8;  // alice again, on another connection holding nothing
    CHECK(UnsubError(h, "_STAN.subclose.test-cluster", ack_inbox) == "");
    CHECK(CloseError(h, "c1") == "");
    CHECK(h.stan->clients().size() == 0);
  }

  TEST_CASE("stan_server: owner unknown, a close for a client nobody listens to is accepted") {
    Harness h;
    h.nc.sender = 0;  // registered in-process: no owner, as after a restart or takeover
    h.Connect("c1");
    h.CommitAll();
    h.nc.sender = 9;
    h.nc.interest = true;  // someone still subscribes to its heartbeat inbox: refused
    CHECK(CloseError(h, "c1") == kNotOwner);
    h.nc.interest = false;  // nobody does (libnats dropped it before closing): accepted
    CHECK(CloseError(h, "c1") == "");
    CHECK(h.stan->clients().size() == 0);
  }

  TEST_CASE("stan_server: the owner known, nobody listening does not admit a stranger's close") {
    Harness h;
    h.nc.sender = 7;
    h.Connect("c1");
    h.CommitAll();
    h.nc.sender = 9;
    h.nc.interest = false;
    CHECK(CloseError(h, "c1") == kNotOwner);
    CHECK(h.stan->clients().size() == 1);
  }

  TEST_CASE("stan_server: channel permissions refuse a publish and a subscription") {
    // Allows publishing and subscribing to channel "ok" only.
    struct OnlyOk final : SubjectPermissions {
      bool MayPublish(std::string_view s) override { return s == "ok"; }
      bool MaySubscribe(std::string_view s) override { return s == "ok"; }
    } only_ok;
    Harness h;
    h.Connect("c1");
    h.CommitAll();
    h.nc.permissions = &only_ok;
    h.Pub("c1", "secret", "g1");
    pb::PubAck ack;
    REQUIRE(ack.ParseFromString(h.Last("reply.ack")));
    CHECK(ack.error() == "stan: permissions violation for publish to channel \"secret\"");
    CHECK(h.store.submitted.empty());  // nothing stored
    CHECK(h.stan->channels().Lookup("secret") == nullptr);
    h.Pub("c1", "ok", "g2");
    h.CommitAll();
    REQUIRE(ack.ParseFromString(h.Last("reply.ack")));
    CHECK(ack.error() == "");
    CHECK(h.stan->stats().denied_publishes == 1);
  }

  TEST_CASE("stan_server: its own group's start-up probe gets no answer, another group's does") {
    StanOptions o;
    o.own_probe_prefix = ClusterIdCheck::ProbeInboxPrefix("test-cluster", "g");
    REQUIRE(o.own_probe_prefix == "_STAN.probe.test-cluster.g.");
    CHECK(ClusterIdCheck::ProbeInboxPrefix("test-cluster", "").empty());
    Harness h(o);
    pb::ConnectRequest req;
    req.set_clientid("test-cluster");
    req.set_heartbeatinbox("_STAN.probe.test-cluster.g.abc");
    h.nc.Publish("_STAN.discover.test-cluster", "reply.own", req.SerializeAsString());
    req.set_heartbeatinbox("_STAN.probe.test-cluster.gh.abc");  // group "gh", not "g"
    h.nc.Publish("_STAN.discover.test-cluster", "reply.other", req.SerializeAsString());
    h.CommitAll();
    CHECK(h.Count("reply.own") == 0);
    REQUIRE(h.Count("reply.other") == 1);
    pb::ConnectResponse resp;
    REQUIRE(resp.ParseFromString(h.Last("reply.other")));
    CHECK(resp.error() == "");
    CHECK(resp.closerequests() == "_STAN.close.test-cluster");
  }
}

}  // namespace tandem::server
