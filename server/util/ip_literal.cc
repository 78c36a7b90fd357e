// ip_literal.cc: numeric host + port -> sockaddr (see ip_literal.h).
#include "server/util/ip_literal.h"

#include <uv.h>

namespace tandem::server {

bool IpLiteralAddress(const std::string& host, int port, sockaddr_storage* addr) {
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(addr)) == 0) return true;
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(addr)) == 0;
}

}  // namespace tandem::server
