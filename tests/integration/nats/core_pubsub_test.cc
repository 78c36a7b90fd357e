// core_pubsub_test.cc: the NATS core with the real libnats client against the real binary:
// pub/sub, wildcards, queue distribution, request/reply, payload sizes, UNSUB max, echo off,
// headers, no-responders.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/core_fixture.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

constexpr int64_t kWaitMs = 2000;
constexpr int64_t kQuietMs = 200;

// Receives up to `n` messages (each within kWaitMs); returns their payloads.
std::vector<std::string> Receive(natsSubscription* sub, int n, int64_t wait = kWaitMs) {
  std::vector<std::string> out;
  NatsMsg m;
  for (int i = 0; i < n; ++i) {
    if (natsSubscription_NextMsg(m.out(), sub, wait) != NATS_OK) break;
    out.push_back(m.data());
  }
  return out;
}

bool NothingMore(natsSubscription* sub) {
  NatsMsg m;
  return natsSubscription_NextMsg(m.out(), sub, kQuietMs) == NATS_TIMEOUT;
}

void Echo(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  std::string reply = "re:" + std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  natsConnection_Publish(nc, natsMsg_GetReply(msg), reply.data(), static_cast<int>(reply.size()));
  natsMsg_Destroy(msg);
}

}  // namespace

