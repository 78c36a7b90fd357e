// stan_owner_test.cc: streaming sessions bound to their owner, through the real binary with
// libnats: forged acks on a durable's ack inbox (read from the monitoring endpoint, where it
// shows only with inboxes=1) acknowledge nothing and are counted; forged unsubscribe,
// subscription close and connection close requests from another connection are refused with
// tandem's error while the victim keeps working; the owner's own acks and closes work, also
// after its NATS connection was cut (through a TCP proxy) and it reconnected.
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "server/stan/stan_protocol.pb.h"
#include "tests/integration/stan/stan_fixture.h"
#include "tests/integration/stan/tcp_proxy.h"

namespace tandem::test {
namespace {

using nlohmann::json;

constexpr char kNotOwner[] = "stan: request refused: not sent by the client's own connection";

// A streaming server with its monitoring port.
struct MonitoredStan {
  StanServerProc srv;
  int http = FreePort();

  MonitoredStan() {
    REQUIRE(srv.Start("http: 127.0.0.1:" + std::to_string(http) + "\n"));
    REQUIRE_MESSAGE(srv.process().WaitForPort(http), srv.process().Log());
  }
  std::string Get(const std::string& path) {
    Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http, path, 5000);
    REQUIRE_MESSAGE(r.ok(), path << ": " << r.status().ToString());
    REQUIRE_MESSAGE(r.value().status == 200, path << ": " << r.value().body);
    return r.value().body;
  }
  json GetJson(const std::string& path) {
    json j = json::parse(Get(path), nullptr, false);
    REQUIRE(!j.is_discarded());
    return j;
  }
  // Polls `path` (at most 10 s) until `ready` holds; returns the last answer.
  template <typename Pred>
  json WaitJson(const std::string& path, Pred ready) {
    json j;
    for (int i = 0; i < 500; ++i) {
      j = GetJson(path);
      if (ready(j)) break;
      std::this_thread::sleep_for(20ms);
    }
    return j;
  }
  // The first subscription of `channel`, inboxes included when asked for.
  json Sub(const std::string& channel, bool inboxes = false) {
    json j = GetJson("/streaming/channelsz?channel=" + channel + "&subs=1" +
                     (inboxes ? "&inboxes=1" : ""));
    REQUIRE(j["subscriptions"].size() >= 1);
    return j["subscriptions"][0];
  }
  uint64_t Pending(const std::string& channel) {
    return Sub(channel)["pending_count"].get<uint64_t>();
  }
  // Waits until the pending count of `channel`'s first subscription is `n`; returns it.
  uint64_t WaitPending(const std::string& channel, uint64_t n) {
    json j = WaitJson("/streaming/channelsz?channel=" + channel + "&subs=1", [&](const json& c) {
      return c["subscriptions"].size() >= 1 && c["subscriptions"][0]["pending_count"] == n;
    });
    return j["subscriptions"][0]["pending_count"].get<uint64_t>();
  }
  json Forged() { return GetJson("/streaming/serverz")["forged_requests"]; }
};

// Sends `req` on `subject` from `rc` and returns the reply's error field.
template <typename Response, typename Request>
std::string ErrorOf(RawNatsConn& rc, const std::string& subject, const Request& req) {
  bool ok = false;
  std::string out = rc.Request(subject, req.SerializeAsString(), &ok);
  REQUIRE_MESSAGE(ok, subject << ": no reply");
  Response resp;
  REQUIRE(resp.ParseFromString(out));
  return resp.error();
}

pb::UnsubscribeRequest Unsub(const std::string& client, const std::string& channel,
                             const std::string& ack_inbox) {
  pb::UnsubscribeRequest u;
  u.set_clientid(client);
  u.set_subject(channel);
  u.set_inbox(ack_inbox);
  return u;
}

// The NATS connection id (CID) libnats holds for `sc` now; 0 while it has none.
uint64_t NatsCid(stanConnection* sc) {
  natsConnection* nc = nullptr;
  uint64_t cid = 0;
  if (stanConnection_GetNATSConnection(sc, &nc) == NATS_OK) {
    if (natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED ||
        natsConnection_GetClientID(nc, &cid) != NATS_OK) {
      cid = 0;
    }
    stanConnection_ReleaseNATSConnection(sc);
  }
  return cid;
}

}  // namespace

