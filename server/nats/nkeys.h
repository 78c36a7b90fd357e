// nkeys.h: the NATS nkey text formats and the Ed25519 operations on them, as nats-server and
// its clients use them for nkey users.
//
// A public key is RFC 4648 base32 (no padding) of: one prefix byte (the key's role; 'U' for a
// user, byte 20 << 3), the 32-byte Ed25519 public key, and a CRC-16 (XMODEM: polynomial
// 0x1021, initial value 0) of the preceding bytes, little-endian: 56 characters starting with
// 'U'. A seed is base32 of two prefix bytes (the seed byte 18 << 3 combined with the role's
// prefix), the 32-byte Ed25519 seed and the same CRC: 58 characters starting with "SU".
//
// The signatures are libsodium's (crypto_sign_*). Base32 and the CRC are written here because
// neither libsodium nor OpenSSL offers them, and they are a few lines each.
//
// Thread safety: pure functions (libsodium must be initialised: sodium_init, done by the
// Authenticator).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/status.h"

namespace tandem::server {

inline constexpr uint8_t kNkeyPrefixUser = 20 << 3;  // 'U'
inline constexpr uint8_t kNkeyPrefixSeed = 18 << 3;  // 'S'

using NkeyPublic = std::array<uint8_t, 32>;
using NkeySeed = std::array<uint8_t, 32>;

uint16_t NkeyCrc16(const uint8_t* data, size_t n);
std::string Base32Encode(const uint8_t* data, size_t n);
// False on a character outside A-Z, 2-7 or on non-zero trailing bits.
bool Base32Decode(std::string_view text, std::string* out);

// A user's public key ("U..."): InvalidArgument with a phrase saying what is wrong (length,
// characters, role, checksum).
Result<NkeyPublic> DecodeUserPublicKey(std::string_view text);
// A user's seed ("SU..."), likewise.
Result<NkeySeed> DecodeUserSeed(std::string_view text);
// The texts of a user's public key and seed made from raw keys (the tests build keys with these).
std::string EncodeUserPublicKey(const NkeyPublic& key);
std::string EncodeUserSeed(const NkeySeed& seed);

// The public key of a seed.
NkeyPublic PublicKeyOfSeed(const NkeySeed& seed);
// The Ed25519 signature of `message` with `seed`, in base64url without padding (what clients
// send as CONNECT `sig`).
std::string SignNonce(const NkeySeed& seed, std::string_view message);
// True when `sig` (base64url without padding, or standard base64) is `key`'s signature of
// `message`.
bool VerifyNonceSignature(const NkeyPublic& key, std::string_view message, std::string_view sig);

}  // namespace tandem::server
