// stan_chanperm_test.cc: permissions for streaming channels, through the real binary with
// libnats' streaming client and users that log in with different subject permissions: a
// user's publish rules decide which channels its streaming publishes may append to (a refused
// one gets a PubAck error and nothing is stored, the channel is not even created), its subscribe
// rules which channels its streaming subscriptions may read (a refused one gets the error and
// nothing is created or delivered); wildcards and deny-wins as for subjects; refusals counted in
// /streaming/serverz and /metrics; /connz?auth=1 names the users, never their passwords.
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

using nlohmann::json;

// admin: no permissions. writer: may append to orders.> but not orders.secret. reader: may
// read orders.* but not orders.secret, and append to no channel. Both need the streaming
// protocol's own subjects at the NATS level: publish _STAN.> (requests) and _INBOX.> (acks,
// heartbeat answers), subscribe _INBOX.> (replies, heartbeats, deliveries) and _STAN.acks.>
// (the PubAcks: libnats' publish ack inbox).
std::string Config(int http) {
  return "http: 127.0.0.1:" + std::to_string(http) + R"(
authorization:
  users:
    - {user: admin, password: apw}
    - user: writer
      password: wpw
      permissions:
        publish: {allow: ["_STAN.>", "_INBOX.>", "orders.>"], deny: ["orders.secret"]}
        subscribe: ["_INBOX.>", "_STAN.acks.>"]
    - user: reader
      password: rpw
      permissions:
        publish: ["_STAN.>", "_INBOX.>"]
        subscribe: {allow: ["_INBOX.>", "_STAN.acks.>", "orders.*"], deny: ["orders.secret"]}
)";
}

struct PermStan {
  StanServerProc srv;
  int http = FreePort();

  PermStan() {
    REQUIRE(srv.Start(Config(http)));
    REQUIRE_MESSAGE(srv.process().WaitForPort(http), srv.process().Log());
  }
  std::string Url(const std::string& user, const std::string& pass) {
    return "nats://" + user + ":" + pass + "@127.0.0.1:" + std::to_string(srv.port());
  }
  std::string Get(const std::string& path) {
    Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http, path, 5000);
    REQUIRE_MESSAGE(r.ok(), path << ": " << r.status().ToString());
    return r.value().status == 200 ? r.value().body : "";
  }
  // The channel's stored message count, or -1 when the channel does not exist.
  int64_t Msgs(const std::string& channel) {
    std::string body = Get("/streaming/channelsz?channel=" + channel + "&subs=1");
    if (body.empty()) return -1;
    return json::parse(body)["msgs"].get<int64_t>();
  }
  size_t Subs(const std::string& channel) {
    std::string body = Get("/streaming/channelsz?channel=" + channel + "&subs=1");
    if (body.empty()) return 0;
    return json::parse(body)["subscriptions"].size();
  }
  json Denials() { return json::parse(Get("/streaming/serverz"))["permission_denials"]; }
};

}  // namespace

