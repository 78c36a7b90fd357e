// tls_session.h: one TLS connection driven through memory BIOs, for code that owns its socket
// on the libuv loop (client connections, monitoring connections, the peer link).
//
// Why memory BIOs: the loop owns the sockets (libuv reads and writes them, without blocking and
// without a thread per connection), so OpenSSL never touches a file descriptor. The write side
// is a small BIO of our own that appends records to a string the owner takes whole (a memory
// BIO would cost one more copy of everything sent). The owner feeds
// the ciphertext it read into the session (PutCipher), drives the handshake (Handshake) and
// reads plaintext back (Read); it hands plaintext to Write and takes the ciphertext to send
// from TakeOutput. Nothing here blocks, waits or starts a thread.
//
// Order on the wire: bytes written before the handshake (nats-server's plain-text INFO) are
// the owner's business; every byte the session produces comes out of TakeOutput in order.
//
// Ownership: borrows the TlsContext (which must outlive it); owns its SSL and BIOs.
// Thread safety: one thread (the loop).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace tandem::server {

class TlsContext;

class TlsSession {
 public:
  // `host` (client side only): the name or IP literal the server's certificate must match.
  explicit TlsSession(const TlsContext& context, const std::string& host = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext read from the socket.
  void PutCipher(const char* data, size_t n);
  // Advances the handshake: 1 done, 0 needs more bytes from the peer, -1 failed (error()).
  // A client-side session produces its ClientHello on the first call.
  int Handshake();
  bool open() const { return open_; }
  // Plaintext into buf: >0 bytes, 0 nothing more for now, -1 failed or closed by the peer
  // (error()).
  long Read(char* buf, size_t cap);
  // Encrypts `plain` (REQUIRES: open()). False on failure (error()).
  bool Write(std::string_view plain);
  // Appends ciphertext waiting for the socket (handshake records, alerts, Write's records).
  void TakeOutput(std::string* out);

  // What Pump did with the ciphertext it was given.
  enum class Pumped {
    kWaiting,          // all of it used; waiting for more from the peer
    kStopped,          // a callback returned false: the owner closed (the session may be gone)
    kHandshakeFailed,  // error() says why
    kFailed,           // reading failed or the peer closed: error() says why
  };
  // The one read path of every owner: feeds `n` bytes of ciphertext, advances the handshake,
  // then reads all the plaintext there is into `buf` (`cap` bytes; it may be the buffer that
  // held the ciphertext, which is copied in first) and hands each piece to
  // `on_plain(const char*, size_t)`. `on_open()` runs once, when the handshake completes,
  // before any plaintext. A callback returns false when the owner closed; Pump then returns
  // at once without touching the session. The ciphertext produced meanwhile (handshake
  // records, alerts, answers to post-handshake messages) stays here for TakeOutput: the owner
  // takes it after every Pump that did not stop.
  template <typename OnOpen, typename OnPlain>
  Pumped Pump(const char* cipher, size_t n, char* buf, size_t cap, OnOpen&& on_open,
              OnPlain&& on_plain) {
    PutCipher(cipher, n);
    if (!open_) {
      const int r = Handshake();
      if (r < 0) return Pumped::kHandshakeFailed;
      if (r == 0) return Pumped::kWaiting;
      if (!on_open()) return Pumped::kStopped;
    }
    for (;;) {
      const long got = Read(buf, cap);
      if (got == 0) return Pumped::kWaiting;
      if (got < 0) return Pumped::kFailed;
      if (!on_plain(static_cast<const char*>(buf), static_cast<size_t>(got))) {
        return Pumped::kStopped;
      }
    }
  }
  bool has_output() const;
  // Why the last call failed, e.g. "wrong version number" or
  // "certificate verify failed: unable to get local issuer certificate".
  const std::string& error() const { return error_; }
  // The negotiated protocol, e.g. "TLSv1.3".
  const char* version() const;
  // The negotiated cipher suite's standard (IANA) name, e.g. "TLS_AES_128_GCM_SHA256"; "" before
  // the handshake.
  const char* cipher() const;
  // The verified peer certificate's identities (tls_identity.h), empty without one.
  std::vector<std::string> PeerIdentities() const;

 private:
  void SetError(int ret);

  SSL* ssl_;
  std::string output_;  // ciphertext to the peer, appended by wbio_; declared before it
  BIO* rbio_;           // ciphertext from the peer (a memory BIO); owned by ssl_
  BIO* wbio_;           // writes into output_; owned by ssl_
  bool open_ = false;
  std::string error_;
};

}  // namespace tandem::server
