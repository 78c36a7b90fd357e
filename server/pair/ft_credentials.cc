// ft_credentials.cc: the pair's credentials as CONNECT fields (see ft_credentials.h).
#include "server/pair/ft_credentials.h"

#include <sodium.h>

#include "server/nats/nkeys.h"

namespace tandem::server {

ConnectCredentials PairConnectCredentials(const ft::FtCredentials& c, std::string_view nonce) {
  ConnectCredentials out{c.user, c.password, c.token, "", ""};
  if (c.nkey_seed.empty()) return out;
  auto seed = DecodeUserSeed(c.nkey_seed);
  if (!seed.ok()) return out;
  out.nkey = EncodeUserPublicKey(PublicKeyOfSeed(*seed));
  if (!nonce.empty()) out.sig = SignNonce(*seed, nonce);
  sodium_memzero(seed->data(), seed->size());
  return out;
}

}  // namespace tandem::server