TEST_SUITE("stan_owner") {
  TEST_CASE("stan_owner: forged acks and requests from another connection are refused") {
    MonitoredStan m;
    StanConn victim;
    REQUIRE(victim.Connect(m.srv.url(), "victim") == NATS_OK);
    for (int i = 1; i <= 100; ++i) REQUIRE(victim.Publish("orders", std::to_string(i)) == NATS_OK);
    StanSub dur;
    REQUIRE(dur.Durable("dur").FromFirst().ManualAck(0).Subscribe(victim, "orders") == NATS_OK);
    REQUIRE(dur.c.WaitCount(100));
    REQUIRE(m.WaitPending("orders", 100) == 100);

    // The monitoring port shows the inboxes only when asked.
    CHECK_FALSE(m.Sub("orders").contains("ack_inbox"));
    CHECK_FALSE(m.Sub("orders").contains("inbox"));
    CHECK_FALSE(m.GetJson("/streaming/clientsz")["clients"][0].contains("hb_inbox"));
    const std::string ack_inbox = m.Sub("orders", true)["ack_inbox"].get<std::string>();
    REQUIRE(!ack_inbox.empty());

    // An anonymous connection, listening to everything, acks all 100 on the ack inbox.
    RawNatsConn forger;
    REQUIRE(forger.Connect(m.srv.url()));
    natsSubscription* tap = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&tap, forger.nc(), ">") == NATS_OK);
    for (uint64_t seq = 1; seq <= 100; ++seq) {
      pb::Ack ack;
      ack.set_subject("orders");
      ack.set_sequence(seq);
      std::string b = ack.SerializeAsString();
      REQUIRE(natsConnection_Publish(forger.nc(), ack_inbox.c_str(), b.data(),
                                     static_cast<int>(b.size())) == NATS_OK);
    }
    REQUIRE(natsConnection_FlushTimeout(forger.nc(), 5000) == NATS_OK);
    json forged = m.WaitJson("/streaming/serverz",
                             [](const json& j) { return j["forged_requests"]["ack"] == 100; });
    CHECK(forged["forged_requests"]["ack"] == 100);
    CHECK(m.Pending("orders") == 100);  // nothing acknowledged
    CHECK(m.Get("/metrics").find("tandem_stan_forged_requests_total{kind=\"ack\"} 100\n") !=
          std::string::npos);
    natsSubscription_Destroy(tap);

    // Forged unsubscribe, subscription close and close: refused with the error, counted.
    CHECK(ErrorOf<pb::SubscriptionResponse>(forger, "_STAN.unsub.test-cluster",
                                            Unsub("victim", "orders", ack_inbox)) == kNotOwner);
    CHECK(ErrorOf<pb::SubscriptionResponse>(forger, "_STAN.subclose.test-cluster",
                                            Unsub("victim", "orders", ack_inbox)) == kNotOwner);
    pb::CloseRequest close;
    close.set_clientid("victim");
    CHECK(ErrorOf<pb::CloseResponse>(forger, "_STAN.close.test-cluster", close) == kNotOwner);
    forged = m.Forged();
    CHECK(forged["unsubscribe"] == 1);
    CHECK(forged["subclose"] == 1);
    CHECK(forged["close"] == 1);

    // The victim keeps working: registered, subscribed, receiving.
    REQUIRE(victim.Publish("orders", "after") == NATS_OK);
    REQUIRE(dur.c.WaitCount(101));
    CHECK(m.GetJson("/streaming/clientsz")["total"] == 1);

    // The owner closes its durable (accepted) and resumes it: all 101 unacked messages come
    // again, and its own acks empty the pending set.
    REQUIRE(stanSubscription_Close(dur.sub) == NATS_OK);
    StanSub again;
    REQUIRE(again.Durable("dur").ManualAck(-1).Subscribe(victim, "orders") == NATS_OK);
    REQUIRE(again.c.WaitCount(101));
    auto msgs = again.c.msgs();
    for (size_t i = 0; i < 100; ++i) {
      CHECK(msgs[i].seq == i + 1);
      CHECK(msgs[i].redelivered);
    }
    CHECK(m.WaitPending("orders", 0) == 0);
    CHECK(m.Forged()["ack"] == 100);  // the owner's acks are not counted

    // The owner's close is accepted (libnats drops the heartbeat inbox before sending it).
    again.sub.Destroy();
    CHECK(victim.Close() == NATS_OK);
    json clients =
        m.WaitJson("/streaming/clientsz", [](const json& j) { return j["total"] == 0; });
    CHECK(clients["total"] == 0);
    CHECK(m.Forged()["close"] == 1);
  }

  TEST_CASE("stan_owner: a client whose connection is cut reconnects and keeps acking") {
    MonitoredStan m;
    TcpProxy proxy(m.srv.port());
    REQUIRE(proxy.port() != 0);
    StanConn c;
    REQUIRE(c.Connect("nats://127.0.0.1:" + std::to_string(proxy.port()), "mover") == NATS_OK);
    StanSub s;
    REQUIRE(s.Durable("d").FromFirst().ManualAck(-1).Subscribe(c, "moves") == NATS_OK);
    for (int i = 1; i <= 10; ++i) REQUIRE(c.Publish("moves", std::to_string(i)) == NATS_OK);
    REQUIRE(s.c.WaitCount(10));
    REQUIRE(m.WaitPending("moves", 0) == 0);

    for (int round = 1; round <= 2; ++round) {
      CAPTURE(round);
      const uint64_t before = NatsCid(c);
      REQUIRE(before != 0);
      proxy.DropAll();
      uint64_t after = 0;
      for (int i = 0; i < 500 && (after == 0 || after == before); ++i) {
        std::this_thread::sleep_for(20ms);
        after = NatsCid(c);
      }
      REQUIRE_MESSAGE(after != 0, "no reconnect");
      REQUIRE(after != before);  // a new NATS connection
      const size_t base = s.c.count();
      for (int i = 1; i <= 10; ++i) {
        REQUIRE(c.PublishRetry("moves", "r" + std::to_string(round) + "-" + std::to_string(i)) ==
                NATS_OK);
      }
      REQUIRE(s.c.WaitCount(base + 10));
      CHECK(m.WaitPending("moves", 0) == 0);  // its acks count
    }
    json forged = m.Forged();
    CHECK(forged["ack"] == 0);
    // Its unsubscribe and close are its own too.
    REQUIRE(stanSubscription_Unsubscribe(s.sub) == NATS_OK);
    CHECK(c.Close() == NATS_OK);
    forged = m.Forged();
    CHECK(forged["unsubscribe"] == 0);
    CHECK(forged["close"] == 0);
    CHECK(proxy.accepted() >= 3);
  }
}

}  // namespace tandem::test
