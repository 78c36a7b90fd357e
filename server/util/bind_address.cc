// bind_address.cc: ResolveBindHost (see bind_address.h).
#include "server/util/bind_address.h"

#include <netdb.h>

#include <memory>

#include <arpa/inet.h>
#include <sys/socket.h>

namespace tandem::server {

Result<std::string> ResolveBindHost(const std::string& host) {
  in6_addr literal{};
  if (inet_pton(AF_INET, host.c_str(), &literal) == 1 ||
      inet_pton(AF_INET6, host.c_str(), &literal) == 1) {
    return host;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) return Status::InvalidArgument(gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(res, freeaddrinfo);
  const addrinfo* pick = nullptr;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
    if (a->ai_family == AF_INET6 && pick == nullptr) pick = a;
  }
  if (pick == nullptr) return Status::InvalidArgument("no IPv4 or IPv6 address");
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr =
      pick->ai_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(pick->ai_addr)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(pick->ai_addr)->sin6_addr);
  inet_ntop(pick->ai_family, addr, text, sizeof(text));
  return std::string(text);
}

}  // namespace tandem::server