TEST_SUITE("stan_chanperm") {
  TEST_CASE("stan_chanperm: publishes append only to channels the user may publish to") {
    PermStan p;
    StanConn writer;
    REQUIRE_MESSAGE(writer.Connect(p.Url("writer", "wpw"), "writer") == NATS_OK, LastError());

    CHECK(writer.Publish("orders.a", "1") == NATS_OK);
    CHECK(writer.Publish("orders.b.c", "2") == NATS_OK);  // `>` matches several tokens

    CHECK(writer.Publish("orders.secret", "x") != NATS_OK);  // deny wins over orders.>
    CHECK(LastError().find(
              "stan: permissions violation for publish to channel \"orders.secret\"") !=
          std::string::npos);
    CHECK(writer.Publish("billing", "x") != NATS_OK);  // not in the allow list
    CHECK(LastError().find("stan: permissions violation for publish to channel \"billing\"") !=
          std::string::npos);

    // Nothing stored, the refused channels not even created; the allowed ones hold theirs.
    CHECK(p.Msgs("orders.a") == 1);
    CHECK(p.Msgs("orders.b.c") == 1);
    CHECK(p.Msgs("orders.secret") == -1);
    CHECK(p.Msgs("billing") == -1);
    json d = p.Denials();
    CHECK(d["publish"] == 2);
    CHECK(d["subscribe"] == 0);
    CHECK(p.Get("/metrics").find("tandem_stan_permission_denials_total{op=\"publish\"} 2") !=
          std::string::npos);

    // The connection keeps working after a refusal, and a privileged subscriber reading every
    // message of the allowed channel finds only what was allowed.
    CHECK(writer.Publish("orders.a", "3") == NATS_OK);
    StanConn admin;
    REQUIRE(admin.Connect(p.Url("admin", "apw"), "admin") == NATS_OK);
    StanSub all;
    REQUIRE(all.FromFirst().Subscribe(admin, "orders.a") == NATS_OK);
    std::vector<Delivered> got = ReceiveSettled(all.c, 2, 300ms);
    REQUIRE(got.size() == 2);
    CHECK(got[0].data == "1");
    CHECK(got[1].data == "3");
    // A user without permissions is not restricted.
    CHECK(admin.Publish("orders.secret", "s") == NATS_OK);
    CHECK(p.Msgs("orders.secret") == 1);

    // /connz?auth=1 names each connection's user, never its password; no TLS fields here.
    json conns = json::parse(p.Get("/connz?auth=1"))["connections"];
    REQUIRE(conns.size() == 2);
    CHECK(conns[0]["authorized_user"] == "writer");
    CHECK(conns[1]["authorized_user"] == "admin");
    CHECK_FALSE(conns[0].contains("tls_version"));
    const std::string shown = conns.dump();
    CHECK(shown.find("wpw") == std::string::npos);
    CHECK(shown.find("apw") == std::string::npos);
  }

  TEST_CASE("stan_chanperm: subscriptions read only channels the user may subscribe to") {
    PermStan p;
    StanConn admin;
    REQUIRE(admin.Connect(p.Url("admin", "apw"), "admin") == NATS_OK);
    for (const char* ch : {"orders.a", "orders.b.c", "orders.secret"}) {
      REQUIRE(admin.Publish(ch, "m") == NATS_OK);
    }
    StanConn reader;
    REQUIRE_MESSAGE(reader.Connect(p.Url("reader", "rpw"), "reader") == NATS_OK, LastError());

    StanSub ok;
    REQUIRE(ok.FromFirst().Subscribe(reader, "orders.a") == NATS_OK);
    REQUIRE(ok.c.WaitCount(1));

    StanSub deep;  // orders.* matches one token only
    CHECK(deep.FromFirst().Subscribe(reader, "orders.b.c") != NATS_OK);
    CHECK(LastError().find(
              "stan: permissions violation for subscription to channel \"orders.b.c\"") !=
          std::string::npos);
    StanSub secret;  // deny wins over orders.*
    CHECK(secret.FromFirst().Subscribe(reader, "orders.secret") != NATS_OK);
    CHECK(LastError().find(
              "stan: permissions violation for subscription to channel \"orders.secret\"") !=
          std::string::npos);
    StanSub durable;  // durables and queue groups are checked alike
    CHECK(durable.Durable("d").FromFirst().Subscribe(reader, "orders.secret") != NATS_OK);
    StanSub queue;
    CHECK(queue.FromFirst().Subscribe(reader, "orders.secret", "q") != NATS_OK);
    StanSub fresh;  // a refused subscription does not create its channel
    CHECK(fresh.Subscribe(reader, "orders.new.deep") != NATS_OK);
    CHECK(p.Msgs("orders.new.deep") == -1);

    // Nothing was created: the channels have no subscription of the reader, and new messages
    // reach only the allowed one.
    CHECK(p.Subs("orders.secret") == 0);
    CHECK(p.Subs("orders.b.c") == 0);
    REQUIRE(admin.Publish("orders.secret", "later") == NATS_OK);
    REQUIRE(admin.Publish("orders.a", "later") == NATS_OK);
    std::vector<Delivered> got = ReceiveSettled(ok.c, 2, 300ms);
    CHECK(got.size() == 2);
    CHECK(deep.c.count() == 0);
    CHECK(secret.c.count() == 0);
    CHECK(durable.c.count() == 0);
    CHECK(queue.c.count() == 0);
    json d = p.Denials();
    CHECK(d["subscribe"] == 5);
    CHECK(d["publish"] == 0);
    CHECK(p.Get("/metrics").find("tandem_stan_permission_denials_total{op=\"subscribe\"} 5") !=
          std::string::npos);

    // The reader may append to no channel, even one it may read.
    CHECK(reader.Publish("orders.a", "x") != NATS_OK);
    CHECK(LastError().find("stan: permissions violation for publish to channel \"orders.a\"") !=
          std::string::npos);
  }
}

}  // namespace tandem::test
