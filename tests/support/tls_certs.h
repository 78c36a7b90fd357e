// tls_certs.h: test certificates, generated at test time with the openssl CLI (never committed):
// a CA, a server certificate for localhost and 127.0.0.1 signed by it, a client certificate
// signed by it (with an email SAN, for verify_and_map), one for bob (no SAN: its subject is its
// only identity), and a second, unrelated CA with a client
// certificate of its own (the "wrong CA" cases). EC P-256 keys: generating them is instant.
//
// Also a libnats connection with the TLS options, and a minimal blocking TLS client on OpenSSL for what libnats cannot do: an HTTPS request
// to the monitoring port.
//
// Ownership: TlsCerts writes its files into a directory it borrows. Thread safety: one thread.
#pragma once

#include <optional>
#include <string>

#include <nats/nats.h>

#include "tests/support/temp_dir.h"

namespace tandem::test {

struct TlsCerts {
  std::string ca, server_cert, server_key, client_cert, client_key;
  std::string bob_cert, bob_key;  // subject "CN=bob,O=tandem tests", no SAN
  std::string other_ca, other_client_cert, other_client_key;

  // Generates everything into `dir`; false (with the openssl output in *error) on failure.
  bool Generate(const std::string& dir, std::string* error);
};

// A fresh TempDir holding freshly generated certificates; fails the test (REQUIRE) when the
// openssl CLI cannot make them.
struct TlsCertDir {
  TempDir dir;
  TlsCerts files;
  TlsCertDir();
};

// A libnats connection to 127.0.0.1:port with TLS: trusts `ca`, expects the name "localhost",
// presents `cert`/`key` when given. No reconnects: a refusal fails the connect.
natsStatus ConnectTls(natsConnection** nc, int port, const std::string& ca,
                      const std::string& cert = "", const std::string& key = "");

// GET `path` from https://127.0.0.1:port, trusting `ca`; the whole response (status line,
// headers, body), or nullopt when the connection or the handshake fails.
std::optional<std::string> HttpsGet(int port, const std::string& ca, const std::string& path,
                                    int timeout_ms = 5000);

}  // namespace tandem::test
