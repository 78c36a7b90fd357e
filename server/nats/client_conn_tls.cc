// client_conn_tls.cc: the TLS transport of a client connection (see client_conn.h): feeding
// ciphertext to its TlsSession, the handshake and its deadline, sealing outbound plaintext.
// The protocol above it is unchanged: the parser sees the same bytes as on a plain connection.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "server/nats/client_conn.h"

namespace tandem::server {

void ClientConn::OnTlsRead(const uv_buf_t* buf, size_t n) {
  // The ciphertext is copied into the session first: the loop-wide buffer then takes the
  // plaintext.
  const TlsSession::Pumped r = tls_->Pump(
      buf->base, n, buf->base, buf->len,
      [this] {
        if (host_->options().tls.verify_and_map) {
          tls_identities_ = tls_->PeerIdentities();
          spdlog::debug("client {}: TLS handshake complete ({}), certificate identities: {}",
                        Describe(), tls_->version(), fmt::join(tls_identities_, ", "));
        } else {
          spdlog::debug("client {}: TLS handshake complete ({})", Describe(), tls_->version());
        }
        return true;
      },
      [this](const char* data, size_t len) {
        ParseError e = parser_.Feed(data, len);
        if (e != ParseError::kNone) {
          HandleParseError(e);
          return false;
        }
        return !closing_;
      });
  switch (r) {
    case TlsSession::Pumped::kStopped:
      return;
    case TlsSession::Pumped::kHandshakeFailed:
      // nats-server logs the failure and closes without an -ERR (a plain client's CONNECT, or
      // garbage, is not a TLS record; a refused certificate ends in a TLS alert).
      spdlog::info("client {}: TLS handshake error: {}", Describe(), tls_->error());
      Close(CloseReason::kTlsHandshakeError);
      return;
    case TlsSession::Pumped::kFailed:
      spdlog::debug("client {}: TLS read: {}", Describe(), tls_->error());
      Close(CloseReason::kClientClosed);
      return;
    case TlsSession::Pumped::kWaiting:
      if (tls_->has_output()) RequestFlush();
      return;
  }
}

void ClientConn::SealTls() {
  // REQUIRES: no write pending, so out_ holds plaintext only (and handshake records).
  while (tls_->open() && !out_.empty()) {
    uv_buf_t chunk;
    out_.Peek(&chunk, 1);
    if (!tls_->Write(std::string_view(chunk.base, chunk.len))) {
      out_.Clear();
      spdlog::info("client {}: TLS write failed: {}", Describe(), tls_->error());
      if (!closing_) Close(CloseReason::kWriteError);
      return;
    }
    out_.Consume(chunk.len);
  }
  std::string sealed;
  tls_->TakeOutput(&sealed);
  out_.Append(sealed);
}

void ClientConn::CheckTlsTimeout(uint64_t now_ms) {
  const uint64_t timeout = host_->options().tls.timeout_ms;
  if (timeout == 0 || now_ms - start_ms_ < timeout) return;
  // nats-server's answer, in plain text since no TLS session exists yet.
  spdlog::info("client {}: TLS handshake timeout after {} ms", Describe(), now_ms - start_ms_);
  Close(CloseReason::kTlsHandshakeError, "Secure Connection - TLS Required");
}

}  // namespace tandem::server
