// stan_dead_letter_test.cc: bounded redelivery and dead letters through the real binary with
// libnats: a subscriber that never acks gets each message exactly max_deliveries times, then the
// message is in the dead-letter channel (a subscriber of it receives it; its MsgProto names the
// original channel and sequence) and counted in /streaming/channelsz and /metrics; without a
// dead-letter channel it is dropped and counted. The delivery count survives a kill -9 and
// restart, and an ft takeover, in the middle: twice before, once after, then dead-lettered.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "server/stan/stan_protocol.pb.h"
#include "tests/integration/stan/stan_fixture.h"
#include "tests/support/ft_harness.h"

namespace tandem::test {
namespace {

using nlohmann::json;

constexpr char kLimits[] =
    "limits:\n"
    "  channels:\n"
    "    work: {max_deliveries: 3, dead_letter: work.dead}\n"
    "    nodl: {max_deliveries: 2}\n";

// A durable subscriber of `channel` from its first message that never acks.
void SubscribeNoAck(StanSub& s, stanConnection* sc, const std::string& channel, int ack_wait_ms) {
  stanSubOptions_SetAckWait(s.opts, ack_wait_ms);
  REQUIRE(s.Durable("d").FromFirst().ManualAck(0).Subscribe(sc, channel) == NATS_OK);
}

size_t CountSeq(Collector& c, uint64_t seq) {
  size_t n = 0;
  for (auto& m : c.msgs()) n += m.seq == seq ? 1 : 0;
  return n;
}

// Waits (at most `timeout`) until `c` got `seq` `n` times.
bool WaitSeqCount(Collector& c, uint64_t seq, size_t n, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (CountSeq(c, seq) < n && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(10ms);
  return CountSeq(c, seq) >= n;
}

json GetJson(int http, const std::string& path) {
  Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http, path, 5000);
  REQUIRE_MESSAGE(r.ok(), path << ": " << r.status().ToString());
  REQUIRE_MESSAGE(r.value().status == 200, path << ": " << r.value().body);
  json j = json::parse(r.value().body, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

// Reads `n` messages of `channel` from its first with a raw streaming subscription, to see the
// MsgProto fields libnats does not expose (subject, reply).
std::vector<pb::MsgProto> ReadRaw(const std::string& url, const std::string& channel, size_t n) {
  RawNatsConn rc;
  REQUIRE(rc.Connect(url));
  natsSubscription* inbox = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&inbox, rc.nc(), "_INBOX.raw-reader") == NATS_OK);
  pb::ConnectRequest cr;
  cr.set_clientid("raw-reader");
  cr.set_heartbeatinbox("_INBOX.raw-reader-hb");
  bool ok = false;
  pb::ConnectResponse conn;
  REQUIRE(conn.ParseFromString(
      rc.Request("_STAN.discover.test-cluster", cr.SerializeAsString(), &ok)));
  REQUIRE(ok);
  REQUIRE(conn.error().empty());
  pb::SubscriptionRequest sr;
  sr.set_clientid("raw-reader");
  sr.set_subject(channel);
  sr.set_inbox("_INBOX.raw-reader");
  sr.set_maxinflight(100);
  sr.set_ackwaitinsecs(30);
  sr.set_startposition(pb::First);
  pb::SubscriptionResponse sub;
  REQUIRE(sub.ParseFromString(rc.Request(conn.subrequests(), sr.SerializeAsString(), &ok)));
  REQUIRE(ok);
  REQUIRE(sub.error().empty());
  std::vector<pb::MsgProto> out;
  for (size_t i = 0; i < n; ++i) {
    natsMsg* m = nullptr;
    REQUIRE(natsSubscription_NextMsg(&m, inbox, 5000) == NATS_OK);
    pb::MsgProto mp;
    CHECK(mp.ParseFromArray(natsMsg_GetData(m), natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    out.push_back(mp);
  }
  natsSubscription_Destroy(inbox);
  return out;
}

// After a restart or takeover in the middle: message 1 went to the durable exactly three times
// and then to the dead-letter channel, read by a new subscriber at `url`.
void CheckDeadLetteredOnce(Collector& work, const std::string& url, const char* cluster) {
  StanConn reader;
  REQUIRE(reader.Connect(url, "dead-reader", 16384, cluster) == NATS_OK);
  StanSub dead;
  REQUIRE(dead.FromFirst().Subscribe(reader, "work.dead") == NATS_OK);
  CHECK(dead.c.WaitCount(1, 20s));
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // longer than AckWait
  CHECK(CountSeq(work, 1) == 3);
  std::vector<Delivered> dl = dead.c.msgs();
  REQUIRE(dl.size() == 1);
  CHECK(dl[0].data == "m1");
  std::vector<Delivered> got = work.msgs();
  REQUIRE(got.size() >= 3);
  CHECK(got[2].redelivered);
}

}  // namespace

TEST_SUITE("stan_dead_letter") {
  TEST_CASE("stan_dead_letter: each message max_deliveries times, then dead-lettered") {
    const int http = FreePort();
    StanServerProc srv;
    REQUIRE(srv.Start(std::string(kLimits) + "http: 127.0.0.1:" + std::to_string(http) + "\n"));
    REQUIRE(srv.process().WaitForPort(http));
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "worker") == NATS_OK);
    StanSub dead;
    REQUIRE(dead.FromFirst().Subscribe(sc, "work.dead") == NATS_OK);
    StanSub work, nodl;
    SubscribeNoAck(work, sc, "work", 1000);
    SubscribeNoAck(nodl, sc, "nodl", 1000);
    REQUIRE(sc.Publish("work", "m1") == NATS_OK);
    REQUIRE(sc.Publish("work", "m2") == NATS_OK);
    REQUIRE(sc.Publish("nodl", "n1") == NATS_OK);

    REQUIRE(dead.c.WaitCount(2, 15s));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past another AckWait
    for (uint64_t seq : {1, 2}) CHECK_MESSAGE(CountSeq(work.c, seq) == 3, "seq ", seq);
    CHECK(CountSeq(nodl.c, 1) == 2);
    size_t firsts = 0;  // the first delivery of each is not flagged, the others are
    for (auto& m : work.c.msgs()) firsts += m.redelivered ? 0 : 1;
    CHECK(firsts == 2);
    std::vector<Delivered> d = dead.c.msgs();
    REQUIRE(d.size() == 2);
    CHECK(d[0].data == "m1");
    CHECK(d[1].data == "m2");
    CHECK_FALSE(d[0].redelivered);

    // The dead letters name where they came from: subject = channel, reply = sequence.
    std::vector<pb::MsgProto> raw = ReadRaw(srv.url(), "work.dead", 2);
    CHECK(raw[0].subject() == "work");
    CHECK(raw[0].reply() == "1");
    CHECK(raw[0].data() == "m1");
    CHECK(raw[1].reply() == "2");
    CHECK(raw[1].sequence() == 2);

    json work_ch = GetJson(http, "/streaming/channelsz?channel=work&subs=1");
    CHECK(work_ch["dead_lettered"] == 2);
    CHECK(work_ch["max_deliveries_dropped"] == 0);
    CHECK(work_ch["msgs"] == 2);  // the channel keeps its messages
    CHECK(work_ch["subscriptions"][0]["pending_count"] == 0);
    json nodl_ch = GetJson(http, "/streaming/channelsz?channel=nodl");
    CHECK(nodl_ch["dead_lettered"] == 0);
    CHECK(nodl_ch["max_deliveries_dropped"] == 1);
    json work_limits = GetJson(http, "/streaming/storez")["limits"]["channels"]["work"];
    CHECK(work_limits["max_deliveries"] == 3);
    CHECK(work_limits["dead_letter"] == "work.dead");
    Result<server::HttpReply> metrics = server::HttpGet("127.0.0.1", http, "/metrics", 5000);
    REQUIRE(metrics.ok());
    const std::string& text = metrics.value().body;
    CHECK(text.find("tandem_stan_channel_dead_lettered_total{channel=\"work\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("tandem_stan_channel_max_deliveries_dropped_total{channel=\"nodl\"} 1\n") !=
          std::string::npos);
  }

  TEST_CASE("stan_dead_letter: the delivery count survives kill -9 and a restart") {
    StanServerProc srv;
    REQUIRE(srv.Start(kLimits));
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "worker") == NATS_OK);
    StanSub work;
    SubscribeNoAck(work, sc, "work", 2000);
    REQUIRE(sc.Publish("work", "m1") == NATS_OK);
    REQUIRE(WaitSeqCount(work.c, 1, 2, 10s));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the count is committed
    REQUIRE(srv.Restart9(kLimits));
    CheckDeadLetteredOnce(work.c, srv.url(), "test-cluster");
  }

  TEST_CASE("stan_dead_letter: the delivery count survives an ft takeover") {
    FtPair pair(kLimits);
    REQUIRE(pair.StartActiveThenStandby());
    const std::string url = "nats://127.0.0.1:" + std::to_string(pair.port);
    StanConn sc;
    REQUIRE(sc.Connect(url, "worker", 16384, "ft-test") == NATS_OK);
    StanSub work;
    SubscribeNoAck(work, sc, "work", 2000);
    REQUIRE(sc.Publish("work", "m1") == NATS_OK);
    REQUIRE(WaitSeqCount(work.c, 1, 2, 10s));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the count is committed
    REQUIRE(pair.a.process().Signal(SIGKILL));
    REQUIRE(pair.b.WaitActive());
    CheckDeadLetteredOnce(work.c, url, "ft-test");
  }
}

}  // namespace tandem::test
