// auth.cc: CONNECT credential checks (see auth.h).
#include "server/nats/auth.h"

#include <crypt.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "server/nats/nkeys.h"

namespace tandem::server {

struct Authenticator::User {
  const AuthUser* config = nullptr;
  std::optional<NkeyPublic> nkey;
  std::shared_ptr<PermissionSet> permissions;
  bool remembered = false;  // `digest` holds the last password accepted
  unsigned char digest[32] = {};
};

bool IsBcrypt(std::string_view stored) {
  return stored.size() > 4 && stored[0] == '$' && stored[1] == '2' &&
         (stored[2] == 'a' || stored[2] == 'b' || stored[2] == 'y') && stored[3] == '$';
}

bool SecretMatches(std::string_view stored, std::string_view given) {
  if (stored.empty()) return false;
  if (IsBcrypt(stored)) {
    auto data = std::make_unique<crypt_data>();
    std::string key(given), setting(stored);
    const char* out = crypt_rn(key.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
    sodium_memzero(key.data(), key.size());
    const bool ok = out != nullptr && std::strlen(out) == stored.size() &&
                    sodium_memcmp(out, stored.data(), stored.size()) == 0;
    sodium_memzero(data.get(), sizeof(crypt_data));
    return ok;
  }
  return stored.size() == given.size() &&
         sodium_memcmp(stored.data(), given.data(), stored.size()) == 0;
}

Authenticator::Authenticator(const AuthOptions& options) : options_(options) {
  if (sodium_init() < 0) abort();  // libsodium cannot work without its RNG
  randombytes_buf(digest_key_, sizeof(digest_key_));
  std::shared_ptr<PermissionSet> defaults;
  if (options_.default_permissions) {
    defaults = std::make_shared<PermissionSet>(*options_.default_permissions);
  }
  for (const AuthUser& u : options_.users) {
    User user;
    user.config = &u;
    if (!u.nkey.empty()) {
      auto key = DecodeUserPublicKey(u.nkey);
      if (key.ok()) user.nkey = *key;
      nonce_required_ = true;
    }
    user.permissions = u.permissions ? std::make_shared<PermissionSet>(*u.permissions) : defaults;
    users_.push_back(std::move(user));
  }
}

Authenticator::~Authenticator() { sodium_memzero(digest_key_, sizeof(digest_key_)); }

std::string Authenticator::MakeNonce() {
  unsigned char raw[11];
  randombytes_buf(raw, sizeof(raw));
  char b64[sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return b64;
}

bool Authenticator::PasswordMatches(User& u, std::string_view given) {
  const std::string& stored = u.config->password;
  if (!IsBcrypt(stored)) return SecretMatches(stored, given);
  unsigned char digest[32];
  crypto_generichash(digest, sizeof(digest), reinterpret_cast<const unsigned char*>(given.data()),
                     given.size(), digest_key_, sizeof(digest_key_));
  if (u.remembered && sodium_memcmp(digest, u.digest, sizeof(digest)) == 0) return true;
  if (!SecretMatches(stored, given)) return false;
  std::memcpy(u.digest, digest, sizeof(digest));
  u.remembered = true;
  return true;
}

std::optional<AuthResult> Authenticator::MapCertificate(
    const std::vector<std::string>& identities) const {
  for (const std::string& id : identities) {
    for (const User& u : users_) {
      if (!u.nkey && u.config->user == id) return AuthResult{u.config->user, u.permissions};
    }
  }
  return std::nullopt;
}

std::optional<AuthResult> Authenticator::Check(const ConnectCredentials& creds,
                                               std::string_view nonce,
                                               const std::vector<std::string>* cert_identities) {
  if (!required()) return AuthResult{};
  if (!users_.empty()) {
    if (!creds.nkey.empty()) {
      for (User& u : users_) {
        if (!u.nkey || u.config->nkey != creds.nkey) continue;
        if (nonce.empty() || !VerifyNonceSignature(*u.nkey, nonce, creds.sig)) return {};
        return AuthResult{u.config->nkey, u.permissions};
      }
      return {};
    }
    if (cert_identities != nullptr) return MapCertificate(*cert_identities);
    for (User& u : users_) {
      if (u.nkey || u.config->user != creds.user) continue;
      if (!PasswordMatches(u, creds.pass)) return {};
      return AuthResult{u.config->user, u.permissions};
    }
    return {};
  }
  if (!options_.token.empty()) {
    if (!SecretMatches(options_.token, creds.token)) return {};
    return AuthResult{};
  }
  if (creds.user != options_.user || !SecretMatches(options_.password, creds.pass)) return {};
  return AuthResult{options_.user, nullptr};
}

std::optional<AuthResult> Authenticator::FindUser(std::string_view name) const {
  for (const User& u : users_) {
    if (!u.nkey && u.config->user == name) return AuthResult{u.config->user, u.permissions};
  }
  if (!options_.user.empty() && options_.user == name) return AuthResult{options_.user, nullptr};
  return std::nullopt;
}

}  // namespace tandem::server
