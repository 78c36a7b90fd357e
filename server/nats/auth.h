// auth.h: the client authentication of the NATS core: whether a CONNECT's credentials are
// accepted, by nats-server's rules, and which permissions the connection then has.
//
// What is accepted (the configuration allows exactly one of the three forms):
// - `authorization: {user, password}`: CONNECT `user` and `pass` equal to them;
// - `authorization: {token}`: CONNECT `auth_token` equal to it;
// - `authorization: {users: [...]}`: CONNECT `nkey` naming a configured nkey user, with `sig`
//   that user's Ed25519 signature of the nonce the server sent in INFO (base64url, or standard
//   base64); or CONNECT `user` naming a configured user, with its `pass`;
// - with `tls.verify_and_map` and `users`, nats-server's mapping instead of the user name and
//   password: the first identity of the verified client certificate (email SANs, DNS names,
//   URIs, then the subject in RFC 2253 form; server/util/tls_identity.h) that is the name of a
//   configured user (not an nkey user) is the user, whatever CONNECT says; none: refused. Such
//   users need no password (one without can log in only this way). The subject is compared as
//   a string: a user named with its RDNs in another order does not match. nkey users still log
//   in with their signature.
// A password starting with `$2a$`, `$2b$` or `$2y$` is a bcrypt hash and is checked with
// libxcrypt's crypt_rn; others are compared in constant time. bcrypt is slow on purpose (tens of
// milliseconds at cost 10) and runs on the loop, so the last password each user got accepted
// with is remembered as a keyed BLAKE2b digest (libsodium, random key made at start): a
// client reconnecting with the same password costs a hash, not a bcrypt. A wrong one always
// costs the bcrypt.
//
// Secrets are never logged nor returned; the result names the user (or its nkey).
//
// Ownership: plain object owned by the NatsServer. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/nats/auth_options.h"
#include "server/nats/permissions.h"

namespace tandem::server {

// The credential fields of a CONNECT.
struct ConnectCredentials {
  std::string user, pass, token, nkey, sig;
};

struct AuthResult {
  std::string user;  // the user name, the nkey, or empty (token, or no authorization)
  // Null: no restriction (the common case, which costs nothing on the hot path).
  std::shared_ptr<PermissionSet> permissions;
};

class Authenticator {
 public:
  // REQUIRES: `options` was validated by the configuration (keys decode, subjects are valid).
  explicit Authenticator(const AuthOptions& options);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  bool required() const { return options_.required(); }
  // True when INFO carries a nonce (nkey users are configured).
  bool nonce_required() const { return nonce_required_; }
  uint64_t timeout_ms() const { return options_.timeout_ms; }

  // The user `creds` authenticate as, or nullopt (-ERR 'Authorization Violation'). `nonce` is
  // the one sent in this connection's INFO. When no authorization is configured every CONNECT
  // is accepted, without permissions.
  // `cert_identities`: with verify_and_map, the client certificate's identities in order
  // (null otherwise).
  std::optional<AuthResult> Check(const ConnectCredentials& creds, std::string_view nonce,
                                  const std::vector<std::string>* cert_identities = nullptr);
  // True when a `users` list is configured (verify_and_map maps certificates to its entries).
  bool has_users() const { return !users_.empty(); }
  // The configured user called `name`, for an identity established otherwise (a client
  // certificate mapped to a user); nullopt when there is none.
  std::optional<AuthResult> FindUser(std::string_view name) const;

  // A fresh nonce: 11 random bytes in base64url without padding, as nats-server makes them.
  static std::string MakeNonce();

 private:
  struct User;
  bool PasswordMatches(User& u, std::string_view given);
  std::optional<AuthResult> MapCertificate(const std::vector<std::string>& identities) const;

  const AuthOptions options_;
  bool nonce_required_ = false;
  std::vector<User> users_;
  unsigned char digest_key_[32];
};

// True when `stored` is a bcrypt hash ($2a$, $2b$, $2y$).
bool IsBcrypt(std::string_view stored);
// Compares a given secret with the configured one without an early exit on the first
// difference (plain secrets), or through bcrypt (hashes).
bool SecretMatches(std::string_view stored, std::string_view given);

}  // namespace tandem::server
