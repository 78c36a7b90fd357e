// auth_helpers.h: what the authentication tests share: user nkeys made at test time (a
// libsodium seed, encoded as nkeys are: libnats decodes the seed on its own, so a wrong
// encoding fails there), bcrypt hashes (tests/support/bcrypt_hash.h), and a libnats connect
// with options (user/password, token, nkey) that reports the error text libnats got.
//
// Ownership: plain values; ConnectWith fills a NatsConn that owns the connection. Thread safety:
// plain functions.
#pragma once

#include <sodium.h>

#include <functional>
#include <memory>
#include <string>

#include <nats/nats.h>

#include "server/nats/nkeys.h"
#include "tests/support/bcrypt_hash.h"
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
