// ft_credentials.h: the pair's own login (`ft: {user, password, token, nkey_seed_file}`) as the
// credential fields of a CONNECT on a member's client port: the one place they are made, for
// the peer link's CONNECT and for the configuration's check that this member's core would
// accept them (server/config_auth.cc).
//
// Ownership: plain values. Thread safety: plain function.
#pragma once

#include <string_view>

#include "ft/ft_options.h"
#include "server/nats/auth.h"

namespace tandem::server {

// user/pass and token as configured; with an nkey seed, its public key and, when `nonce` is not
// empty, the signature of the nonce (the seed is wiped from memory after use). A seed that does
// not decode (refused when the configuration is read) gives no nkey.
ConnectCredentials PairConnectCredentials(const ft::FtCredentials& credentials,
                                          std::string_view nonce);

}  // namespace tandem::server
