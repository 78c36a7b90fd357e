// https_alert_test.cc: the https monitoring port sends what its TLS session produced while
// reading, not only with its next answer: a client whose record does not decrypt gets the
// server's bad_record_mac alert before the connection closes, as on the client port, rather
// than a bare end of file.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::test {
namespace {

struct HttpsMember : TlsCertDir {
  TandemProcess proc{dir.path(), "tandem.log"};
  int https_port = FreePort();

  HttpsMember() {
    const std::string config = dir.WriteFile(
        "member.yaml", "listen: 127.0.0.1:" + std::to_string(FreePort()) +
                           "\nstore: {dir: data}\ntls: {cert_file: " + files.server_cert +
                           ", key_file: " + files.server_key + "}\nhttps: 127.0.0.1:" +
                           std::to_string(https_port) + "\n");
    REQUIRE(proc.Start({"serve", "--config", config}));
    REQUIRE_MESSAGE(proc.WaitForPort(https_port), proc.Log());
  }
};

}  // namespace

TEST_SUITE("https_alert") {
  TEST_CASE_FIXTURE(HttpsMember, "https: a record that does not decrypt gets an alert") {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    REQUIRE(ctx);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    const int fd = ConnectLoopback(https_port, 5000);
    REQUIRE(fd >= 0);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    SSL_set_fd(ssl.get(), fd);
    REQUIRE(SSL_connect(ssl.get()) == 1);
    CHECK(std::string(SSL_get_version(ssl.get())) == "TLSv1.3");

    // A record that does not decrypt, written past the client's TLS: the server's session
    // fails reading it and produces a bad_record_mac alert, which must reach the client before
    // the connection closes (not a bare end of file).
    const unsigned char forged[] = {0x17, 0x03, 0x03, 0x00, 0x20, 1, 2,  3,  4,  5,  6,  7,
                                    8,    9,    10,   11,   12,   13, 14, 15, 16, 17, 18, 19,
                                    20,   21,   22,   23,   24,   25, 26, 27, 28, 29, 30, 31, 32};
    REQUIRE(send(fd, forged, sizeof(forged), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(forged)));
    std::string reason;
    for (int i = 0; i < 20 && reason.empty(); ++i) {
      char buf[256];
      size_t got = 0;
      if (SSL_read_ex(ssl.get(), buf, sizeof(buf), &got) == 1) continue;
      const unsigned long e = ERR_get_error();
      const char* text = e != 0 ? ERR_reason_error_string(e) : nullptr;
      reason = text != nullptr ? text
                               : "no TLS error: " + std::to_string(SSL_get_error(ssl.get(), 0));
    }
    CHECK_MESSAGE(reason.find("bad record mac") != std::string::npos, reason);
    ERR_clear_error();
    close(fd);
  }
}

}  // namespace tandem::test
