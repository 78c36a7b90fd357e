// tls_session_test.cc: the memory-BIO TLS engine (server/util/tls_session.h, tls_context.h,
// tls_identity.h) with a server and a client session pumped into each other in memory: the
// handshake, data both ways in order, client certificates verified or refused, the identities
// verify_and_map reads, garbage instead of a ClientHello, and the start-up errors that name the
// bad file. Certificates come from tests/support/tls_certs.h, generated per test.
#include <string>

#include <doctest/doctest.h>

#include "server/util/tls_context.h"
#include "server/util/tls_session.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::server {
namespace {

using Certs = test::TlsCertDir;

std::shared_ptr<TlsContext> ServerCtx(const Certs& c, bool verify) {
  TlsOptions o;
  o.enabled = true;
  o.cert_file = c.files.server_cert;
  o.key_file = c.files.server_key;
  if (verify) {
    o.ca_file = c.files.ca;
    o.verify_and_map = true;
  }
  auto ctx = TlsContext::Server(o);
  REQUIRE_MESSAGE(ctx.ok(), ctx.status().ToString());
  return *ctx;
}

std::shared_ptr<TlsContext> ClientCtx(const std::string& ca, const std::string& cert = "",
                                      const std::string& key = "") {
  TlsClientOptions o;
  o.enabled = true;
  o.ca_file = ca;
  o.cert_file = cert;
  o.key_file = key;
  auto ctx = TlsContext::Client(o);
  REQUIRE_MESSAGE(ctx.ok(), ctx.status().ToString());
  return *ctx;
}

// Moves each side's output to the other until both are open or one fails (bounded rounds).
// Returns the server's last Handshake() result.
int Pump(TlsSession& client, TlsSession& server) {
  int s = 0, c = 0;
  for (int round = 0; round < 10; ++round) {
    c = client.Handshake();
    std::string bytes;
    client.TakeOutput(&bytes);
    server.PutCipher(bytes.data(), bytes.size());
    s = server.Handshake();
    bytes.clear();
    server.TakeOutput(&bytes);
    client.PutCipher(bytes.data(), bytes.size());
    if (s < 0 || c < 0 || (s == 1 && client.Handshake() == 1)) break;
  }
  return s;
}

std::string Transfer(TlsSession& from, TlsSession& to, const std::string& plain) {
  REQUIRE(from.Write(plain));
  std::string wire;
  from.TakeOutput(&wire);
  CHECK(wire.find(plain.substr(0, 16)) == std::string::npos);  // not in clear text
  to.PutCipher(wire.data(), wire.size());
  std::string got;
  char buf[4096];
  for (long n; (n = to.Read(buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(n));
  return got;
}

}  // namespace

TEST_SUITE("tls_session") {
  TEST_CASE("tls_session: handshake in memory, then data both ways in order") {
    Certs c;
    auto sctx = ServerCtx(c, false);
    auto cctx = ClientCtx(c.files.ca);
    TlsSession server(*sctx), client(*cctx, "127.0.0.1");
    REQUIRE(Pump(client, server) == 1);
    CHECK(server.open());
    CHECK(client.open());
    std::string big(100000, 'q');
    big[0] = 'A';
    CHECK(Transfer(client, server, "PUB a 2\r\nhi\r\n") == "PUB a 2\r\nhi\r\n");
    CHECK(Transfer(server, client, big) == big);
    CHECK(server.PeerIdentities().empty());
  }

  TEST_CASE("tls_session: a client that expects another name refuses the server") {
    Certs c;
    auto sctx = ServerCtx(c, false);
    auto cctx = ClientCtx(c.files.ca);
    TlsSession server(*sctx), client(*cctx, "10.9.9.9");
    Pump(client, server);
    CHECK_FALSE(client.open());
    CHECK(client.error().find("certificate verify failed") != std::string::npos);
  }

  TEST_CASE("tls_session: verify_and_map reads email, then the subject in RFC 2253 form") {
    Certs c;
    auto sctx = ServerCtx(c, true);
    auto cctx = ClientCtx(c.files.ca, c.files.client_cert, c.files.client_key);
    TlsSession server(*sctx), client(*cctx, "localhost");
    REQUIRE(Pump(client, server) == 1);
    auto ids = server.PeerIdentities();
    REQUIRE(ids.size() == 2);
    CHECK(ids[0] == "alice@example.com");
    CHECK(ids[1] == "CN=alice,OU=ops,O=tandem tests");
  }

  TEST_CASE("tls_session: verify refuses no certificate and one from another CA") {
    Certs c;
    auto sctx = ServerCtx(c, true);
    {
      auto cctx = ClientCtx(c.files.ca);
      TlsSession server(*sctx), client(*cctx);
      CHECK(Pump(client, server) == -1);
      CHECK_FALSE(server.error().empty());
    }
    {
      auto cctx = ClientCtx(c.files.ca, c.files.other_client_cert, c.files.other_client_key);
      TlsSession server(*sctx), client(*cctx);
      CHECK(Pump(client, server) == -1);
      CHECK(server.error().find("certificate verify failed") != std::string::npos);
    }
  }

  TEST_CASE("tls_session: a plain CONNECT instead of a ClientHello fails the handshake") {
    Certs c;
    auto sctx = ServerCtx(c, false);
    TlsSession server(*sctx);
    const std::string plain = "CONNECT {\"verbose\":false}\r\nPING\r\n";
    server.PutCipher(plain.data(), plain.size());
    CHECK(server.Handshake() == -1);
    CHECK_FALSE(server.error().empty());
  }

  TEST_CASE("tls_session: bad files are named in the error") {
    Certs c;
    TlsOptions o;
    o.enabled = true;
    o.cert_file = c.dir.Join("missing.pem");
    o.key_file = c.files.server_key;
    auto r = TlsContext::Server(o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() ==
          "cert_file: \"" + o.cert_file + "\": No such file or directory");
    o.cert_file = c.files.server_cert;
    o.key_file = c.files.client_key;
    r = TlsContext::Server(o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "key_file: \"" + o.key_file +
                                      "\" does not match the certificate in \"" + o.cert_file +
                                      "\"");
    o.key_file = c.files.server_key;
    o.verify = true;
    r = TlsContext::Server(o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "ca_file: must be set when verify or verify_and_map is on");
  }
}

}  // namespace tandem::server
