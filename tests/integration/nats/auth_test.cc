// auth_test.cc: client authentication through the real binary with libnats and raw sockets:
// user/password (flags and YAML), token, a users list with plain and bcrypt passwords, nkey
// users signing the INFO nonce, the authentication timeout, ops before CONNECT, and that no
// secret reaches the log or the monitoring output.
#include <cctype>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nats/nats.h>

#include "server/monitor/status_command.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/core_fixture.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

// A tandem on free ports with `yaml` as its config (may be empty) and extra flags.
struct AuthServer {
  TempDir dir;
  TandemProcess proc{dir.path(), "tandem.log"};
  int port = FreePort();
  int http = FreePort();

  void Start(const std::string& yaml, std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"serve", "--listen", "127.0.0.1:" + std::to_string(port),
                                  "--http", "127.0.0.1:" + std::to_string(http), "--store",
                                  "data", "--log-level", "trace"};
    if (!yaml.empty()) {
      args.push_back("--config");
      args.push_back(dir.WriteFile("auth.yaml", yaml));
    }
    args.insert(args.end(), flags.begin(), flags.end());
    REQUIRE(proc.Start(args));
    REQUIRE_MESSAGE(proc.WaitForPort(port), proc.Log());
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port); }
};

// A round trip on `nc`: the connection really works after the handshake.
void RequireRoundTrip(natsConnection* nc) {
  NatsSub sub;
  REQUIRE(SubscribeSyncFlushed(sub, nc, "auth.check") == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc, "auth.check", "hello") == NATS_OK);
  NatsMsg m;
  REQUIRE(natsSubscription_NextMsg(m.out(), sub, 2000) == NATS_OK);
  CHECK(m.data() == "hello");
}

void RequireRefused(const AuthServer& srv, const std::function<natsStatus(natsOptions*)>& set) {
  NatsConn c;
  std::string error;
  CHECK(ConnectWith(c, srv.url(), set, &error) != NATS_OK);
  std::string lower = error;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  CHECK_MESSAGE(lower.find("authorization violation") != std::string::npos, error);
}

}  // namespace

