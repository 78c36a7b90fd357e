// bcrypt_hash.h: a bcrypt hash made at run time with libxcrypt, for configurations that hold a
// user's password hashed (the authentication tests, the failover drill's `--auth`).
// Header-only so that programs that do not link the test support library use it too.
// Thread safety: plain function (crypt_rn with its own state).
#pragma once

#include <crypt.h>

#include <memory>
#include <string>

namespace tandem::test {

// A bcrypt hash ($2b$, cost 4: fast enough for tests) of `password`; empty on failure.
inline std::string BcryptHash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof(salt)) == nullptr) return {};
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  return out == nullptr ? std::string() : std::string(out);
}

}  // namespace tandem::test