TEST_SUITE("core_pubsub") {
  TEST_CASE("core_pubsub: literal and wildcard subscriptions each get their copy") {
    CoreServer srv;
    REQUIRE(srv.Start());
    NatsConn sub_conn, pub_conn;
    REQUIRE(ConnectAll(srv, {&sub_conn, &pub_conn}) == NATS_OK);
    NatsSub lit, star, gt, other;
    REQUIRE(natsConnection_SubscribeSync(&lit.sub, sub_conn, "orders.eu.new") == NATS_OK);
    REQUIRE(natsConnection_SubscribeSync(&star.sub, sub_conn, "orders.*.new") == NATS_OK);
    REQUIRE(natsConnection_SubscribeSync(&gt.sub, sub_conn, "orders.>") == NATS_OK);
    REQUIRE(natsConnection_SubscribeSync(&other.sub, sub_conn, "orders.*") == NATS_OK);
    REQUIRE(natsConnection_Flush(sub_conn) == NATS_OK);

    REQUIRE(natsConnection_PublishString(pub_conn, "orders.eu.new", "a") == NATS_OK);
    REQUIRE(natsConnection_PublishString(pub_conn, "orders.us.new", "b") == NATS_OK);
    REQUIRE(natsConnection_PublishString(pub_conn, "orders.us.old.x", "c") == NATS_OK);
    REQUIRE(natsConnection_PublishString(pub_conn, "orders", "d") == NATS_OK);
    REQUIRE(natsConnection_Flush(pub_conn) == NATS_OK);

    CHECK(Receive(lit, 1) == std::vector<std::string>{"a"});
    CHECK(Receive(star, 2) == std::vector<std::string>{"a", "b"});
    CHECK(Receive(gt, 3) == std::vector<std::string>{"a", "b", "c"});
    CHECK(NothingMore(lit));
    CHECK(NothingMore(star));
    CHECK(NothingMore(gt));
    CHECK(NothingMore(other));  // `orders.*` matches neither 3-token subjects nor `orders`
  }

  TEST_CASE("core_pubsub: a queue group gets each message once, every member used") {
    CoreServer srv;
    REQUIRE(srv.Start());
    constexpr int kMembers = 3;
    constexpr int kMsgs = 300;
    NatsConn conns[kMembers];
    NatsSub members[kMembers];
    for (int i = 0; i < kMembers; ++i) {
      REQUIRE(conns[i].Connect(srv.url()) == NATS_OK);
      REQUIRE(natsConnection_QueueSubscribeSync(&members[i].sub, conns[i], "jobs.*", "workers") ==
              NATS_OK);
      REQUIRE(natsConnection_Flush(conns[i]) == NATS_OK);
    }
    NatsConn plain_conn;
    REQUIRE(plain_conn.Connect(srv.url()) == NATS_OK);
    NatsSub plain;
    REQUIRE(SubscribeSyncFlushed(plain, plain_conn, "jobs.>") == NATS_OK);

    NatsConn pub;
    REQUIRE(pub.Connect(srv.url()) == NATS_OK);
    for (int i = 0; i < kMsgs; ++i) {
      REQUIRE(natsConnection_PublishString(pub, "jobs.x", std::to_string(i).c_str()) == NATS_OK);
    }
    REQUIRE(natsConnection_Flush(pub) == NATS_OK);

    std::multiset<std::string> seen;
    std::map<int, int> per_member;
    for (int i = 0; i < kMembers; ++i) {
      NatsMsg m;
      while (natsSubscription_NextMsg(m.out(), members[i], kQuietMs) == NATS_OK) {
        seen.insert(m.data());
        ++per_member[i];
      }
    }
    CHECK(seen.size() == kMsgs);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == kMsgs);  // no duplicate
    for (int i = 0; i < kMembers; ++i) {
      CAPTURE(i);
      CHECK(per_member[i] > kMsgs / kMembers / 3);  // everyone gets a fair share
    }
    CHECK(Receive(plain, kMsgs).size() == kMsgs);  // the plain subscription gets everything
  }

  TEST_CASE("core_pubsub: request/reply, and no-responders when nobody listens") {
    CoreServer srv;
    REQUIRE(srv.Start());
    NatsConn responder, requester;
    REQUIRE(ConnectAll(srv, {&responder, &requester}) == NATS_OK);
    NatsSub svc;
    REQUIRE(natsConnection_Subscribe(&svc.sub, responder, "svc.echo", Echo, nullptr) == NATS_OK);
    REQUIRE(natsConnection_Flush(responder) == NATS_OK);
    for (int i = 0; i < 20; ++i) {
      NatsMsg reply;
      std::string body = "q" + std::to_string(i);
      REQUIRE(natsConnection_RequestString(reply.out(), requester, "svc.echo", body.c_str(),
                                           kWaitMs) == NATS_OK);
      CHECK(reply.data() == "re:" + body);
    }
    // Nobody subscribes to svc.none: the 503 status makes the request fail at once.
    NatsMsg reply;
    auto start = std::chrono::steady_clock::now();
    CHECK(natsConnection_RequestString(reply.out(), requester, "svc.none", "x", 5000) ==
          NATS_NO_RESPONDERS);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2000));
  }

  TEST_CASE_FIXTURE(CoreClientFixture, "core_pubsub: empty and maximum-size payloads") {
    StartAndConnect();
    NatsSub sub;
    REQUIRE(SubscribeSyncFlushed(sub, c, "blob") == NATS_OK);
    REQUIRE(natsConnection_GetMaxPayload(c) == 1024 * 1024);
    std::string big(1024 * 1024, 'x');
    for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('a' + i % 26);
    REQUIRE(natsConnection_Publish(c, "blob", nullptr, 0) == NATS_OK);
    REQUIRE(natsConnection_Publish(c, "blob", big.data(), static_cast<int>(big.size())) == NATS_OK);
    REQUIRE(natsConnection_Flush(c) == NATS_OK);
    auto got = Receive(sub, 2);
    REQUIRE(got.size() == 2);
    CHECK(got[0].empty());
    CHECK(got[1] == big);
  }

  TEST_CASE_FIXTURE(CoreClientFixture,
                    "core_pubsub: UNSUB with max delivers exactly max messages") {
    StartAndConnect();
    NatsSub sub;
    REQUIRE(natsConnection_SubscribeSync(&sub.sub, c, "limited") == NATS_OK);
    REQUIRE(natsSubscription_AutoUnsubscribe(sub, 3) == NATS_OK);
    REQUIRE(natsConnection_Flush(c) == NATS_OK);
    // A raw client counts what the server really sends (libnats would also cut at 3).
    WireClient raw;
    REQUIRE(raw.Handshake(srv.port()));
    REQUIRE(raw.SendAndPong("SUB limited 9\r\nUNSUB 9 2\r\n"));
    for (int i = 0; i < 5; ++i) {
      REQUIRE(natsConnection_PublishString(c, "limited", std::to_string(i).c_str()) == NATS_OK);
    }
    REQUIRE(natsConnection_Flush(c) == NATS_OK);
    CHECK(Receive(sub, 5, 500) == std::vector<std::string>{"0", "1", "2"});
    CHECK(raw.Expect("MSG limited 9 1\r\n0\r\nMSG limited 9 1\r\n1\r\n"));
    CHECK(raw.ExpectNothing());
    // UNSUB with a max at or below what was delivered removes at once.
    REQUIRE(
        raw.Send("SUB again 10\r\nPUB again 1\r\nx\r\nUNSUB 10 1\r\nPUB again 1\r\ny\r\nPING\r\n"));
    CHECK(raw.Expect("^MSG again 10 1\r\nx\r\nPONG\r\n$"));
  }

  TEST_CASE("core_pubsub: echo off skips the publisher's own subscriptions") {
    CoreServer srv;
    REQUIRE(srv.Start());
    NatsConn quiet, loud;
    REQUIRE(quiet.Connect(srv.url(), /*no_echo=*/true) == NATS_OK);
    REQUIRE(loud.Connect(srv.url()) == NATS_OK);
    NatsSub qs, qq, ls;
    REQUIRE(natsConnection_SubscribeSync(&qs.sub, quiet, "chat") == NATS_OK);
    REQUIRE(natsConnection_QueueSubscribeSync(&qq.sub, quiet, "chat", "g") == NATS_OK);
    REQUIRE(natsConnection_SubscribeSync(&ls.sub, loud, "chat") == NATS_OK);
    REQUIRE(natsConnection_Flush(quiet) == NATS_OK);
    REQUIRE(natsConnection_Flush(loud) == NATS_OK);
    REQUIRE(natsConnection_PublishString(quiet, "chat", "from-quiet") == NATS_OK);
    REQUIRE(natsConnection_Flush(quiet) == NATS_OK);
    REQUIRE(natsConnection_PublishString(loud, "chat", "from-loud") == NATS_OK);
    REQUIRE(natsConnection_Flush(loud) == NATS_OK);
    CHECK(Receive(qs, 2, 500) == std::vector<std::string>{"from-loud"});
    CHECK(Receive(qq, 2, 500) == std::vector<std::string>{"from-loud"});
    CHECK(Receive(ls, 2, 500) == std::vector<std::string>{"from-quiet", "from-loud"});
  }

  TEST_CASE("core_pubsub: a flood from a fast publisher reaches a subscriber without loss") {
    // 300,000 x 1 KiB is far beyond the server's stall threshold: the publisher is paused
    // while the subscriber catches up instead of the subscriber being cut off.
    CoreServer srv;
    REQUIRE(srv.Start());
    NatsConn sc, pc;
    REQUIRE(ConnectAll(srv, {&sc, &pc}) == NATS_OK);
    NatsSub sub;
    REQUIRE(natsConnection_SubscribeSync(&sub.sub, sc, "flood") == NATS_OK);
    REQUIRE(natsSubscription_SetPendingLimits(sub, -1, -1) == NATS_OK);
    REQUIRE(natsConnection_Flush(sc) == NATS_OK);
    constexpr int kMsgs = 300000;
    std::string payload(1024, 'f');
    for (int i = 0; i < kMsgs; ++i) {
      REQUIRE(natsConnection_Publish(pc, "flood", payload.data(), 1024) == NATS_OK);
    }
    REQUIRE(natsConnection_FlushTimeout(pc, 20000) == NATS_OK);
    int got = 0;
    NatsMsg m;
    while (got < kMsgs && natsSubscription_NextMsg(m.out(), sub, 5000) == NATS_OK) ++got;
    CHECK(got == kMsgs);
    CHECK(srv.process().Log().find("slow consumer") == std::string::npos);
  }

  TEST_CASE_FIXTURE(CoreClientFixture,
                    "core_pubsub: headers reach header clients; others get the payload alone") {
    StartAndConnect();
    NatsSub sub;
    REQUIRE(SubscribeSyncFlushed(sub, c, "hdr") == NATS_OK);
    WireClient plain;  // CONNECT without headers
    REQUIRE(plain.Handshake(srv.port()));
    REQUIRE(plain.SendAndPong("SUB hdr 5\r\n"));

    NatsMsg out;
    REQUIRE(natsMsg_Create(out.out(), "hdr", nullptr, "body", 4) == NATS_OK);
    REQUIRE(natsMsgHeader_Set(out, "Trace-Id", "abc123") == NATS_OK);
    REQUIRE(natsConnection_PublishMsg(c, out) == NATS_OK);
    REQUIRE(natsConnection_Flush(c) == NATS_OK);

    NatsMsg in;
    REQUIRE(natsSubscription_NextMsg(in.out(), sub, kWaitMs) == NATS_OK);
    const char* value = nullptr;
    REQUIRE(natsMsgHeader_Get(in, "Trace-Id", &value) == NATS_OK);
    CHECK(std::string(value) == "abc123");
    CHECK(in.data() == "body");
    CHECK(plain.Expect("^MSG hdr 5 4\r\nbody\r\n$"));
  }
}

}  // namespace tandem::test
