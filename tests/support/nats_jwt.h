// nats_jwt.h: NATS decentralized authentication made at test time, for nats-server's operator
// mode: an operator, an account and users as nkeys (libsodium Ed25519 seeds encoded as nkeys
// are), the JWTs that bind them (the claims format of nats-io/jwt v2: a header
// {"typ":"JWT","alg":"ed25519-nkey"}, the claims, and the issuer's Ed25519 signature of
// "header.claims", each part base64url without padding), a nats-server configuration block
// trusting the operator with the account preloaded in a memory resolver, and a user's .creds
// file (its JWT and seed between the markers nsc writes). Written here because `nsc`, the tool
// that makes them, is not in Debian, and the format is a few lines over libsodium.
//
// Ownership: plain values. Thread safety: plain functions (sodium_init is called).
#pragma once

#include <sodium.h>

#include <array>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "server/nats/nkeys.h"

namespace tandem::test {

struct Nkey {
  std::array<uint8_t, 32> seed{};
  std::string pub;       // "O...", "A..." or "U..."
  std::string seed_text; // "SO...", "SA..." or "SU..."
};

// A fresh key of role `prefix` (the nkey prefix byte: 14 << 3 operator, 0 account, 20 << 3 user).
inline Nkey MakeNkey(uint8_t prefix) {
  if (sodium_init() < 0) return {};
  Nkey k;
  randombytes_buf(k.seed.data(), k.seed.size());
  auto checked = [](std::string raw) {
    const uint16_t crc =
        server::NkeyCrc16(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    raw.push_back(static_cast<char>(crc & 0xFF));
    raw.push_back(static_cast<char>(crc >> 8));
    return server::Base32Encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  };
  const server::NkeyPublic pk = server::PublicKeyOfSeed(k.seed);
  k.pub = checked(std::string(1, static_cast<char>(prefix)) +
                  std::string(reinterpret_cast<const char*>(pk.data()), pk.size()));
  std::string seed_raw;
  seed_raw.push_back(static_cast<char>(server::kNkeyPrefixSeed | (prefix >> 5)));
  seed_raw.push_back(static_cast<char>((prefix & 31) << 3));
  seed_raw.append(reinterpret_cast<const char*>(k.seed.data()), k.seed.size());
  k.seed_text = checked(std::move(seed_raw));
  return k;
}

inline std::string Base64Url(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

// A JWT of `nats` claims about `subject`, issued and signed by `issuer`.
inline std::string MakeJwt(const Nkey& issuer, const std::string& subject, const std::string& name,
                           nlohmann::json nats) {
  std::array<uint8_t, 32> id{};  // the jti is an opaque unique id; nobody recomputes it
  randombytes_buf(id.data(), id.size());
  nlohmann::json claims = {{"jti", server::Base32Encode(id.data(), id.size())},
                           {"iat", static_cast<int64_t>(std::time(nullptr))},
                           {"iss", issuer.pub},
                           {"name", name},
                           {"sub", subject},
                           {"nats", std::move(nats)}};
  const std::string signing_input = Base64Url(R"({"typ":"JWT","alg":"ed25519-nkey"})") + "." +
                                    Base64Url(claims.dump());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, issuer.seed.data());
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size(), sk);
  sodium_memzero(sk, sizeof(sk));
  return signing_input + "." + Base64Url(std::string(reinterpret_cast<char*>(sig), sizeof(sig)));
}

// An operator and one account whose users may do anything; Conf() is the nats-server block.
struct OperatorSetup {
  Nkey op = MakeNkey(14 << 3);
  Nkey account = MakeNkey(0);
  std::string op_jwt = MakeJwt(op, op.pub, "test-operator", {{"type", "operator"}, {"version", 2}});
  std::string account_jwt = MakeJwt(
      op, account.pub, "test-account",
      {{"limits", {{"subs", -1}, {"data", -1}, {"payload", -1}, {"imports", -1}, {"exports", -1},
                   {"wildcards", true}, {"conn", -1}, {"leaf", -1}}},
       {"default_permissions", {{"pub", nlohmann::json::object()}, {"sub", nlohmann::json::object()}}},
       {"type", "account"},
       {"version", 2}});

  std::string Conf() const {
    return "operator: \"" + op_jwt + "\"\nresolver: MEMORY\nresolver_preload: {\n  " +
           account.pub + ": \"" + account_jwt + "\"\n}\n";
  }
  // The .creds text of a new user of the account.
  std::string UserCreds(const std::string& name) const {
    const Nkey user = MakeNkey(20 << 3);
    const std::string jwt = MakeJwt(account, user.pub, name,
                                    {{"pub", nlohmann::json::object()},
                                     {"sub", nlohmann::json::object()},
                                     {"subs", -1},
                                     {"data", -1},
                                     {"payload", -1},
                                     {"type", "user"},
                                     {"version", 2}});
    return "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
           "-----BEGIN USER NKEY SEED-----\n" + user.seed_text +
           "\n------END USER NKEY SEED------\n";
  }
};

}  // namespace tandem::test
