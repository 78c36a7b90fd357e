// nkeys.cc: nkey texts, base32, CRC-16 and Ed25519 signatures (see nkeys.h).
#include "server/nats/nkeys.h"

#include <sodium.h>

#include <algorithm>

#include <fmt/format.h>

namespace tandem::server {
namespace {

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

Status Bad(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

// Decodes `text` and checks its length and trailing CRC; `raw` gets the bytes before the CRC.
Status DecodeChecked(std::string_view text, size_t raw_len, std::string* raw) {
  const size_t chars = (8 * (raw_len + 2) + 4) / 5;
  if (text.size() != chars) {
    return Bad(fmt::format("has {} characters, not {}", text.size(), chars));
  }
  std::string bytes;
  if (!Base32Decode(text, &bytes) || bytes.size() != raw_len + 2) {
    return Bad("is not base32 (A-Z, 2-7)");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint16_t want = static_cast<uint16_t>(p[raw_len] | (p[raw_len + 1] << 8));
  if (NkeyCrc16(p, raw_len) != want) return Bad("has a wrong checksum");
  *raw = bytes.substr(0, raw_len);
  return Status::OK();
}

std::string EncodeChecked(std::string raw) {
  const uint16_t crc = NkeyCrc16(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  raw.push_back(static_cast<char>(crc & 0xff));
  raw.push_back(static_cast<char>(crc >> 8));
  return Base32Encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

}  // namespace

uint16_t NkeyCrc16(const uint8_t* data, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; ++i) {
    crc ^= static_cast<uint16_t>(data[i]) << 8;
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string Base32Encode(const uint8_t* data, size_t n) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    buf = (buf << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buf >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32[(buf << (5 - bits)) & 31]);
  return out;
}

bool Base32Decode(std::string_view text, std::string* out) {
  out->clear();
  uint32_t buf = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return false;
    }
    buf = (buf << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out->push_back(static_cast<char>((buf >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return (buf & ((1u << bits) - 1)) == 0;
}

Result<NkeyPublic> DecodeUserPublicKey(std::string_view text) {
  if (text.empty() || text[0] != 'U')
    return Bad("is not a user's public nkey (it starts with 'U')");
  std::string raw;
  Status s = DecodeChecked(text, 33, &raw);
  if (!s.ok()) return s;
  if (static_cast<uint8_t>(raw[0]) != kNkeyPrefixUser) return Bad("is not a user's public nkey");
  NkeyPublic key;
  std::copy(raw.begin() + 1, raw.end(), key.begin());
  return key;
}

Result<NkeySeed> DecodeUserSeed(std::string_view text) {
  if (text.size() < 2 || text[0] != 'S' || text[1] != 'U') {
    return Bad("is not a user's nkey seed (it starts with \"SU\")");
  }
  std::string raw;
  Status s = DecodeChecked(text, 34, &raw);
  if (!s.ok()) return s;
  const auto b0 = static_cast<uint8_t>(raw[0]);
  const auto b1 = static_cast<uint8_t>(raw[1]);
  const uint8_t role = static_cast<uint8_t>(((b0 & 7) << 5) | ((b1 & 248) >> 3));
  if ((b0 & 248) != kNkeyPrefixSeed || role != kNkeyPrefixUser) {
    return Bad("is not a user's nkey seed");
  }
  NkeySeed seed;
  std::copy(raw.begin() + 2, raw.end(), seed.begin());
  sodium_memzero(raw.data(), raw.size());
  return seed;
}

std::string EncodeUserPublicKey(const NkeyPublic& key) {
  std::string raw(1, static_cast<char>(kNkeyPrefixUser));
  raw.append(reinterpret_cast<const char*>(key.data()), key.size());
  return EncodeChecked(std::move(raw));
}

std::string EncodeUserSeed(const NkeySeed& seed) {
  std::string raw;
  raw.push_back(static_cast<char>(kNkeyPrefixSeed | (kNkeyPrefixUser >> 5)));
  raw.push_back(static_cast<char>((kNkeyPrefixUser & 31) << 3));
  raw.append(reinterpret_cast<const char*>(seed.data()), seed.size());
  return EncodeChecked(std::move(raw));
}

NkeyPublic PublicKeyOfSeed(const NkeySeed& seed) {
  NkeyPublic pk;
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk.data(), sk, seed.data());
  sodium_memzero(sk, sizeof(sk));
  return pk;
}

std::string SignNonce(const NkeySeed& seed, std::string_view message) {
  NkeyPublic pk;
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk.data(), sk, seed.data());
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk);
  sodium_memzero(sk, sizeof(sk));
  char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return b64;
}

bool VerifyNonceSignature(const NkeyPublic& key, std::string_view message, std::string_view sig) {
  unsigned char raw[crypto_sign_BYTES];
  size_t len = 0;
  // Like nats-server: base64url without padding first, then standard base64.
  bool decoded = sodium_base642bin(raw, sizeof(raw), sig.data(), sig.size(), nullptr, &len, nullptr,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
  if (!decoded) {
    decoded = sodium_base642bin(raw, sizeof(raw), sig.data(), sig.size(), nullptr, &len, nullptr,
                                sodium_base64_VARIANT_ORIGINAL) == 0;
  }
  if (!decoded || len != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(raw, reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

}  // namespace tandem::server
