// tls_options.h: the TLS settings of one listener or client, as nats-server names them
// (`tls: {cert_file, key_file, ca_file, verify, verify_and_map, timeout, min_version}`).
// Filled by config.cc; turned into an SSL_CTX by tls_context.h. Plain values.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::server {

struct TlsOptions {
  bool enabled = false;  // a `tls` section (or --tls) was given
  std::string cert_file, key_file, ca_file;
  bool verify = false;          // require a client certificate signed by ca_file
  bool verify_and_map = false;  // verify, and expose the certificate's identities (tls_identity.h)
  uint64_t timeout_ms = 2000;   // handshake deadline, nats-server's default of 2 s
  std::string min_version = "1.2";  // "1.2" or "1.3"
};

// The client side of the peer link (`ft: {tls: {ca_file, cert_file, key_file}}`): the server's
// certificate is verified against ca_file; cert_file/key_file are sent when the server asks.
// `tandem status` uses it too, with system_trust: no ca_file means the system's trusted CAs.
struct TlsClientOptions {
  bool enabled = false;
  std::string ca_file, cert_file, key_file;
  bool system_trust = false;
};

}  // namespace tandem::server
