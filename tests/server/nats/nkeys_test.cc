// nkeys_test.cc: nkey texts (server/nats/nkeys.h): base32, the CRC-16, user keys and seeds
// both ways with their checks, and Ed25519 signatures of a nonce in both base64 forms.
#include "server/nats/nkeys.h"

#include <sodium.h>

#include <string>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

NkeySeed RandomSeed() {
  REQUIRE(sodium_init() >= 0);
  NkeySeed seed;
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

}  // namespace

TEST_SUITE("nkeys") {
  TEST_CASE("nkeys: CRC-16/XMODEM and base32 of known values") {
    const std::string check = "123456789";
    CHECK(NkeyCrc16(reinterpret_cast<const uint8_t*>(check.data()), check.size()) == 0x31C3);
    const std::string foobar = "foobar";
    CHECK(Base32Encode(reinterpret_cast<const uint8_t*>(foobar.data()), foobar.size()) ==
          "MZXW6YTBOI");  // RFC 4648's example, without padding
    std::string back;
    REQUIRE(Base32Decode("MZXW6YTBOI", &back));
    CHECK(back == foobar);
    CHECK_FALSE(Base32Decode("MZXW6YTBO1", &back));
  }

  TEST_CASE("nkeys: user keys and seeds round-trip and are checked") {
    const NkeySeed seed = RandomSeed();
    const std::string seed_text = EncodeUserSeed(seed);
    const std::string pub_text = EncodeUserPublicKey(PublicKeyOfSeed(seed));
    CHECK(seed_text.size() == 58);
    CHECK(seed_text.rfind("SU", 0) == 0);
    CHECK(pub_text.size() == 56);
    CHECK(pub_text[0] == 'U');
    auto s = DecodeUserSeed(seed_text);
    REQUIRE(s.ok());
    CHECK(*s == seed);
    auto p = DecodeUserPublicKey(pub_text);
    REQUIRE(p.ok());
    CHECK(*p == PublicKeyOfSeed(seed));

    std::string flipped = pub_text;
    flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
    CHECK(DecodeUserPublicKey(flipped).status().message() == "has a wrong checksum");
    CHECK(DecodeUserPublicKey(pub_text.substr(0, 50)).status().message() ==
          "has 50 characters, not 56");
    CHECK_FALSE(DecodeUserPublicKey(seed_text).ok());
    CHECK_FALSE(DecodeUserPublicKey("N" + pub_text.substr(1)).ok());
    CHECK_FALSE(DecodeUserSeed(pub_text).ok());
    CHECK(DecodeUserPublicKey(pub_text.substr(0, 55) + "1").status().message() ==
          "is not base32 (A-Z, 2-7)");
  }

  TEST_CASE("nkeys: a signature of the nonce verifies, in base64url or standard base64") {
    const NkeySeed seed = RandomSeed();
    const NkeyPublic pub = PublicKeyOfSeed(seed);
    const std::string sig = SignNonce(seed, "nonce-123");
    CHECK(sig.size() == 86);
    CHECK(VerifyNonceSignature(pub, "nonce-123", sig));
    CHECK_FALSE(VerifyNonceSignature(pub, "nonce-124", sig));
    CHECK_FALSE(VerifyNonceSignature(PublicKeyOfSeed(RandomSeed()), "nonce-123", sig));
    CHECK_FALSE(VerifyNonceSignature(pub, "nonce-123", "not base64!"));
    std::string standard = sig;
    for (char& c : standard) {
      if (c == '-') c = '+';
      if (c == '_') c = '/';
    }
    CHECK(VerifyNonceSignature(pub, "nonce-123", standard + "=="));
  }
}

}  // namespace tandem::server
