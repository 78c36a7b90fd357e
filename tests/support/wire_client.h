// wire_client.h: a raw-socket NATS test client: send bytes, expect replies matched by regex,
// every wait bounded.
//
// Bytes read are accumulated; Expect(re) waits until the unconsumed bytes contain a match of
// `re` (std::regex_search, ECMAScript) and then consumes everything up to the end of the match.
// On timeout it returns false and leaves the bytes for the failure message (pending()).
//
// Ownership: owns its socket. Thread safety: use from one thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace tandem::test {

class WireClient {
 public:
  using ms = std::chrono::milliseconds;

  WireClient() = default;
  ~WireClient();
  WireClient(const WireClient&) = delete;
  WireClient& operator=(const WireClient&) = delete;

  // Connects to 127.0.0.1:port (retrying while refused, until `timeout`).
  bool Connect(int port, ms timeout = ms(5000));
  // Connect, expect INFO, send `CONNECT <json>` and PING, expect PONG (after +OK if verbose).
  bool Handshake(int port, std::string_view connect_json = R"({"verbose":false,"pedantic":false})");
  bool Send(std::string_view bytes);
  // Sends `bytes` followed by PING and waits for the PONG: the server has processed `bytes`.
  bool SendAndPong(std::string_view bytes, ms timeout = ms(5000));
  // Waits for `re` in the unconsumed input; consumes through the match. The match (whole and
  // groups) is available from last_match() afterwards.
  bool Expect(const std::string& re, ms timeout = ms(5000));
  // True if nothing at all arrives within `quiet`.
  bool ExpectNothing(ms quiet = ms(200));
  // True once the server closed the connection (reads and drops data until EOF).
  bool WaitClosed(ms timeout = ms(5000));
  void Close();

  const std::string& pending() const { return buf_; }
  const std::string& last_match() const { return last_match_; }
  bool closed() const { return eof_; }
  int fd() const { return fd_; }

 private:
  // Reads what is available within `timeout`; false on timeout or EOF.
  bool ReadSome(ms timeout);

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
  std::string last_match_;
};

}  // namespace tandem::test
