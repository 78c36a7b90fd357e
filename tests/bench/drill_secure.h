// drill_secure.h: the secured pair of the failover drill (`--tls`, `--auth`): what goes into
// the members' configurations and what the drill's clients do to get in.
//
//   --tls   certificates made at run time with the openssl CLI in <dir>/certs
//           (tests/support/tls_cert_gen.h); TLS required on the client port with client
//           certificates verified; the peer link speaks TLS with the client certificate
//           (`ft.tls`); the drill's clients use TLS and present the client certificate.
//   --auth  users with bcrypt passwords (tests/support/bcrypt_hash.h) and subject permissions:
//           `drill` for the clients, `pair` for the members' links (`ft.user`/`ft.password`);
//           the clients log in as `drill`. Neither password may appear in the members' logs
//           (checked at the end).
//
// Ownership: plain values. Thread safety: one thread (set up before the load starts).
#pragma once

#include <string>

#include <nats/nats.h>

#include "tests/support/bcrypt_hash.h"
#include "tests/support/tls_cert_gen.h"

namespace tandem::bench {

class DrillSecurity {
 public:
  bool tls = false, auth = false;

  // Makes the certificates (--tls) and the password hashes (--auth); false with *error set.
  bool Prepare(const std::string& dir, std::string* error) {
    if (tls) {
      const std::string certs_dir = dir + "/certs";
      if (!test::cert_gen::Run("mkdir -p '" + certs_dir + "'", error) ||
          !certs_.Generate(certs_dir, error)) {
        return false;
      }
    }
    if (auth) {
      drill_hash_ = test::BcryptHash(kDrillPassword);
      pair_hash_ = test::BcryptHash(kPairPassword);
      if (drill_hash_.empty() || pair_hash_.empty()) {
        *error = "bcrypt hashing failed";
        return false;
      }
    }
    return true;
  }

  // Top-level sections of a member's configuration.
  std::string ServerYaml() const {
    std::string y;
    if (tls) {
      y += "tls: {cert_file: " + certs_.server_cert + ", key_file: " + certs_.server_key +
           ", ca_file: " + certs_.ca + ", verify: true}\n";
    }
    if (auth) {
      y += "authorization:\n  users:\n"
           "    - user: drill\n      password: \"" + drill_hash_ + "\"\n"
           "      permissions: {publish: [\"_STAN.>\", \"_INBOX.>\", \"drill\"],"
           " subscribe: [\"_STAN.>\", \"_INBOX.>\", \"drill\"]}\n"
           "    - user: pair\n      password: \"" + pair_hash_ + "\"\n"
           "      permissions: {publish: \"_STAN.ft.>\", subscribe: \"_STAN.ft.>\"}\n";
    }
    return y;
  }

  // Lines of the `ft:` section.
  std::string FtYaml() const {
    std::string y;
    if (auth) y += std::string("  user: pair\n  password: ") + kPairPassword + "\n";
    if (tls) {
      y += "  tls: {ca_file: " + certs_.ca + ", cert_file: " + certs_.client_cert +
           ", key_file: " + certs_.client_key + "}\n";
    }
    return y;
  }

  // The clients' URL and options.
  std::string Url(int port) const {
    return std::string("nats://") + (auth ? std::string("drill:") + kDrillPassword + "@" : "") +
           "127.0.0.1:" + std::to_string(port);
  }
  void ApplyClient(natsOptions* o) const {
    if (!tls) return;
    natsOptions_SetSecure(o, true);
    natsOptions_LoadCATrustedCertificates(o, certs_.ca.c_str());
    natsOptions_SetExpectedHostname(o, "localhost");
    natsOptions_LoadCertificatesChain(o, certs_.client_cert.c_str(), certs_.client_key.c_str());
  }

  // A password found in `log`, or nullptr.
  const char* SecretIn(const std::string& log) const {
    if (!auth) return nullptr;
    for (const char* p : {kDrillPassword, kPairPassword}) {
      if (log.find(p) != std::string::npos) return p;
    }
    return nullptr;
  }

  std::string Describe() const {
    if (!tls && !auth) return "plain";
    std::string d;
    if (tls) d = "TLS (client certificates verified, peer link over TLS)";
    if (auth) d += std::string(tls ? ", " : "") + "users with bcrypt passwords and permissions";
    return d;
  }

 private:
  static constexpr const char* kDrillPassword = "drill-client-pw";
  static constexpr const char* kPairPassword = "drill-pair-pw";

  test::TlsCerts certs_;
  std::string drill_hash_, pair_hash_;
};

}  // namespace tandem::bench