TEST_SUITE("auth") {
  TEST_CASE("auth: --user and --pass admit that user only; INFO says auth_required") {
    AuthServer srv;
    srv.Start("", {"--user", "alice", "--pass", "s3cret-pw"});
    WireClient w;
    REQUIRE(w.Connect(srv.port));
    REQUIRE(w.Expect(R"(INFO \{[^\r]*"auth_required":true[^\r]*\}\r\n)"));
    CHECK(w.last_match().find("nonce") == std::string::npos);  // no nkey users
    REQUIRE(w.Send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"wrong\"}\r\n"));
    CHECK(w.Expect(R"(-ERR 'Authorization Violation'\r\n)"));
    CHECK(w.WaitClosed());

    NatsConn ok;
    REQUIRE(ConnectWith(ok, srv.url(), UserInfo("alice", "s3cret-pw")) == NATS_OK);
    RequireRoundTrip(ok);
    RequireRefused(srv, UserInfo("alice", "s3cret-pX"));
    RequireRefused(srv, UserInfo("bob", "s3cret-pw"));
    RequireRefused(srv, nullptr);
  }

  TEST_CASE("auth: a token (--auth) admits who sends it") {
    AuthServer srv;
    srv.Start("", {"--auth", "tok-123456"});
    NatsConn ok;
    REQUIRE(ConnectWith(ok, srv.url(), [](natsOptions* o) {
              return natsOptions_SetToken(o, "tok-123456");
            }) == NATS_OK);
    RequireRoundTrip(ok);
    RequireRefused(srv, [](natsOptions* o) { return natsOptions_SetToken(o, "tok-12345"); });
    RequireRefused(srv, nullptr);
  }

  TEST_CASE("auth: a users list with plain and bcrypt passwords") {
    const std::string hash = BcryptHash("bcrypt-pw");
    REQUIRE(hash.rfind("$2b$04$", 0) == 0);
    AuthServer srv;
    srv.Start("authorization:\n  users:\n    - {user: plain, password: plain-pw}\n"
              "    - {user: hashed, password: '" + hash + "'}\n");
    NatsConn a, b, again;
    REQUIRE(ConnectWith(a, srv.url(), UserInfo("plain", "plain-pw")) == NATS_OK);
    RequireRoundTrip(a);
    REQUIRE(ConnectWith(b, srv.url(), UserInfo("hashed", "bcrypt-pw")) == NATS_OK);
    RequireRoundTrip(b);
    // The second login is served from the remembered digest; a wrong one still fails.
    REQUIRE(ConnectWith(again, srv.url(), UserInfo("hashed", "bcrypt-pw")) == NATS_OK);
    RequireRefused(srv, UserInfo("hashed", "bcrypt-pX"));
    RequireRefused(srv, UserInfo("hashed", hash));  // the hash itself is not the password
    RequireRefused(srv, UserInfo("plain", "bcrypt-pw"));
    RequireRefused(srv, UserInfo("nobody", "plain-pw"));
  }

  TEST_CASE("auth: an nkey user signs the nonce of INFO with its seed") {
    const UserNkey user = MakeUserNkey();
    const UserNkey stranger = MakeUserNkey();
    REQUIRE(user.pub.size() == 56);
    AuthServer srv;
    const std::string seed_file = srv.dir.WriteFile("user.nk", user.seed + "\n");
    const std::string stranger_file = srv.dir.WriteFile("stranger.nk", stranger.seed + "\n");
    srv.Start("authorization:\n  users:\n    - nkey: " + user.pub + "\n");

    WireClient w;
    REQUIRE(w.Connect(srv.port));
    REQUIRE(w.Expect(R"(INFO \{[^\r]*"nonce":"[A-Za-z0-9_-]{15}"[^\r]*\}\r\n)"));
    // The right key with a signature of something else is refused.
    REQUIRE(w.Send("CONNECT {\"verbose\":false,\"nkey\":\"" + user.pub + "\",\"sig\":\"" +
                   std::string(86, 'A') + "\"}\r\n"));
    CHECK(w.Expect(R"(-ERR 'Authorization Violation'\r\n)"));
    CHECK(w.WaitClosed());

    NatsConn ok;
    REQUIRE(ConnectWith(ok, srv.url(), [&](natsOptions* o) {
              return natsOptions_SetNKeyFromSeed(o, user.pub.c_str(), seed_file.c_str());
            }) == NATS_OK);
    RequireRoundTrip(ok);
    // Another key pair, whether it claims its own key or the configured one.
    RequireRefused(srv, [&](natsOptions* o) {
      return natsOptions_SetNKeyFromSeed(o, stranger.pub.c_str(), stranger_file.c_str());
    });
    RequireRefused(srv, [&](natsOptions* o) {
      return natsOptions_SetNKeyFromSeed(o, user.pub.c_str(), stranger_file.c_str());
    });
  }

  TEST_CASE("auth: no CONNECT within the timeout: -ERR 'Authentication Timeout', closed") {
    AuthServer srv;
    srv.Start("authorization: {user: u, password: p, timeout: 0.5}\n");
    WireClient quiet, talker;
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(quiet.Connect(srv.port));
    REQUIRE(talker.Connect(srv.port));
    REQUIRE(quiet.Expect("INFO [^\r]*\r\n"));
    REQUIRE(talker.Expect("INFO [^\r]*\r\n"));
    REQUIRE(talker.Send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\n"));
    REQUIRE(quiet.Expect(R"(-ERR 'Authentication Timeout'\r\n)", milliseconds(5000)));
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= milliseconds(450));
    CHECK(quiet.WaitClosed());
    // The authenticated connection is not affected.
    CHECK(talker.SendAndPong(""));
  }

  TEST_CASE("auth: an op before CONNECT is an authorization violation") {
    AuthServer srv;
    srv.Start("", {"--auth", "tok"});
    WireClient w;
    REQUIRE(w.Connect(srv.port));
    REQUIRE(w.Expect("INFO [^\r]*\r\n"));
    REQUIRE(w.Send("SUB x 1\r\n"));
    CHECK(w.Expect(R"(-ERR 'Authorization Violation'\r\n)"));
    CHECK(w.WaitClosed());
  }

  TEST_CASE("auth: passwords and tokens never reach the log or the monitoring output") {
    const std::string pw = "Pw-d0-not-print-9f3";
    AuthServer srv;
    srv.Start("authorization:\n  users:\n    - {user: carol, password: " + pw + "}\n");
    NatsConn ok;
    REQUIRE(ConnectWith(ok, srv.url(), UserInfo("carol", pw)) == NATS_OK);
    RequireRefused(srv, UserInfo("carol", pw + "x"));
    for (const char* path : {"/varz", "/connz", "/healthz"}) {
      auto r = server::HttpGet("127.0.0.1", srv.http, path, 5000);
      REQUIRE(r.ok());
      CHECK_MESSAGE(r->body.find(pw) == std::string::npos, path);
    }
    CHECK(srv.proc.WaitForLog("authentication error - carol"));
    CHECK(srv.proc.Log().find(pw) == std::string::npos);
  }

  TEST_CASE("auth: configuration errors name the key and never the secret") {
    TempDir dir;
    std::string bad_key = MakeUserNkey().pub;
    bad_key[10] = bad_key[10] == 'A' ? 'B' : 'A';  // the checksum no longer matches
    TandemProcess p;
    auto status = p.Run({"serve", "--config",
                         dir.WriteFile("x.yaml", "authorization:\n  users:\n    - nkey: " +
                                                     bad_key + "\n")});
    CHECK(status == 2);
    CHECK_MESSAGE(p.Log().find("authorization.users[0].nkey: \"" + bad_key +
                               "\" has a wrong checksum") != std::string::npos,
                  p.Log());
    TandemProcess q;
    status = q.Run({"serve", "--user", "u"});
    CHECK(status == 2);
    CHECK_MESSAGE(q.Log().find("authorization.password: must be set with authorization.user") !=
                      std::string::npos,
                  q.Log());
  }
}

}  // namespace tandem::test
