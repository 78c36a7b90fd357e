// tls_context.h: one OpenSSL SSL_CTX per configuration: the server side (client port,
// monitoring port) or the client side (the peer link). Loading checks every file at start and
// names it in the error: a missing or unreadable file, a file that is not PEM, a key that does
// not match its certificate. Sessions (tls_session.h) are created from it.
//
// Ownership: a TlsContext owns its SSL_CTX; share it with std::shared_ptr. Thread safety: the
// SSL_CTX is only read once built (OpenSSL allows that from any thread).
#pragma once

#include <memory>
#include <string>

#include "server/util/tls_options.h"
#include "store/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace tandem::server {

class TlsContext {
 public:
  // Errors are InvalidArgument with a phrase naming the key and the file, e.g.
  // `cert_file: "a.pem": No such file or directory`.
  static Result<std::shared_ptr<TlsContext>> Server(const TlsOptions& options);
  static Result<std::shared_ptr<TlsContext>> Client(const TlsClientOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  bool server() const { return server_; }
  bool verify() const { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server, bool verify)
      : ctx_(ctx), server_(server), verify_(verify) {}
  SSL_CTX* const ctx_;
  const bool server_;
  const bool verify_;
};

// OpenSSL's reason for the last failure on this thread (and clears the queue), or `fallback`.
std::string TlsErrorText(const char* fallback = "unknown TLS error");

}  // namespace tandem::server
