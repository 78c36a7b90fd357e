// tls_certs.cc: test certificates with the openssl CLI, and a small HTTPS client (see
// tls_certs.h).
#include "tests/support/tls_certs.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <memory>

namespace tandem::test {

TlsCertDir::TlsCertDir() {
  std::string error;
  REQUIRE_MESSAGE(files.Generate(dir.path(), &error), error);
}

natsStatus ConnectTls(natsConnection** nc, int port, const std::string& ca,
                      const std::string& cert, const std::string& key) {
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  if (s == NATS_OK) s = natsOptions_SetURL(o, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(o, ca.c_str());
  if (s == NATS_OK) s = natsOptions_SetExpectedHostname(o, "localhost");
  if (s == NATS_OK && !cert.empty())
    s = natsOptions_LoadCertificatesChain(o, cert.c_str(), key.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, 5000);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, false);
  if (s == NATS_OK) s = natsConnection_Connect(nc, o);
  natsOptions_Destroy(o);
  return s;
}

int ConnectLoopback(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::optional<std::string> HttpsGet(int port, const std::string& ca, const std::string& path,
                                    int timeout_ms) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1) return {};
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  int fd = ConnectLoopback(port, timeout_ms);
  if (fd < 0) return {};
  std::optional<std::string> result;
  SSL* ssl = SSL_new(ctx.get());
  SSL_set_fd(ssl, fd);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  if (SSL_connect(ssl) == 1) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0) {
      std::string out;
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) out.append(buf, n);
      if (!out.empty()) result = out;
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
  close(fd);
  return result;
}

}  // namespace tandem::test
