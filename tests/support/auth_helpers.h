// auth_helpers.h: what the authentication tests share: user nkeys made at test time (a
// libsodium seed, encoded as nkeys are: libnats decodes the seed on its own, so a wrong
// encoding fails there), bcrypt hashes made with libxcrypt, and a libnats connect with options
// (user/password, token, nkey) that reports the error text libnats got.
//
// Ownership: plain values; ConnectWith fills a NatsConn that owns the connection. Thread safety:
// plain functions.
#pragma once

#include <crypt.h>
#include <sodium.h>

#include <functional>
#include <memory>
#include <string>

#include <nats/nats.h>

#include "server/nats/nkeys.h"
#include "tests/support/core_fixture.h"

namespace tandem::test {

struct UserNkey {
  std::string seed;  // "SU..."
  std::string pub;   // "U..."
};

inline UserNkey MakeUserNkey() {
  if (sodium_init() < 0) return {};
  server::NkeySeed seed;
  randombytes_buf(seed.data(), seed.size());
  return {server::EncodeUserSeed(seed),
          server::EncodeUserPublicKey(server::PublicKeyOfSeed(seed))};
}

// A bcrypt hash ($2b$, cost 4: fast enough for tests) of `password`; empty on failure.
inline std::string BcryptHash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof(salt)) == nullptr) return {};
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  return out == nullptr ? std::string() : std::string(out);
}

// Connects `c` to `url` with the options `set` adds (no reconnects, short timeouts); the
// status, and in *error libnats' text for a failure.
inline natsStatus ConnectWith(NatsConn& c, const std::string& url,
                              const std::function<natsStatus(natsOptions*)>& set,
                              std::string* error = nullptr) {
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetURL(o, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, 5000);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, false);
  if (s == NATS_OK && set) s = set(o);
  if (s == NATS_OK) s = natsConnection_Connect(&c.nc, o);
  if (s != NATS_OK && error != nullptr) {
    const char* text = nats_GetLastError(nullptr);
    *error = text != nullptr ? text : "";
  }
  natsOptions_Destroy(o);
  return s;
}

inline std::function<natsStatus(natsOptions*)> UserInfo(std::string user, std::string pass) {
  return [=](natsOptions* o) { return natsOptions_SetUserInfo(o, user.c_str(), pass.c_str()); };
}

}  // namespace tandem::test
