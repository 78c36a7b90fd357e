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

#include <cstdio>
#include <fstream>
#include <memory>

namespace tandem::test {

namespace {

bool Run(const std::string& cmd, std::string* error) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return false;
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  if (pclose(p) != 0) {
    *error = cmd + ": " + out;
    return false;
  }
  return true;
}

// A CA: key and self-signed certificate.
bool MakeCa(const std::string& dir, const std::string& name, std::string* error) {
  return Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
             " -subj '/O=tandem tests/CN=" + name + "' -keyout " + dir + "/" + name + ".key"
             " -out " + dir + "/" + name + ".pem",
             error);
}

// A key and a certificate signed by `ca` with the given subject and extensions.
bool MakeLeaf(const std::string& dir, const std::string& ca, const std::string& name,
              const std::string& subject, const std::string& ext, std::string* error) {
  const std::string base = dir + "/" + name;
  std::ofstream(base + ".ext") << ext << "\n";
  return Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '" +
                 subject + "' -keyout " + base + ".key -out " + base + ".csr",
             error) &&
         Run("openssl x509 -req -in " + base + ".csr -CA " + dir + "/" + ca + ".pem -CAkey " +
                 dir + "/" + ca + ".key -CAcreateserial -days 2 -extfile " + base + ".ext -out " +
                 base + ".pem",
             error);
}

}  // namespace

bool TlsCerts::Generate(const std::string& dir, std::string* error) {
  if (!MakeCa(dir, "ca", error) || !MakeCa(dir, "other-ca", error)) return false;
  if (!MakeLeaf(dir, "ca", "server", "/O=tandem tests/CN=localhost",
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth", error) ||
      !MakeLeaf(dir, "ca", "client", "/O=tandem tests/OU=ops/CN=alice",
                "subjectAltName=email:alice@example.com\nextendedKeyUsage=clientAuth", error) ||
      !MakeLeaf(dir, "ca", "bob", "/O=tandem tests/CN=bob", "extendedKeyUsage=clientAuth",
                error) ||
      !MakeLeaf(dir, "other-ca", "other-client", "/O=elsewhere/CN=mallory",
                "extendedKeyUsage=clientAuth", error)) {
    return false;
  }
  ca = dir + "/ca.pem";
  server_cert = dir + "/server.pem";
  server_key = dir + "/server.key";
  client_cert = dir + "/client.pem";
  client_key = dir + "/client.key";
  bob_cert = dir + "/bob.pem";
  bob_key = dir + "/bob.key";
  other_ca = dir + "/other-ca.pem";
  other_client_cert = dir + "/other-client.pem";
  other_client_key = dir + "/other-client.key";
  return true;
}

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

std::optional<std::string> HttpsGet(int port, const std::string& ca, const std::string& path,
                                    int timeout_ms) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1) return {};
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::optional<std::string> result;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
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
  }
  ERR_clear_error();
  close(fd);
  return result;
}

}  // namespace tandem::test
