// parser.cc: the NATS client-protocol state machine behind Parser::Feed (see parser.h).
//
// Called by ClientConn's read callback with each chunk read from the socket; calls the
// connection's ParserHandler once per complete op. It owns no I/O and no server state.
//
// Wire grammar (the NATS client protocol, as nats-server parses it), client -> server:
//   CONNECT <json>                                   control line only
//   PUB <subject> [reply] <size>        then <size> payload bytes and "\r\n"
//   HPUB <subject> [reply] <hdr> <total> then <total> bytes (headers first) and "\r\n"
//   SUB <subject> [queue] <sid>
//   UNSUB <sid> [max]
//   PING / PONG
// A control line ends in "\n", optionally preceded by "\r". Op letters are case-insensitive,
// blanks (spaces, tabs) separate arguments and trailing blanks are ignored.
//
// How it reads: op names go one byte at a time through the flat switch over State, whose names
// spell the prefix seen so far (kOpP, kOpPu, kOpPub, kOpPubSpc, ...). Once inside an argument
// state the rest of the control line is found with memchr and split into views in place; a
// payload that is complete in the buffer is handed over as a view and skipped in one jump. Only
// when an op is cut off by the end of the buffer is its unconsumed part copied into scratch_:
// the control line bytes, and for PUB/HPUB the payload bytes seen so far, after the line. The
// next Feed() completes the op from scratch_.
//
// Errors (with the -ERR text of nats-server):
//   kUnknownOp       a byte that no op allows, e.g. "PUX" or a blank line
//   kMaxControlLine  the argument part of a control line is longer than max_control_line
//   kMaxPayload      PUB size or HPUB total size above max_payload
//   kBadArgs         wrong argument count, a size that is not a decimal number, hdr > total
//                    (nats-server closes the connection without any -ERR for these)
//   kBadPayloadEnd   the payload is not followed by exactly "\r\n" (nats-server reports it as
//                    'Unknown Protocol Operation')
//
// Sections, in order: State; byte helpers (blank search); ParseErrorText;
// construction, Reset and failure recording; Feed (the switch); control lines (ProcessLine,
// DispatchLine); payloads (StartPayload, DispatchPub, EndOp); state_name.
#include "server/nats/parser.h"

#include <string.h>

#include <algorithm>
#include <bit>
#include <iterator>

#include "server/nats/wire_size.h"
#include "server/util/quoting.h"

