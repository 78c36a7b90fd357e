// parser.h: the NATS client-protocol parser (client -> server ops), a byte-at-a-time state
// machine with no sockets and no server state.
//
// Feed() consumes any split of the byte stream and calls ParserHandler once per complete op.
// Arguments and payloads are views into the buffer passed to Feed() in the common case; only an
// op cut off by the end of a Feed() is copied into the parser's own scratch buffer. The views
// handed to a handler are valid only during that call: a handler that keeps one copies it.
//
// Ops: CONNECT <json>, PUB <subj> [reply] <n>, HPUB <subj> [reply] <hdr> <total>,
// SUB <subj> [queue] <sid>, UNSUB <sid> [max], PING, PONG. Op names match case-insensitively;
// arguments are separated by runs of spaces or tabs; a line ends in "\r\n" or a bare "\n".
// Limits: a control line longer than max_control_line and a payload larger than max_payload
// are errors that close the connection. The control line length counted is that of the op's
// arguments: from the first byte after the op name and its blanks up to the line end, without the
// "\r\n" or "\n" (the measure nats-server applies). For HPUB the payload limit applies to the total
// size. After an error the parser stays failed until Reset(); a handler that returns false
// also leaves it failed (kStopped). The whole grammar, with what the connection does with each
// op and error: server/nats/PROTOCOL.md.
//
// Ownership: the parser borrows the handler, which must outlive it.
//
// Thread safety: none; one parser per connection, loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::server {

enum class ParseError {
  kNone,
  kUnknownOp,       // -ERR 'Unknown Protocol Operation'
  kMaxControlLine,  // -ERR 'maximum control line exceeded'
  kMaxPayload,      // -ERR 'Maximum Payload Violation'
  kBadArgs,         // wrong argument count, bad size or max: close without -ERR
  kBadPayloadEnd,   // payload not followed by exactly "\r\n": -ERR 'Unknown Protocol Operation'
  kStopped,         // a handler asked to stop (connection closing)
};

// The -ERR text for an error (without quotes), or "" when none is sent.
std::string_view ParseErrorText(ParseError e);

struct PubArgs {
  std::string_view subject;
  std::string_view reply;    // empty when absent
  std::string_view headers;  // HPUB only: the header block, "NATS/1.0...\r\n\r\n"
  std::string_view payload;  // HPUB: the bytes after the header block
  bool has_headers = false;  // true for HPUB
};

// Each callback returns true to continue parsing, false to stop (Feed returns kStopped).
class ParserHandler {
 public:
  virtual ~ParserHandler() = default;
  virtual bool OnConnect(std::string_view json) = 0;
  virtual bool OnPub(const PubArgs& pub) = 0;
  virtual bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) = 0;
  // max < 0 when absent; a present max is a decimal number >= 0 (0 is passed through).
  virtual bool OnUnsub(std::string_view sid, int64_t max) = 0;
  virtual bool OnPing() = 0;
  virtual bool OnPong() = 0;
};

struct ParserLimits {
  size_t max_control_line = 4096;
  size_t max_payload = 1024 * 1024;
};

class Parser {
 public:
  Parser(ParserHandler* handler, ParserLimits limits);
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  ~Parser();

  // Consumes `len` bytes. Returns kNone when all were consumed, else the first error; the
  // offset of the failing byte is then error_offset() and a quoted snippet error_snippet().
  // Errors found when a control line ends (kBadArgs, kMaxPayload, some kMaxControlLine) give
  // the offset of its '\n' and quote the line's arguments; kStopped gives the offset just past
  // the op whose handler returned false.
  ParseError Feed(const char* data, size_t len);
  void Reset();

  size_t error_offset() const { return error_offset_; }
  const std::string& error_snippet() const { return error_snippet_; }
  // The state the parser failed in (or is in), e.g. "kPubArg", for log lines (a parse error
  // is logged with its state, offset and a quoted snippet of the bytes).
  const char* state_name() const;
  // Bytes currently buffered for a split op (for memory accounting and tests).
  size_t buffered() const { return scratch_.size(); }
  // Capacity of the split-op buffer, for tests that check steady-state parsing allocates
  // nothing.
  size_t TEST_ScratchCapacity() const { return scratch_.capacity(); }

 private:
  // The implementation (parser.cc) owns the state enum and the helpers.
  enum class State : uint8_t;
  struct Span {  // an argument as an offset into the current control line
    uint32_t off = 0;
    uint32_t len = 0;
  };

  size_t ProcessLine(const char* data, size_t len, size_t i);
  size_t DispatchLine(const char* line, size_t n, const char* data, size_t len, size_t nl);
  size_t StartPayload(const char* line, size_t n, const char* data, size_t len, size_t nl);
  bool DispatchPub(const char* line, const char* payload);
  size_t EndOp(bool ok, const char* data, size_t len, size_t next);
  void ResetOp();
  ParseError Fail(ParseError e, const char* data, size_t len, size_t at);
  ParseError FailLine(ParseError e, const char* line, size_t n, size_t at);

  // Constant after construction.
  ParserHandler* const handler_;
  const ParserLimits limits_;

  // Split-op buffer: the unconsumed control line and, for a split PUB/HPUB, the payload after
  // it. Reserved at construction so ordinary ops never allocate.
  std::string scratch_;
  size_t error_offset_ = 0;
  std::string error_snippet_;
  ParseError error_ = ParseError::kNone;
  State state_;
  bool has_headers_ = false;  // the op in flight is HPUB
  // PUB/HPUB arguments of the op in flight (offsets into its control line).
  Span subject_;
  Span reply_;
  size_t payload_size_ = 0;  // total bytes after the control line (HPUB: headers included)
  size_t header_size_ = 0;   // HPUB header bytes
  size_t line_len_ = 0;      // control line length in scratch_ while a payload is split
};

}  // namespace tandem::server
