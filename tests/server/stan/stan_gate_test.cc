// stan_gate_test.cc: the streaming layer holds deliveries back while a subscription's inbox has
// no interest (its client is reconnecting), on fakes of the core and the store and a fake
// clock: new messages and AckWait redeliveries wait, go out as soon as the inbox has interest,
// and go out anyway after the bound.
#include <uv.h>

#include <algorithm>
#include <memory>
#include <set>

#include <doctest/doctest.h>

#include "server/stan/stan_protocol.pb.h"
#include "server/stan/stan_server.h"
#include "server/util/before_sleep.h"
#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {
namespace {

class InterestClient : public test::FakeBus {
 public:
  bool HasInterest(std::string_view subject) override {
    return !no_interest.count(std::string(subject));
  }
  std::set<std::string> no_interest;
};

class GateHarness {
 public:
  GateHarness() {
    uv_loop_init(&loop);
    // The process's before-sleep step, as App registers it: each pass submits the store batch.
    before_sleep = std::make_unique<BeforeSleep>(&loop);
    before_sleep->Add("stan.submit", [this] { stan->SubmitStoreBatch(); });
    stan = std::make_unique<StanServer>(&loop, &nc, &store, store::Recovered{}, StanOptions{});
    REQUIRE(stan->Start().ok());
    Connect();
    CommitAll();
  }
  ~GateHarness() {
    stan->Stop();
    while (!store.submitted.empty()) store.CompleteOne();
    stan.reset();
    before_sleep->Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  void CommitAll() {
    for (int i = 0; i < 10; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      if (store.submitted.empty()) return;
      store.CompleteOne();
    }
  }
  void Connect() {
    pb::ConnectRequest req;
    req.set_clientid("c1");
    req.set_heartbeatinbox("hb.c1");
    req.set_protocol(1);
    req.set_connid("conn.c1");
    nc.Publish("_STAN.discover.test-cluster", "reply.connect", req.SerializeAsString());
  }
  void Subscribe(int ack_wait_s) {
    pb::SubscriptionRequest r;
    r.set_clientid("c1");
    r.set_subject("foo");
    r.set_inbox("deliver.c1");
    r.set_maxinflight(100);
    r.set_ackwaitinsecs(ack_wait_s);
    r.set_startposition(pb::First);
    nc.Publish("_STAN.sub.test-cluster", "reply.sub", r.SerializeAsString());
    CommitAll();
  }
  void Pub(const std::string& guid) {
    pb::PubMsg m;
    m.set_clientid("c1");
    m.set_connid("conn.c1");
    m.set_guid(guid);
    m.set_subject("foo");
    m.set_data("data-" + guid);
    nc.Publish("_STAN.pub.test-cluster.foo", "reply.ack", m.SerializeAsString());
    CommitAll();
  }
  size_t Count(const std::string& subject) const {
    return std::count_if(nc.sent.begin(), nc.sent.end(),
                         [&](auto& s) { return s.subject == subject; });
  }
  size_t Delivered() const { return Count("deliver.c1"); }
  void Advance(uint64_t ms) {
    // In recheck steps, as the real timer would run.
    for (uint64_t t = 0; t < ms; t += DeliveryGate::kRecheckMs) {
      stan->TEST_timers().TEST_Advance(DeliveryGate::kRecheckMs);
    }
  }

  uv_loop_t loop;
  InterestClient nc;
  test::FakeStore store;
  std::unique_ptr<BeforeSleep> before_sleep;
  std::unique_ptr<StanServer> stan;
};

}  // namespace

TEST_SUITE("stan_gate") {
  TEST_CASE("stan_gate: new messages wait for the inbox's interest") {
    GateHarness h;
    h.Subscribe(30);
    h.nc.no_interest.insert("deliver.c1");
    h.Pub("g1");
    h.Pub("g2");
    CHECK(h.Delivered() == 0);
    CHECK(h.Count("reply.ack") == 2);  // acknowledged to the publisher all the same
    h.Advance(200);
    CHECK(h.Delivered() == 0);
    h.nc.no_interest.clear();
    h.Advance(DeliveryGate::kRecheckMs);
    CHECK(h.Delivered() == 2);
    h.Pub("g3");
    CHECK(h.Delivered() == 3);
  }

  TEST_CASE("stan_gate: an AckWait redelivery waits for interest, not a whole AckWait") {
    GateHarness h;
    h.Subscribe(1);
    h.Pub("g1");
    REQUIRE(h.Delivered() == 1);
    h.nc.no_interest.insert("deliver.c1");
    h.Advance(1100);  // AckWait expired while nobody listens
    CHECK(h.Delivered() == 1);
    h.nc.no_interest.clear();
    h.Advance(DeliveryGate::kRecheckMs);
    REQUIRE(h.Delivered() == 2);
    pb::MsgProto m;
    REQUIRE(m.ParseFromString(h.nc.sent.back().payload));
    CHECK(m.redelivered());
  }

  TEST_CASE("stan_gate: after the bound, delivery goes on as without a gate") {
    GateHarness h;
    h.Subscribe(1);  // bound: min(2 s, AckWait 1 s)
    h.nc.no_interest.insert("deliver.c1");
    h.Pub("g1");
    h.Advance(900);
    CHECK(h.Delivered() == 0);
    h.Advance(200);
    CHECK(h.Delivered() == 1);
    h.Pub("g2");  // gave up: no new wait while there is still no interest
    CHECK(h.Delivered() == 2);
  }
}

}  // namespace tandem::server
