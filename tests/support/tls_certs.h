// tls_certs.h: test certificates generated at test time (TlsCerts, tests/support/tls_cert_gen.h)
// in a directory of the test's own.
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
#include "tests/support/tls_cert_gen.h"

namespace tandem::test {

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

// A blocking TCP socket connected to 127.0.0.1:port with send and receive timeouts, or -1.
int ConnectLoopback(int port, int timeout_ms);

// GET `path` from https://127.0.0.1:port, trusting `ca`; the whole response (status line,
// headers, body), or nullopt when the connection or the handshake fails.
std::optional<std::string> HttpsGet(int port, const std::string& ca, const std::string& path,
                                    int timeout_ms = 5000);

}  // namespace tandem::test
