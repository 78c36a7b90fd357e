// tls_context.cc: builds the SSL_CTX of a TLS configuration (see tls_context.h).
#include "server/util/tls_context.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

namespace tandem::server {

std::string TlsErrorText(const char* fallback) {
  unsigned long e = ERR_get_error();
  if (e == 0) return fallback;
  unsigned long last = e;
  while ((e = ERR_get_error()) != 0) last = e;  // the last one is the most specific
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : fmt::format("error {:#x}", last);
}

namespace {

// A readable file, or a phrase saying why not (OpenSSL's own messages do not name errno).
Status Readable(const char* key, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::InvalidArgument(fmt::format("{}: \"{}\": {}", key, path, std::strerror(errno)));
  }
  std::fclose(f);
  return Status::OK();
}

Status Fail(const char* key, const std::string& path, const char* what) {
  return Status::InvalidArgument(
      fmt::format("{}: \"{}\": {} ({})", key, path, what, TlsErrorText()));
}

int NoPassword(char*, int, int, void*) { return 0; }

Status LoadCertAndKey(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  Status s = Readable("cert_file", cert);
  if (!s.ok()) return s;
  s = Readable("key_file", key);
  if (!s.ok()) return s;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return Fail("cert_file", cert, "not a PEM certificate");
  }
  // Read apart from the certificate so that a key that does not parse and a key that does not
  // match get different messages; an encrypted key is refused, never prompted for.
  FILE* f = std::fopen(key.c_str(), "rb");
  EVP_PKEY* pkey = f != nullptr ? PEM_read_PrivateKey(f, nullptr, NoPassword, nullptr) : nullptr;
  if (f != nullptr) std::fclose(f);
  if (pkey == nullptr) return Fail("key_file", key, "not a PEM private key without a passphrase");
  const int used = SSL_CTX_use_PrivateKey(ctx, pkey);
  EVP_PKEY_free(pkey);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(
        fmt::format("key_file: \"{}\" does not match the certificate in \"{}\"", key, cert));
  }
  return Status::OK();
}

Status LoadCa(SSL_CTX* ctx, const std::string& ca) {
  Status s = Readable("ca_file", ca);
  if (!s.ok()) return s;
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
    return Fail("ca_file", ca, "not a PEM certificate");
  }
  return Status::OK();
}

struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::Server(const TlsOptions& o) {
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::IOError("tls: cannot create a context", TlsErrorText());
  if (o.cert_file.empty()) return Status::InvalidArgument("cert_file: must be set");
  if (o.key_file.empty()) return Status::InvalidArgument("key_file: must be set");
  const int min = o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx.get(), min);
  // Smaller idle buffers: OpenSSL frees a connection's record buffers between records.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_ENABLE_PARTIAL_WRITE);
  // TLS 1.3 suites in nats-server's order (Go's, on a CPU with AES instructions): AES-128-GCM
  // first, chosen by the server rather than by the client's list (OpenSSL clients put
  // AES-256-GCM first, which costs about a third more per byte for no practical gain).
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_ciphersuites(ctx.get(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                           "TLS_CHACHA20_POLY1305_SHA256");
  Status s = LoadCertAndKey(ctx.get(), o.cert_file, o.key_file);
  if (!s.ok()) return s;
  const bool verify = o.verify || o.verify_and_map;
  if (!o.ca_file.empty()) {
    s = LoadCa(ctx.get(), o.ca_file);
    if (!s.ok()) return s;
  }
  if (verify) {
    if (o.ca_file.empty()) {
      return Status::InvalidArgument("ca_file: must be set when verify or verify_and_map is on");
    }
    // The CA names sent in the CertificateRequest: the client picks a matching certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx.get(), names);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  static const unsigned char kSessionContext[] = "tandem";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof(kSessionContext) - 1);
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), true, verify));
}

Result<std::shared_ptr<TlsContext>> TlsContext::Client(const TlsClientOptions& o) {
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::IOError("tls: cannot create a context", TlsErrorText());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  Status s;
  if (!o.ca_file.empty()) {
    s = LoadCa(ctx.get(), o.ca_file);
  } else if (!o.system_trust) {
    s = Status::InvalidArgument("ca_file: must be set");
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    s = Status::IOError("tls: cannot load the system's trusted CAs", TlsErrorText());
  }
  if (!s.ok()) return s;
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    if (o.cert_file.empty()) return Status::InvalidArgument("cert_file: must be set with key_file");
    if (o.key_file.empty()) return Status::InvalidArgument("key_file: must be set with cert_file");
    s = LoadCertAndKey(ctx.get(), o.cert_file, o.key_file);
    if (!s.ok()) return s;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), false, true));
}

}  // namespace tandem::server
