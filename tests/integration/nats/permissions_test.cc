// permissions_test.cc: per-user subject permissions through the real binary: allow lists,
// deny winning, wildcards on both sides, a bare string or list meaning allow,
// default_permissions, the delivery filter of wildcard subscriptions, the queue form of the
// error, allow_responses with libnats requests, and that a violation keeps the connection.
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nats/nats.h>

#include "tests/support/auth_helpers.h"
#include "tests/support/core_fixture.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

constexpr const char* kConfig = R"(authorization:
  default_permissions:
    publish: "public.>"
    subscribe: ["public.>", "_INBOX.>"]
  users:
    - {user: guest, password: g}
    - user: admin
      password: a
      permissions:
        publish: {allow: [">"], deny: ["secret.>"]}
        subscribe: {allow: [">"], deny: "secret.>"}
    - user: svc
      password: s
      permissions:
        subscribe: "req.>"
        allow_responses: true
    - user: root
      password: r
      permissions: {}
)";

struct PermServer {
  TempDir dir;
  TandemProcess proc{dir.path(), "tandem.log"};
  int port = FreePort();
  PermServer() {
    REQUIRE(proc.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store",
                        "data", "--config", dir.WriteFile("perm.yaml", kConfig)}));
    REQUIRE_MESSAGE(proc.WaitForPort(port), proc.Log());
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port); }
};

std::string Login(const std::string& user, const std::string& pass) {
  return R"({"verbose":false,"pedantic":false,"user":")" + user + R"(","pass":")" + pass +
         R"("})";
}

std::string Violation(const std::string& what, const std::string& subject) {
  return "-ERR 'Permissions Violation for " + what + " to \"" + subject + "\"'\r\n";
}

std::string Escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

TEST_SUITE("permissions") {
  TEST_CASE("permissions: default_permissions, bare string and list mean allow") {
    PermServer srv;
    WireClient guest, root;
    REQUIRE(guest.Handshake(srv.port, Login("guest", "g")));
    REQUIRE(root.Handshake(srv.port, Login("root", "r")));
    // Subscribing: inside the allow list (a wildcard within it too), and outside it.
    REQUIRE(guest.Send("SUB public.* 1\r\nSUB private.x 2\r\nSUB > 3\r\n"));
    CHECK(guest.Expect(Escaped(Violation("Subscription", "private.x"))));
    CHECK(guest.Expect(Escaped(Violation("Subscription", ">"))));
    // Publishing: the refused one is dropped, the connection stays, the next one flows.
    REQUIRE(guest.Send("PUB private.x 1\r\nx\r\nPUB public.a 1\r\ny\r\n"));
    CHECK(guest.Expect(Escaped(Violation("Publish", "private.x"))));
    CHECK(guest.Expect(R"(MSG public\.a 1 1\r\ny\r\n)"));
    CHECK(guest.SendAndPong(""));
    // root has an empty permissions map: no restriction, and its publish reaches guest.
    REQUIRE(root.SendAndPong("PUB public.b 1\r\nz\r\nPUB private.x 1\r\nw\r\n"));
    CHECK(guest.Expect(R"(MSG public\.b 1 1\r\nz\r\n)"));
    CHECK(guest.ExpectNothing());
  }

  TEST_CASE("permissions: deny wins over allow, for SUB, queue SUB, PUB and delivery") {
    PermServer srv;
    WireClient admin, root;
    REQUIRE(admin.Handshake(srv.port, Login("admin", "a")));
    REQUIRE(root.Handshake(srv.port, Login("root", "r")));
    REQUIRE(admin.Send("SUB secret.a 1\r\n"));
    CHECK(admin.Expect(Escaped(Violation("Subscription", "secret.a"))));
    REQUIRE(admin.Send("SUB secret.> q1 2\r\n"));
    CHECK(admin.Expect(Escaped(
        "-ERR 'Permissions Violation for Subscription to \"secret.>\" using queue \"q1\"'\r\n")));
    REQUIRE(admin.Send("PUB secret.a 1\r\nx\r\n"));
    CHECK(admin.Expect(Escaped(Violation("Publish", "secret.a"))));
    // A wider wildcard is allowed, but what the deny list covers is never delivered on it.
    REQUIRE(admin.SendAndPong("SUB > 3\r\nSUB *.a q2 4\r\n"));
    REQUIRE(root.SendAndPong("PUB secret.a 1\r\ns\r\nPUB open.a 1\r\no\r\n"));
    CHECK(admin.Expect(R"(MSG open\.a 3 1\r\no\r\n)"));
    CHECK(admin.Expect(R"(MSG open\.a 4 1\r\no\r\n)"));
    CHECK(admin.ExpectNothing());
    CHECK(admin.SendAndPong("PUB open.b 1\r\nb\r\n"));  // still connected and publishing
  }

  TEST_CASE("permissions: allow_responses lets a service answer once per request") {
    PermServer srv;
    WireClient svc;
    REQUIRE(svc.Handshake(srv.port, Login("svc", "s")));
    REQUIRE(svc.SendAndPong("SUB req.> 1\r\n"));
    // No publish rule but allow_responses: only replies are allowed.
    REQUIRE(svc.Send("PUB other 1\r\nx\r\n"));
    CHECK(svc.Expect(Escaped(Violation("Publish", "other"))));

    NatsConn admin;
    REQUIRE(ConnectWith(admin, srv.url(), UserInfo("admin", "a")) == NATS_OK);
    NatsSub inbox;
    REQUIRE(SubscribeSyncFlushed(inbox, admin, "reply.box") == NATS_OK);
    REQUIRE(natsConnection_PublishRequestString(admin, "req.time", "reply.box", "q") == NATS_OK);
    REQUIRE(natsConnection_Flush(admin) == NATS_OK);
    REQUIRE(svc.Expect(R"(MSG req\.time 1 reply\.box 1\r\nq\r\n)"));
    // The first answer goes through; a second one to the same reply subject does not.
    REQUIRE(svc.Send("PUB reply.box 2\r\nr1\r\nPUB reply.box 2\r\nr2\r\n"));
    CHECK(svc.Expect(Escaped(Violation("Publish", "reply.box"))));
    NatsMsg m;
    REQUIRE(natsSubscription_NextMsg(m.out(), inbox, 2000) == NATS_OK);
    CHECK(m.data() == "r1");
    CHECK(natsSubscription_NextMsg(m.out(), inbox, 200) == NATS_TIMEOUT);

    // A libnats request/reply end to end: the service answers on the generated inbox.
    NatsMsg reply;
    std::thread responder([&] {
      svc.Expect(R"(MSG req\.x 1 (_INBOX\.[^ ]+) 1\r\nq\r\n)");
      const std::string& line = svc.last_match();
      const size_t a = line.find("_INBOX.");
      const std::string inbox_subject = line.substr(a, line.find(' ', a) - a);
      svc.Send("PUB " + inbox_subject + " 2\r\nok\r\n");
    });
    natsStatus s = natsConnection_RequestString(reply.out(), admin, "req.x", "q", 3000);
    responder.join();
    REQUIRE(s == NATS_OK);
    CHECK(reply.data() == "ok");
  }
}

}  // namespace tandem::test
