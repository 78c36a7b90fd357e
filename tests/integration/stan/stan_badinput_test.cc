// stan_badinput_test.cc: bad input of every kind on the streaming subjects, sent with a plain
// NATS connection so the payloads can be anything: undecodable protobuf, unknown clients,
// invalid channels, every subscription validation in order, unsubscribe and close errors,
// pings of unknown connections, acks for sequences never sent, oversized messages, and the
// channel limits (max_channels, max_subs, case conflicts, max_inactivity). Each reply carries
// the exact string of nats-streaming-server (server/stan/stan_errors.h), and the server keeps
// serving afterwards.
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "server/stan/stan_protocol.pb.h"
#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

constexpr char kCluster[] = "test-cluster";

using RawConn = RawNatsConn;

struct Registered {
  pb::ConnectResponse resp;
  std::string client_id;
  std::string conn_id;
};

Registered ConnectRaw(RawConn& rc, const std::string& client_id) {
  pb::ConnectRequest req;
  req.set_clientid(client_id);
  req.set_heartbeatinbox("_INBOX.hb." + client_id);
  req.set_protocol(1);
  req.set_connid("conn-" + client_id);
  req.set_pinginterval(5);
  req.set_pingmaxout(88);
  bool ok = false;
  std::string out =
      rc.Request(std::string("_STAN.discover.") + kCluster, req.SerializeAsString(), &ok);
  REQUIRE(ok);
  Registered r;
  REQUIRE(r.resp.ParseFromString(out));
  REQUIRE(r.resp.error() == "");
  r.client_id = client_id;
  r.conn_id = req.connid();
  return r;
}

std::string PubErr(RawConn& rc, const Registered& r, const std::string& payload,
                   const std::string& channel = "foo", std::string* guid = nullptr) {
  bool ok = false;
  std::string out = rc.Request(r.resp.pubprefix() + "." + channel, payload, &ok);
  REQUIRE(ok);
  pb::PubAck ack;
  REQUIRE(ack.ParseFromString(out));
  if (guid != nullptr) *guid = ack.guid();
  return ack.error();
}

std::string PubMsgBytes(const std::string& client, const std::string& conn, const std::string& guid,
                        const std::string& channel, const std::string& data = "x") {
  pb::PubMsg m;
  m.set_clientid(client);
  m.set_connid(conn);
  m.set_guid(guid);
  m.set_subject(channel);
  m.set_data(data);
  return m.SerializeAsString();
}

std::string SubErr(RawConn& rc, const std::string& subject, const std::string& payload) {
  bool ok = false;
  std::string out = rc.Request(subject, payload, &ok);
  REQUIRE(ok);
  pb::SubscriptionResponse resp;
  REQUIRE(resp.ParseFromString(out));
  return resp.error();
}

pb::SubscriptionRequest GoodSub(const std::string& client, const std::string& channel) {
  pb::SubscriptionRequest s;
  s.set_clientid(client);
  s.set_subject(channel);
  s.set_inbox("_INBOX.deliver_" + client);
  s.set_maxinflight(10);
  s.set_ackwaitinsecs(30);
  return s;
}

}  // namespace