namespace tandem::server {

enum class Parser::State : uint8_t {
  kOpStart,
  kOpC,
  kOpCo,
  kOpCon,
  kOpConn,
  kOpConne,
  kOpConnec,
  kOpConnect,
  kConnectArg,
  kOpH,
  kOpHp,
  kOpHpu,
  kOpHpub,
  kOpHpubSpc,
  kHpubArg,
  kOpP,
  kOpPu,
  kOpPub,
  kOpPubSpc,
  kPubArg,
  kOpPi,
  kOpPin,
  kOpPing,
  kOpPo,
  kOpPon,
  kOpPong,
  kOpS,
  kOpSu,
  kOpSub,
  kOpSubSpc,
  kSubArg,
  kOpU,
  kOpUn,
  kOpUns,
  kOpUnsu,
  kOpUnsub,
  kOpUnsubSpc,
  kUnsubArg,
  kMsgPayload,
  kMsgEndR,
  kMsgEndN,
};

namespace {

constexpr size_t kMaxArgs = 4;           // HPUB subject reply hdr total
constexpr size_t kSnippetSize = 32;      // bytes quoted from the buffer (nats PROTO_SNIPPET_SIZE)
constexpr size_t kLineSnippetSize = 64;  // bytes quoted from a bad control line
constexpr size_t kScratchSlack = 4096;   // room for small split payloads without allocating
constexpr size_t kMaxKeptScratch = 64 * 1024;

inline bool IsBlank(char b) { return b == ' ' || b == '\t'; }

inline uint64_t Load64(const char* p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

inline uint32_t Load32(const char* p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

// High bit set in each byte of v that is zero. Bits above the first zero byte may be set
// spuriously (borrow), so only the lowest set bit is meaningful, which is all we use.
inline uint64_t ZeroBytes(uint64_t v) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  return (v - kOnes) & ~v & kHighs;
}

// The first space or tab in [p, end), or end. Eight bytes at a time: argument tokens are
// subjects and inboxes of tens of bytes.
inline const char* FindBlank(const char* p, const char* end) {
  constexpr uint64_t kSpaces = 0x2020202020202020ull;
  constexpr uint64_t kTabs = 0x0909090909090909ull;
  if constexpr (std::endian::native == std::endian::little) {
    for (; end - p >= 8; p += 8) {
      const uint64_t w = Load64(p);
      const uint64_t m = ZeroBytes(w ^ kSpaces) | ZeroBytes(w ^ kTabs);
      if (m != 0) return p + (std::countr_zero(m) >> 3);
    }
  }
  while (p < end && !IsBlank(*p)) ++p;
  return p;
}

// "PUB " in any letter case, as a little-endian word compared after OR-ing 0x20 into the three
// letters (never into the blank: NUL | 0x20 would pass for a space).
constexpr uint32_t kPubWord = 'p' | 'u' << 8 | 'b' << 16 | uint32_t{' '} << 24;
constexpr uint32_t kLowerLetters3 = 0x00202020;

}  // namespace

std::string_view ParseErrorText(ParseError e) {
  switch (e) {
    case ParseError::kUnknownOp:
    case ParseError::kBadPayloadEnd:
      return "Unknown Protocol Operation";
    case ParseError::kMaxControlLine:
      return "maximum control line exceeded";
    case ParseError::kMaxPayload:
      return "Maximum Payload Violation";
    case ParseError::kNone:
    case ParseError::kBadArgs:
    case ParseError::kStopped:
      break;
  }
  return "";
}

Parser::Parser(ParserHandler* handler, ParserLimits limits)
    : handler_(handler), limits_(limits), state_(State::kOpStart) {
  scratch_.reserve(limits_.max_control_line + kScratchSlack);
}

Parser::~Parser() = default;

void Parser::Reset() {
  ResetOp();
  state_ = State::kOpStart;
  error_ = ParseError::kNone;
  error_offset_ = 0;
  error_snippet_.clear();
}

// Per-op state is cleared here and only here, after an op completes (nats MSG_END_N).
void Parser::ResetOp() {
  if (scratch_.capacity() > std::max(kMaxKeptScratch, limits_.max_control_line + kScratchSlack)) {
    std::string().swap(scratch_);  // drop the buffer of a large split payload
    scratch_.reserve(limits_.max_control_line + kScratchSlack);
  } else {
    scratch_.clear();
  }
  subject_ = Span();
  reply_ = Span();
  payload_size_ = 0;
  header_size_ = 0;
  line_len_ = 0;
  has_headers_ = false;
}

ParseError Parser::Fail(ParseError e, const char* data, size_t len, size_t at) {
  error_ = e;
  error_offset_ = at;
  error_snippet_.clear();
  const size_t n = at < len ? std::min(kSnippetSize, len - at) : 0;
  AppendCEscaped(&error_snippet_, {data + std::min(at, len), n});
  return e;
}

ParseError Parser::FailLine(ParseError e, const char* line, size_t n, size_t at) {
  error_ = e;
  error_offset_ = at;
  error_snippet_.clear();
  AppendCEscaped(&error_snippet_, {line, std::min(kLineSnippetSize, n)});
  return e;
}

ParseError Parser::Feed(const char* data, size_t len) {
  if (error_ != ParseError::kNone) return error_;
  size_t i = 0;
  while (i < len) {
    const char b = data[i];
    switch (state_) {
      case State::kOpStart:
        // Fast path for the op that carries the traffic.
        if constexpr (std::endian::native == std::endian::little) {
          if (len - i >= 4 && (Load32(data + i) | kLowerLetters3) == kPubWord) {
            state_ = State::kOpPubSpc;
            i += 4;
            continue;
          }
        }
        switch (b) {
          case 'P':
          case 'p':
            state_ = State::kOpP;
            break;
          case 'H':
          case 'h':
            state_ = State::kOpH;
            break;
          case 'S':
          case 's':
            state_ = State::kOpS;
            break;
          case 'U':
          case 'u':
            state_ = State::kOpU;
            break;
          case 'C':
          case 'c':
            state_ = State::kOpC;
            break;
          default:
            return Fail(ParseError::kUnknownOp, data, len, i);
        }
        break;

      // PUB, PING, PONG
      case State::kOpP:
        switch (b) {
          case 'U':
          case 'u':
            state_ = State::kOpPu;
            break;
          case 'I':
          case 'i':
            state_ = State::kOpPi;
            break;
          case 'O':
          case 'o':
            state_ = State::kOpPo;
            break;
          default:
            return Fail(ParseError::kUnknownOp, data, len, i);
        }
        break;
      case State::kOpPu:
        if (b != 'B' && b != 'b') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpPub;
        break;
      case State::kOpPub:
        if (!IsBlank(b)) return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpPubSpc;
        break;
      case State::kOpPubSpc:
        if (IsBlank(b)) break;
        state_ = State::kPubArg;
        continue;  // this byte starts the arguments
      case State::kOpPi:
        if (b != 'N' && b != 'n') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpPin;
        break;
      case State::kOpPin:
        if (b != 'G' && b != 'g') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpPing;
        break;
      case State::kOpPing:
        if (b == '\n') {
          state_ = State::kOpStart;
          if (!handler_->OnPing()) return Fail(ParseError::kStopped, data, len, i + 1);
        } else if (!IsBlank(b) && b != '\r') {
          return Fail(ParseError::kUnknownOp, data, len, i);
        }
        break;
      case State::kOpPo:
        if (b != 'N' && b != 'n') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpPon;
        break;
      case State::kOpPon:
        if (b != 'G' && b != 'g') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpPong;
        break;
      case State::kOpPong:
        if (b == '\n') {
          state_ = State::kOpStart;
          if (!handler_->OnPong()) return Fail(ParseError::kStopped, data, len, i + 1);
        } else if (!IsBlank(b) && b != '\r') {
          return Fail(ParseError::kUnknownOp, data, len, i);
        }
        break;

      // HPUB
      case State::kOpH:
        if (b != 'P' && b != 'p') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpHp;
        break;
      case State::kOpHp:
        if (b != 'U' && b != 'u') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpHpu;
        break;
      case State::kOpHpu:
        if (b != 'B' && b != 'b') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpHpub;
        break;
      case State::kOpHpub:
        if (!IsBlank(b)) return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpHpubSpc;
        break;
      case State::kOpHpubSpc:
        if (IsBlank(b)) break;
        state_ = State::kHpubArg;
        continue;

      // SUB
      case State::kOpS:
        if (b != 'U' && b != 'u') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpSu;
        break;
      case State::kOpSu:
        if (b != 'B' && b != 'b') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpSub;
        break;
      case State::kOpSub:
        if (!IsBlank(b)) return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpSubSpc;
        break;
      case State::kOpSubSpc:
        if (IsBlank(b)) break;
        state_ = State::kSubArg;
        continue;

      // UNSUB
      case State::kOpU:
        if (b != 'N' && b != 'n') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpUn;
        break;
      case State::kOpUn:
        if (b != 'S' && b != 's') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpUns;
        break;
      case State::kOpUns:
        if (b != 'U' && b != 'u') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpUnsu;
        break;
      case State::kOpUnsu:
        if (b != 'B' && b != 'b') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpUnsub;
        break;
      case State::kOpUnsub:
        if (!IsBlank(b)) return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpUnsubSpc;
        break;
      case State::kOpUnsubSpc:
        if (IsBlank(b)) break;
        state_ = State::kUnsubArg;
        continue;

      // CONNECT (like nats-server, the blank before the JSON is optional)
      case State::kOpC:
        if (b != 'O' && b != 'o') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpCo;
        break;
      case State::kOpCo:
        if (b != 'N' && b != 'n') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpCon;
        break;
      case State::kOpCon:
        if (b != 'N' && b != 'n') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpConn;
        break;
      case State::kOpConn:
        if (b != 'E' && b != 'e') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpConne;
        break;
      case State::kOpConne:
        if (b != 'C' && b != 'c') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpConnec;
        break;
      case State::kOpConnec:
        if (b != 'T' && b != 't') return Fail(ParseError::kUnknownOp, data, len, i);
        state_ = State::kOpConnect;
        break;
      case State::kOpConnect:
        if (IsBlank(b)) break;
        state_ = State::kConnectArg;
        continue;

      // Control line arguments: up to the '\n' in one step.
      case State::kConnectArg:
      case State::kPubArg:
      case State::kHpubArg:
      case State::kSubArg:
      case State::kUnsubArg:
        i = ProcessLine(data, len, i);
        if (error_ != ParseError::kNone) return error_;
        continue;

      // A payload split across Feed() calls: collect it after the control line in scratch_.
      case State::kMsgPayload: {
        const size_t have = scratch_.size() - line_len_;
        const size_t n = std::min(payload_size_ - have, len - i);
        scratch_.append(data + i, n);
        i += n;
        if (have + n == payload_size_) state_ = State::kMsgEndR;
        continue;
      }
      case State::kMsgEndR:
        if (b != '\r') return Fail(ParseError::kBadPayloadEnd, data, len, i);
        state_ = State::kMsgEndN;
        break;
      case State::kMsgEndN: {
        if (b != '\n') return Fail(ParseError::kBadPayloadEnd, data, len, i);
        const bool ok = DispatchPub(scratch_.data(), scratch_.data() + line_len_);
        ResetOp();
        state_ = State::kOpStart;
        if (!ok) return Fail(ParseError::kStopped, data, len, i + 1);
        break;
      }
    }
    ++i;
  }
  return ParseError::kNone;
}

// In an argument state at data[i]: finds the end of the control line. A complete line is
// dispatched (with its payload, for PUB/HPUB); an incomplete one is saved in scratch_. Returns
// the index of the next unconsumed byte; on error error_ is set.
size_t Parser::ProcessLine(const char* data, size_t len, size_t i) {
  const char* start = data + i;
  const size_t avail = len - i;
  const void* found = memchr(start, '\n', avail);
  // A '\r' right before the '\n' is not part of the line, hence the one byte of slack.
  const size_t max_raw = limits_.max_control_line + 1;
  if (found == nullptr) {
    if (scratch_.size() + avail > max_raw) {
      const size_t at = i + (max_raw - std::min(max_raw, scratch_.size()));
      Fail(ParseError::kMaxControlLine, data, len, std::min(at, len));
      return len;
    }
    scratch_.append(start, avail);
    return len;
  }
  const size_t nl = static_cast<const char*>(found) - data;
  const char* line = start;
  size_t n = nl - i;
  if (!scratch_.empty()) {
    if (scratch_.size() + n > max_raw) {
      const size_t at = i + (max_raw - std::min(max_raw, scratch_.size()));
      Fail(ParseError::kMaxControlLine, data, len, std::min(at, len));
      return len;
    }
    scratch_.append(start, n);
    line = scratch_.data();
    n = scratch_.size();
  }
  if (n > 0 && line[n - 1] == '\r') --n;
  if (n > limits_.max_control_line) {
    FailLine(ParseError::kMaxControlLine, line, n, nl);
    return len;
  }
  while (n > 0 && (IsBlank(line[n - 1]) || line[n - 1] == '\r')) --n;
  return DispatchLine(line, n, data, len, nl);
}

// A complete control line of `n` bytes (blanks and "\r" trimmed) whose '\n' is data[nl].
// Returns the index of the next unconsumed byte; on error error_ is set.
size_t Parser::DispatchLine(const char* line, size_t n, const char* data, size_t len, size_t nl) {
  if (state_ == State::kConnectArg) {
    return EndOp(handler_->OnConnect(std::string_view(line, n)), data, len, nl + 1);
  }
  Span args[kMaxArgs + 1];
  size_t argc = 0;
  for (size_t p = 0; p < n;) {
    while (p < n && IsBlank(line[p])) ++p;
    if (p == n) break;
    if (argc == kMaxArgs) {
      ++argc;  // one too many is enough to reject the line
      break;
    }
    const size_t s = p;
    p = FindBlank(line + p, line + n) - line;
    args[argc++] = Span{static_cast<uint32_t>(s), static_cast<uint32_t>(p - s)};
  }
  auto view = [line](Span a) { return std::string_view(line + a.off, a.len); };
  auto bad = [&](ParseError e) {
    FailLine(e, line, n, nl);
    return len;
  };

  switch (state_) {
    case State::kSubArg:
      if (argc == 2) {
        return EndOp(handler_->OnSub(view(args[0]), {}, view(args[1])), data, len, nl + 1);
      }
      if (argc == 3) {
        return EndOp(handler_->OnSub(view(args[0]), view(args[1]), view(args[2])), data, len,
                     nl + 1);
      }
      return bad(ParseError::kBadArgs);
    case State::kUnsubArg: {
      int64_t max = -1;
      if (argc == 2) {
        max = ParseWireSize({line + args[1].off, args[1].len});
        if (max < 0) return bad(ParseError::kBadArgs);
      } else if (argc != 1) {
        return bad(ParseError::kBadArgs);
      }
      return EndOp(handler_->OnUnsub(view(args[0]), max), data, len, nl + 1);
    }
    case State::kPubArg: {
      if (argc != 2 && argc != 3) return bad(ParseError::kBadArgs);
      const Span size = args[argc - 1];
      const int64_t total = ParseWireSize({line + size.off, size.len});
      if (total < 0) return bad(ParseError::kBadArgs);
      if (static_cast<uint64_t>(total) > limits_.max_payload) return bad(ParseError::kMaxPayload);
      subject_ = args[0];
      reply_ = argc == 3 ? args[1] : Span();
      payload_size_ = static_cast<size_t>(total);
      header_size_ = 0;
      has_headers_ = false;
      return StartPayload(line, n, data, len, nl);
    }
    case State::kHpubArg: {
      if (argc != 3 && argc != 4) return bad(ParseError::kBadArgs);
      const Span hdr_arg = args[argc - 2];
      const Span total_arg = args[argc - 1];
      const int64_t hdr = ParseWireSize({line + hdr_arg.off, hdr_arg.len});
      const int64_t total = ParseWireSize({line + total_arg.off, total_arg.len});
      if (hdr < 0 || total < 0 || hdr > total) return bad(ParseError::kBadArgs);
      if (static_cast<uint64_t>(total) > limits_.max_payload) return bad(ParseError::kMaxPayload);
      subject_ = args[0];
      reply_ = argc == 4 ? args[1] : Span();
      payload_size_ = static_cast<size_t>(total);
      header_size_ = static_cast<size_t>(hdr);
      has_headers_ = true;
      return StartPayload(line, n, data, len, nl);
    }
    default:
      break;
  }
  return bad(ParseError::kUnknownOp);  // not reached: only argument states get here
}

// The control line of a PUB/HPUB is parsed; its payload starts at data[nl + 1]. The common
// case has payload and "\r\n" in the buffer: dispatch with views and jump past them. Otherwise
// keep the line and the payload bytes seen so far in scratch_ and go on in kMsgPayload.
size_t Parser::StartPayload(const char* line, size_t n, const char* data, size_t len, size_t nl) {
  const size_t body = nl + 1;
  const size_t avail = len - body;
  if (avail >= payload_size_ + 2) {
    const size_t end = body + payload_size_;
    if (data[end] != '\r') return Fail(ParseError::kBadPayloadEnd, data, len, end), len;
    if (data[end + 1] != '\n') return Fail(ParseError::kBadPayloadEnd, data, len, end + 1), len;
    return EndOp(DispatchPub(line, data + body), data, len, end + 2);
  }
  if (line == scratch_.data()) {
    scratch_.resize(n);  // the line was already split: drop its "\r" and trailing blanks
  } else {
    scratch_.assign(line, n);
  }
  line_len_ = n;
  scratch_.reserve(n + payload_size_);
  const size_t c = std::min(avail, payload_size_);
  scratch_.append(data + body, c);
  state_ = c == payload_size_ ? State::kMsgEndR : State::kMsgPayload;
  return body + c;
}

bool Parser::DispatchPub(const char* line, const char* payload) {
  PubArgs pub;
  pub.subject = std::string_view(line + subject_.off, subject_.len);
  pub.reply = std::string_view(line + reply_.off, reply_.len);
  if (has_headers_) {
    pub.has_headers = true;
    pub.headers = std::string_view(payload, header_size_);
    pub.payload = std::string_view(payload + header_size_, payload_size_ - header_size_);
  } else {
    pub.payload = std::string_view(payload, payload_size_);
  }
  return handler_->OnPub(pub);
}

// Ends the op in flight; `ok` is the handler's answer. Returns the next index to parse.
size_t Parser::EndOp(bool ok, const char* data, size_t len, size_t next) {
  ResetOp();
  state_ = State::kOpStart;
  if (!ok) {
    Fail(ParseError::kStopped, data, len, next);
    return len;
  }
  return next;
}

// The state's name, for debugging: the table follows the order of the enum.
const char* Parser::state_name() const {
  static constexpr const char* kNames[] = {
      "kOpStart",    "kOpC",       "kOpCo",       "kOpCon",   "kOpConn",  "kOpConne",
      "kOpConnec",   "kOpConnect", "kConnectArg", "kOpH",     "kOpHp",    "kOpHpu",
      "kOpHpub",     "kOpHpubSpc", "kHpubArg",    "kOpP",     "kOpPu",    "kOpPub",
      "kOpPubSpc",   "kPubArg",    "kOpPi",       "kOpPin",   "kOpPing",  "kOpPo",
      "kOpPon",      "kOpPong",    "kOpS",        "kOpSu",    "kOpSub",   "kOpSubSpc",
      "kSubArg",     "kOpU",       "kOpUn",       "kOpUns",   "kOpUnsu",  "kOpUnsub",
      "kOpUnsubSpc", "kUnsubArg",  "kMsgPayload", "kMsgEndR", "kMsgEndN",
  };
  static_assert(std::size(kNames) == static_cast<size_t>(State::kMsgEndN) + 1,
                "a name for every state");
  const auto i = static_cast<size_t>(state_);
  return i < std::size(kNames) ? kNames[i] : "?";
}

}  // namespace tandem::server
