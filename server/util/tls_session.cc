// tls_session.cc: the memory-BIO TLS engine (see tls_session.h).
#include "server/util/tls_session.h"

#include "server/util/tls_context.h"
#include "server/util/tls_identity.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace tandem::server {

namespace {

// The write side: a BIO that appends every record OpenSSL writes to a std::string (its data
// pointer). A memory BIO would hold them in a buffer of its own, copied out again by
// TakeOutput; this string is handed over whole instead (see TakeOutput).
int SinkWrite(BIO* b, const char* data, int n) {
  static_cast<std::string*>(BIO_get_data(b))->append(data, static_cast<size_t>(n));
  return n;
}

long SinkCtrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
      return static_cast<long>(static_cast<std::string*>(BIO_get_data(b))->size());
    default:
      return 0;
  }
}

BIO* NewSink(std::string* out) {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tandem sink");
    BIO_meth_set_write(m, SinkWrite);
    BIO_meth_set_ctrl(m, SinkCtrl);
    return m;
  }();
  BIO* b = BIO_new(method);
  BIO_set_data(b, out);
  BIO_set_init(b, 1);
  return b;
}

}  // namespace

TlsSession::TlsSession(const TlsContext& context, const std::string& host)
    : ssl_(SSL_new(context.ctx())), rbio_(BIO_new(BIO_s_mem())), wbio_(NewSink(&output_)) {
  // A read BIO that is empty asks for more instead of reporting end of file.
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_, rbio_, wbio_);
  if (context.server()) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    if (!host.empty()) {
      in6_addr ip{};
      const bool literal =
          inet_pton(AF_INET, host.c_str(), &ip) == 1 || inet_pton(AF_INET6, host.c_str(), &ip) == 1;
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl_, host.c_str());
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
      }
    }
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::PutCipher(const char* data, size_t n) {
  if (n > 0) BIO_write(rbio_, data, static_cast<int>(n));
}

void TlsSession::SetError(int ret) {
  const int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_ZERO_RETURN) {
    error_ = "closed by the peer";
  } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) {
    error_ = TlsErrorText("connection failed");
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      error_ += ": ";
      error_ += X509_verify_cert_error_string(verify);
    }
  } else {
    error_ = "TLS error " + std::to_string(e);
  }
  ERR_clear_error();
}

int TlsSession::Handshake() {
  if (open_) return 1;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    open_ = true;
    return 1;
  }
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  SetError(r);
  return -1;
}

long TlsSession::Read(char* buf, size_t cap) {
  ERR_clear_error();
  size_t got = 0;
  const int r = SSL_read_ex(ssl_, buf, cap, &got);
  if (r == 1) return static_cast<long>(got);
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  SetError(r);
  return -1;
}

bool TlsSession::Write(std::string_view plain) {
  ERR_clear_error();
  while (!plain.empty()) {
    size_t done = 0;
    const int r = SSL_write_ex(ssl_, plain.data(), plain.size(), &done);
    if (r != 1) {
      SetError(r);
      return false;
    }
    plain.remove_prefix(done);
  }
  return true;
}

void TlsSession::TakeOutput(std::string* out) {
  if (output_.empty()) return;
  if (out->empty()) {
    out->swap(output_);  // no copy; the two buffers' capacities are reused in turn
  } else {
    out->append(output_);
  }
  output_.clear();
}

bool TlsSession::has_output() const { return !output_.empty(); }

const char* TlsSession::version() const { return SSL_get_version(ssl_); }

const char* TlsSession::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  return c == nullptr ? "" : SSL_CIPHER_standard_name(c);
}

std::vector<std::string> TlsSession::PeerIdentities() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  return CertificateIdentities(cert);
}

}  // namespace tandem::server