TEST_SUITE("stan_badinput") {
  TEST_CASE("stan_badinput: publish errors") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    RawConn rc;
    REQUIRE(rc.Connect(srv.url()));
    Registered r = ConnectRaw(rc, "raw");
    std::string guid;
    CHECK(PubErr(rc, r, "\xff\xff\xff", "foo", &guid) == "stan: invalid publish request");
    CHECK(guid.empty());
    CHECK(PubErr(rc, r, PubMsgBytes("raw", r.conn_id, "", "foo")) ==
          "stan: invalid publish request");
    CHECK(PubErr(rc, r, PubMsgBytes("raw", r.conn_id, "g1", "foo..bar"), "foo", &guid) ==
          "stan: invalid publish request");
    CHECK(guid == "g1");
    CHECK(PubErr(rc, r, PubMsgBytes("raw", r.conn_id, "g2", "foo.*")) ==
          "stan: invalid publish request");
    CHECK(PubErr(rc, r, PubMsgBytes("nobody", "no-conn", "g3", "foo")) ==
          "stan: invalid publish request");
    // By connID only when it is set: a good clientID with a wrong connID is refused.
    CHECK(PubErr(rc, r, PubMsgBytes("raw", "wrong", "g4", "foo")) ==
          "stan: invalid publish request");
    CHECK(PubErr(rc, r, PubMsgBytes("raw", "", "g5", "foo")) == "");
    CHECK(PubErr(rc, r, PubMsgBytes("raw", r.conn_id, "g6", "foo")) == "");
    // Case conflict with the channel just created.
    CHECK(PubErr(rc, r, PubMsgBytes("raw", r.conn_id, "g7", "Foo"), "Foo") ==
          "rejecting channel \"Foo\" because channel \"foo\" alreay exists (different cases not "
          "allowed)");
  }

  TEST_CASE("stan_badinput: connect, close and ping errors") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    RawConn rc;
    REQUIRE(rc.Connect(srv.url()));
    bool ok = false;
    std::string discover = std::string("_STAN.discover.") + kCluster;
    pb::ConnectResponse resp;
    REQUIRE(resp.ParseFromString(rc.Request(discover, "\x0a\x05x", &ok)));
    CHECK(resp.error() == "stan: invalid connection request");
    pb::ConnectRequest no_hb;
    no_hb.set_clientid("x");
    REQUIRE(resp.ParseFromString(rc.Request(discover, no_hb.SerializeAsString(), &ok)));
    CHECK(resp.error() == "stan: invalid connection request");

    Registered r = ConnectRaw(rc, "pinger");
    CHECK(r.resp.pingrequests() == "_STAN.discover.test-cluster.pings");
    CHECK(r.resp.pinginterval() == 5);
    CHECK(r.resp.pingmaxout() == 88);
    CHECK(r.resp.protocol() == 1);

    pb::Ping ping;
    ping.set_connid(r.conn_id);
    std::string out = rc.Request(r.resp.pingrequests(), ping.SerializeAsString(), &ok);
    CHECK(ok);
    CHECK(out.empty());
    ping.set_connid("unknown");
    pb::PingResponse pr;
    REQUIRE(pr.ParseFromString(rc.Request(r.resp.pingrequests(), ping.SerializeAsString(), &ok)));
    CHECK(pr.error() == "client has been replaced or is no longer registered");
    rc.Request(r.resp.pingrequests(), "", &ok, 300);
    CHECK_FALSE(ok);  // an empty ping gets no reply

    pb::CloseResponse cr;
    REQUIRE(cr.ParseFromString(rc.Request(r.resp.closerequests(), "\xff", &ok)));
    CHECK(cr.error() == "stan: invalid close request");
    pb::CloseRequest close;
    close.set_clientid("nobody");
    REQUIRE(cr.ParseFromString(rc.Request(r.resp.closerequests(), close.SerializeAsString(), &ok)));
    CHECK(cr.error() == "stan: unknown clientID");
    close.set_clientid("pinger");
    out = rc.Request(r.resp.closerequests(), close.SerializeAsString(), &ok);
    CHECK(ok);
    CHECK(out.empty());
    // Once closed, its pings learn it.
    ping.set_connid(r.conn_id);
    REQUIRE(pr.ParseFromString(rc.Request(r.resp.pingrequests(), ping.SerializeAsString(), &ok)));
    CHECK(pr.error() == "client has been replaced or is no longer registered");
  }

  TEST_CASE("stan_badinput: subscription validation order and unsubscribe errors") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    RawConn rc;
    REQUIRE(rc.Connect(srv.url()));
    Registered r = ConnectRaw(rc, "subber");
    const std::string& subj = r.resp.subrequests();
    CHECK(SubErr(rc, subj, "\xff") == "stan: invalid subscription request");
    auto req = GoodSub("", "foo");
    CHECK(SubErr(rc, subj, req.SerializeAsString()) == "stan: clientID missing");
    req = GoodSub("subber", "foo");
    req.set_ackwaitinsecs(0);
    req.set_maxinflight(0);
    CHECK(SubErr(rc, subj, req.SerializeAsString()) ==
          "stan: invalid ack wait time, should be >= 1s");
    req.set_ackwaitinsecs(1);
    CHECK(SubErr(rc, subj, req.SerializeAsString()) == "stan: invalid MaxInflight, should be >= 1");
    req.set_maxinflight(1);
    req.set_startposition(static_cast<pb::StartPosition>(7));
    req.set_subject("bad..subject");
    CHECK(SubErr(rc, subj, req.SerializeAsString()) == "stan: invalid start position");
    req.set_startposition(pb::First);
    CHECK(SubErr(rc, subj, req.SerializeAsString()) == "stan: invalid subject");
    req.set_subject("foo");
    req.set_clientid("stranger");
    CHECK(SubErr(rc, subj, req.SerializeAsString()) == "stan: unknown clientID");
    req.set_clientid("subber");
    bool ok = false;
    pb::SubscriptionResponse good;
    REQUIRE(good.ParseFromString(rc.Request(subj, req.SerializeAsString(), &ok)));
    REQUIRE(good.error() == "");
    REQUIRE(!good.ackinbox().empty());

    const std::string& unsub = r.resp.unsubrequests();
    CHECK(SubErr(rc, unsub, "\xff") == "stan: invalid unsubscribe request");
    CHECK(SubErr(rc, r.resp.subcloserequests(), "\xff") == "stan: invalid unsubscribe request");
    pb::UnsubscribeRequest u;
    u.set_clientid("subber");
    u.set_subject("nochannel");
    u.set_inbox(good.ackinbox());
    CHECK(SubErr(rc, unsub, u.SerializeAsString()) == "stan: unknown channel");
    u.set_subject("foo");
    u.set_inbox("_INBOX.nothing");
    CHECK(SubErr(rc, unsub, u.SerializeAsString()) == "stan: invalid subscription");
    u.set_inbox(good.ackinbox());
    u.set_clientid("other");
    CHECK(SubErr(rc, unsub, u.SerializeAsString()) == "stan: unknown clientID");
    // The delivery inbox works as a fallback (a client whose subscribe request timed out).
    u.set_clientid("subber");
    u.set_inbox(req.inbox());
    CHECK(SubErr(rc, unsub, u.SerializeAsString()) == "");
    CHECK(SubErr(rc, unsub, u.SerializeAsString()) == "stan: invalid subscription");
  }

  TEST_CASE("stan_badinput: acks for never-sent sequences and garbage acks are ignored") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "acks") == NATS_OK);
    Collector c;
    StanSubscription sub;
    REQUIRE(sub.Subscribe(sc, "a", &c) == NATS_OK);
    REQUIRE(sc.Publish("a", "1") == NATS_OK);
    REQUIRE(c.WaitCount(1));
    // A raw subscription on the same channel gives an ack inbox the test knows; the bad acks
    // go there, then the libnats subscription must still be served.
    RawConn rc;
    REQUIRE(rc.Connect(srv.url()));
    Registered r = ConnectRaw(rc, "rawacker");
    auto req = GoodSub("rawacker", "a");
    bool ok = false;
    pb::SubscriptionResponse resp;
    REQUIRE(resp.ParseFromString(rc.Request(r.resp.subrequests(), req.SerializeAsString(), &ok)));
    REQUIRE(resp.error() == "");
    pb::Ack ack;
    ack.set_subject("a");
    ack.set_sequence(999999);
    std::string bytes = ack.SerializeAsString();
    CHECK(natsConnection_Publish(rc.nc(), resp.ackinbox().c_str(), bytes.data(),
                                 static_cast<int>(bytes.size())) == NATS_OK);
    CHECK(natsConnection_PublishString(rc.nc(), resp.ackinbox().c_str(), "\xff\xff") == NATS_OK);
    ack.set_subject("other-channel");
    ack.set_sequence(1);
    bytes = ack.SerializeAsString();
    CHECK(natsConnection_Publish(rc.nc(), resp.ackinbox().c_str(), bytes.data(),
                                 static_cast<int>(bytes.size())) == NATS_OK);
    natsConnection_Flush(rc.nc());
    REQUIRE(sc.Publish("a", "2") == NATS_OK);
    REQUIRE(c.WaitCount(2));
    CHECK(c.msgs()[1].seq == 2);
  }

  TEST_CASE("stan_badinput: oversized messages are refused, the server goes on") {
    StanServerProc srv;
    REQUIRE(srv.Start("nats:\n  max_payload: 64KB\n"));
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "big") == NATS_OK);
    CHECK(sc.Publish("big", std::string(100 * 1024, 'x')) != NATS_OK);
    StanConn sc2;
    REQUIRE(sc2.Connect(srv.url(), "big2") == NATS_OK);
    CHECK(sc2.Publish("big", std::string(1000, 'x')) == NATS_OK);
  }

  TEST_CASE("stan_badinput: channel and subscription limits") {
    StanServerProc srv;
    REQUIRE(
        srv.Start("limits:\n"
                  "  max_channels: 2\n"
                  "  max_subs: 1\n"
                  "  channels:\n"
                  "    \"tmp.>\":\n"
                  "      max_inactivity: 300ms\n"));
    RawConn rc;
    REQUIRE(rc.Connect(srv.url()));
    Registered r = ConnectRaw(rc, "lim");
    CHECK(PubErr(rc, r, PubMsgBytes("lim", r.conn_id, "g1", "one"), "one") == "");
    CHECK(PubErr(rc, r, PubMsgBytes("lim", r.conn_id, "g2", "tmp.a"), "tmp.a") == "");
    CHECK(PubErr(rc, r, PubMsgBytes("lim", r.conn_id, "g3", "three"), "three") ==
          "too many channels");
    CHECK(SubErr(rc, r.resp.subrequests(), GoodSub("lim", "three").SerializeAsString()) ==
          "too many channels");
    auto s1 = GoodSub("lim", "one");
    CHECK(SubErr(rc, r.resp.subrequests(), s1.SerializeAsString()) == "");
    s1.set_inbox("_INBOX.second");
    CHECK(SubErr(rc, r.resp.subrequests(), s1.SerializeAsString()) ==
          "too many subscriptions per channel");
    // tmp.a has no subscription and no publish for 300 ms: deleted, which frees a channel.
    std::string err;
    auto end = std::chrono::steady_clock::now() + 5s;
    do {
      std::this_thread::sleep_for(100ms);
      err = PubErr(rc, r, PubMsgBytes("lim", r.conn_id, "g4", "three"), "three");
    } while (!err.empty() && std::chrono::steady_clock::now() < end);
    CHECK(err == "");
  }
}

}  // namespace tandem::test
