// nats_client_reader.h: the client side of the NATS protocol, server -> client ops, as a state
// machine with no sockets (the counterpart of server/nats/parser, which reads client -> server
// ops). The grammar of both directions is in server/nats/PROTOCOL.md.
//
// Used by PeerLink (ft_peer_link.cc), the loop-native client that carries ft heartbeats. Feed()
// consumes any split of the byte stream and calls NatsClientHandler once per complete op:
//
//   INFO <json>
//   MSG <subject> <sid> [reply] <size>             then <size> bytes and "\r\n"
//   HMSG <subject> <sid> [reply] <hdr> <total>     then <total> bytes (headers first) and "\r\n"
//   PING, PONG, +OK
//   -ERR <text>                                    the text without its single quotes
//
// Op names match case-insensitively; blanks (spaces, tabs) separate arguments; a control line
// ends in "\r\n" or a bare "\n". Limits: a control line (op and arguments, without the line
// end) longer than max_control_line, and a MSG size or HMSG total above max_payload, are errors;
// so are an unknown op, a wrong argument count or a bad size, and a payload not followed by
// exactly "\r\n". After an error the reader stays failed until Reset(); a handler that returns
// false leaves it failed too (kStopped).
//
// Views handed to the handler point into the buffer given to Feed() or into the reader's own
// copy of an op that was split across Feed() calls; they are valid only during the call.
//
// Ownership: the reader borrows the handler, which must outlive it.
// Thread safety: none; one reader per connection, loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::server {

enum class ReadError {
  kNone,
  kUnknownOp,       // a line whose op is none of the above (or an empty line)
  kMaxControlLine,  // a control line over max_control_line
  kMaxPayload,      // MSG size or HMSG total over max_payload
  kBadArgs,         // wrong argument count, a size that is not a number, hdr > total
  kBadPayloadEnd,   // the payload is not followed by exactly "\r\n"
  kStopped,         // a handler returned false
};

// A short English description, for log lines.
std::string_view ReadErrorText(ReadError e);

struct MsgArgs {
  std::string_view subject;
  std::string_view sid;
  std::string_view reply;    // empty when absent
  std::string_view headers;  // HMSG only: the header block
  std::string_view payload;  // HMSG: the bytes after the header block
  bool has_headers = false;  // true for HMSG
};

// Each callback returns true to go on reading, false to stop (Feed returns kStopped).
class NatsClientHandler {
 public:
  virtual ~NatsClientHandler() = default;
  virtual bool OnInfo(std::string_view json) = 0;
  virtual bool OnMsg(const MsgArgs& msg) = 0;
  virtual bool OnPing() = 0;
  virtual bool OnPong() = 0;
  virtual bool OnOk() = 0;
  virtual bool OnErr(std::string_view text) = 0;
};

struct ClientReaderLimits {
  // An INFO from a clustered nats-server lists connect_urls and can exceed the 4 KiB the servers
  // allow clients, so the default is larger.
  size_t max_control_line = 16 * 1024;
  size_t max_payload = 1024 * 1024;
};

class NatsClientReader {
 public:
  NatsClientReader(NatsClientHandler* handler, ClientReaderLimits limits);
  NatsClientReader(const NatsClientReader&) = delete;
  NatsClientReader& operator=(const NatsClientReader&) = delete;

  // Consumes `len` bytes; kNone when all were consumed, else the first error (then also
  // error_snippet(), a quoted excerpt of the offending bytes, for logs).
  ReadError Feed(const char* data, size_t len);
  // Forgets any partial op and a previous error (a new connection).
  void Reset();

  ReadError error() const { return error_; }
  const std::string& error_snippet() const { return error_snippet_; }
  // Bytes held for an op split across Feed() calls.
  size_t buffered() const { return line_.size() + payload_.size(); }

 private:
  enum class State : uint8_t { kLine, kPayload };
  struct Span {  // an argument as an offset into its control line
    uint32_t off = 0;
    uint32_t len = 0;
  };

  size_t ReadLine(const char* data, size_t len, size_t i);
  size_t ReadPayload(const char* data, size_t len, size_t i);
  void ProcessLine(const char* line, size_t n, bool owned);
  void StartMsg(const char* line, size_t n, bool owned, const Span* args, size_t nargs);
  void DispatchMsg(const char* payload);
  void EndMsg();
  void Handled(bool go_on);
  void Fail(ReadError e, std::string_view bytes);

  // Constant after construction.
  NatsClientHandler* const handler_;
  const ClientReaderLimits limits_;

  State state_ = State::kLine;
  ReadError error_ = ReadError::kNone;
  std::string error_snippet_;
  // A control line split across Feed() calls, so far; and while a MSG payload is split, the
  // whole control line of that MSG (msg_line_ then points into it).
  std::string line_;
  std::string payload_;  // a split payload so far, with its "\r\n"
  // The MSG/HMSG in flight: its control line (in line_, or in the caller's buffer while the
  // payload is read from that same buffer) and its arguments as offsets into that line.
  const char* msg_line_ = nullptr;
  size_t msg_line_len_ = 0;
  bool msg_line_owned_ = false;  // msg_line_ points into line_
  bool has_headers_ = false;
  Span subject_, sid_, reply_;
  size_t header_size_ = 0;
  size_t payload_size_ = 0;  // bytes after the control line, without the final "\r\n"
};

}  // namespace tandem::server
