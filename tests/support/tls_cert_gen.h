// tls_cert_gen.h: test certificates made at run time with the openssl CLI (never committed): a
// CA, a server certificate for localhost and 127.0.0.1 signed by it, a client certificate signed
// by it (with an email SAN, for verify_and_map), one for bob (no SAN: its subject is its only
// identity), and a second, unrelated CA with a client
// certificate of its own (the "wrong CA" cases). EC P-256 keys: generating them is instant.
//
// Header-only, with nothing but the C++ library and popen, so that programs that do not link
// the test support library (the failover drill) make the same files as the tests
// (tests/support/tls_certs.h). Ownership: plain values; files go into a directory the caller
// owns. Thread safety: plain functions.
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

namespace tandem::test {

struct TlsCerts {
  std::string ca, server_cert, server_key, client_cert, client_key;
  std::string bob_cert, bob_key;  // subject "CN=bob,O=tandem tests", no SAN
  std::string other_ca, other_client_cert, other_client_key;

  // Generates everything into `dir`; false (with the openssl output in *error) on failure.
  bool Generate(const std::string& dir, std::string* error);
};

namespace cert_gen {

inline bool Run(const std::string& cmd, std::string* error) {
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
inline bool MakeCa(const std::string& dir, const std::string& name, std::string* error) {
  return Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
             " -subj '/O=tandem tests/CN=" + name + "' -keyout " + dir + "/" + name + ".key"
             " -out " + dir + "/" + name + ".pem",
             error);
}

// A key and a certificate signed by `ca` with the given subject and extensions.
inline bool MakeLeaf(const std::string& dir, const std::string& ca, const std::string& name,
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

}  // namespace cert_gen

inline bool TlsCerts::Generate(const std::string& dir, std::string* error) {
  using cert_gen::MakeCa;
  using cert_gen::MakeLeaf;
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

}  // namespace tandem::test
