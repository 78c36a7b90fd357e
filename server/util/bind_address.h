// bind_address.h: the numeric address a host of an address option binds to. Address options
// (listen, http) accept a host name as nats-server does; it is resolved once, when the
// configuration is read, so a name that does not resolve is a configuration error (exit 2)
// rather than a failed start, and the listeners bind the numeric address.
//
// Thread safety: a pure function (getaddrinfo may block on DNS: call it at start only).
#pragma once

#include <string>

#include "store/status.h"

namespace tandem::server {

// `host` itself when it is an IPv4 or IPv6 literal; otherwise its first IPv4 address, or its
// first IPv6 address when it has no IPv4 one (a name like `localhost` binds 127.0.0.1, as
// nats-server does). An error carries getaddrinfo's reason.
Result<std::string> ResolveBindHost(const std::string& host);

}  // namespace tandem::server
