// ip_literal.h: a numeric host and a port as a socket address, the one way the listeners and the
// peer link turn an IPv4 or IPv6 literal into something to bind or connect to (no DNS: names
// are resolved elsewhere, or not at all).
//
// Thread safety: a pure function.
#pragma once

#include <string>

#include <sys/socket.h>

namespace tandem::server {

// Fills `addr` when `host` is an IPv4 literal ("127.0.0.1") or else an IPv6 one ("::1", no
// brackets); false, with `addr` unspecified, for anything else.
bool IpLiteralAddress(const std::string& host, int port, sockaddr_storage* addr);

}  // namespace tandem::server
