// nats_client_reader.cc: the server -> client NATS protocol reader behind
// NatsClientReader::Feed (see nats_client_reader.h for the grammar and the limits).
//
// Called by PeerLink's read callback with each chunk read from the socket; calls the link's
// NatsClientHandler once per complete op. It owns no I/O.
//
// How it reads: a control line is found with memchr and, when it is complete in the buffer,
// split into views in place. Only a line cut off by the end of a buffer is copied, into line_.
// A MSG/HMSG payload that is complete in the buffer (with its "\r\n") is handed over as a view
// and skipped in one jump; a payload cut off by the end of a buffer is collected in payload_,
// and its control line is kept in line_ until the payload is complete. A line with no "\n" yet
// is refused as soon as it is certainly longer than max_control_line, so a peer cannot make
// the reader buffer without bound.
//
// Sections, in order: byte helpers; ReadErrorText; construction, Reset and failure; Feed;
// control lines (ReadLine, ProcessLine, StartMsg); payloads (ReadPayload, DispatchMsg, EndMsg).
#include "server/nats/nats_client_reader.h"

#include <string.h>

#include <algorithm>

#include "server/nats/wire_size.h"
#include "server/util/quoting.h"

namespace tandem::server {
namespace {

constexpr size_t kMaxArgs = 5;  // HMSG <subject> <sid> <reply> <hdr> <total>
constexpr size_t kSnippetMax = 40;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// True when `word` equals `upper` (an upper-case op name) ignoring ASCII case.
bool OpIs(std::string_view word, std::string_view upper) {
  if (word.size() != upper.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view ReadErrorText(ReadError e) {
  switch (e) {
    case ReadError::kNone:
      return "no error";
    case ReadError::kUnknownOp:
      return "unknown protocol operation";
    case ReadError::kMaxControlLine:
      return "maximum control line exceeded";
    case ReadError::kMaxPayload:
      return "maximum payload exceeded";
    case ReadError::kBadArgs:
      return "bad arguments";
    case ReadError::kBadPayloadEnd:
      return "payload not followed by CRLF";
    case ReadError::kStopped:
      return "stopped by the handler";
  }
  return "unknown error";
}

NatsClientReader::NatsClientReader(NatsClientHandler* handler, ClientReaderLimits limits)
    : handler_(handler), limits_(limits) {}

void NatsClientReader::Reset() {
  state_ = State::kLine;
  error_ = ReadError::kNone;
  error_snippet_.clear();
  line_.clear();
  payload_.clear();
  EndMsg();
}

void NatsClientReader::Fail(ReadError e, std::string_view bytes) {
  if (error_ != ReadError::kNone) return;
  error_ = e;
  error_snippet_ = QuoteHexEscaped(bytes, kSnippetMax);
}

void NatsClientReader::Handled(bool go_on) {
  if (!go_on && error_ == ReadError::kNone) {
    error_ = ReadError::kStopped;
    error_snippet_ = "\"\"";
  }
}

ReadError NatsClientReader::Feed(const char* data, size_t len) {
  size_t i = 0;
  while (error_ == ReadError::kNone && i < len) {
    i = state_ == State::kLine ? ReadLine(data, len, i) : ReadPayload(data, len, i);
  }
  // A MSG whose payload continues in the next buffer must not point into this one.
  if (error_ == ReadError::kNone && state_ == State::kPayload && !msg_line_owned_) {
    line_.assign(msg_line_, msg_line_len_);
    msg_line_ = line_.data();
    msg_line_owned_ = true;
  }
  return error_;
}

// ---- control lines ---------------------------------------------------------------------------

size_t NatsClientReader::ReadLine(const char* data, size_t len, size_t i) {
  const char* start = data + i;
  const char* nl = static_cast<const char*>(memchr(start, '\n', len - i));
  if (nl == nullptr) {
    line_.append(start, len - i);
    // The line is at least this long, or one less if this '\r' turns out to end it.
    size_t at_least = line_.size() - (line_.back() == '\r' ? 1 : 0);
    if (at_least > limits_.max_control_line) Fail(ReadError::kMaxControlLine, line_);
    return len;
  }
  size_t end = static_cast<size_t>(nl - data);
  const char* line = start;
  size_t n = end - i;
  bool owned = !line_.empty();
  if (owned) {
    line_.append(start, n);
    line = line_.data();
    n = line_.size();
  }
  if (n > 0 && line[n - 1] == '\r') --n;
  if (n > limits_.max_control_line) {
    Fail(ReadError::kMaxControlLine, std::string_view(line, n));
  } else {
    ProcessLine(line, n, owned);
  }
  if (owned && !msg_line_owned_) line_.clear();
  return end + 1;
}

void NatsClientReader::ProcessLine(const char* line, size_t n, bool owned) {
  std::string_view text(line, n);
  size_t op_end = 0;
  while (op_end < n && !IsBlank(line[op_end])) ++op_end;
  std::string_view op = text.substr(0, op_end);
  std::string_view rest = TrimBlanks(text.substr(op_end));

  if (OpIs(op, "MSG") || OpIs(op, "HMSG")) {
    Span args[kMaxArgs + 1];
    size_t nargs = 0;
    size_t p = op_end;
    while (p < n) {
      while (p < n && IsBlank(line[p])) ++p;
      if (p == n) break;
      size_t s = p;
      while (p < n && !IsBlank(line[p])) ++p;
      if (nargs == kMaxArgs + 1) {
        Fail(ReadError::kBadArgs, text);
        return;
      }
      args[nargs++] = Span{static_cast<uint32_t>(s), static_cast<uint32_t>(p - s)};
    }
    has_headers_ = op.size() == 4;
    StartMsg(line, n, owned, args, nargs);
  } else if (OpIs(op, "INFO")) {
    if (rest.empty()) return Fail(ReadError::kBadArgs, text);
    Handled(handler_->OnInfo(rest));
  } else if (OpIs(op, "PING")) {
    if (!rest.empty()) return Fail(ReadError::kBadArgs, text);
    Handled(handler_->OnPing());
  } else if (OpIs(op, "PONG")) {
    if (!rest.empty()) return Fail(ReadError::kBadArgs, text);
    Handled(handler_->OnPong());
  } else if (OpIs(op, "+OK")) {
    if (!rest.empty()) return Fail(ReadError::kBadArgs, text);
    Handled(handler_->OnOk());
  } else if (OpIs(op, "-ERR")) {
    if (rest.size() >= 2 && rest.front() == '\'' && rest.back() == '\'') {
      rest = rest.substr(1, rest.size() - 2);
    }
    Handled(handler_->OnErr(rest));
  } else {
    Fail(ReadError::kUnknownOp, text);
  }
}

void NatsClientReader::StartMsg(const char* line, size_t n, bool owned, const Span* args,
                                size_t nargs) {
  std::string_view text(line, n);
  const size_t min_args = has_headers_ ? 4 : 3;
  if (nargs != min_args && nargs != min_args + 1) return Fail(ReadError::kBadArgs, text);
  const bool has_reply = nargs == min_args + 1;
  subject_ = args[0];
  sid_ = args[1];
  reply_ = has_reply ? args[2] : Span{};
  auto arg = [&](size_t k) { return text.substr(args[k].off, args[k].len); };
  int64_t total = ParseWireSize(arg(nargs - 1));
  int64_t hdr = has_headers_ ? ParseWireSize(arg(nargs - 2)) : 0;
  if (total == -1 || hdr == -1) return Fail(ReadError::kBadArgs, text);
  if (total == -2 || static_cast<uint64_t>(total) > limits_.max_payload) {
    return Fail(ReadError::kMaxPayload, text);
  }
  if (hdr == -2 || hdr > total) return Fail(ReadError::kBadArgs, text);
  header_size_ = static_cast<size_t>(hdr);
  payload_size_ = static_cast<size_t>(total);
  msg_line_ = line;
  msg_line_len_ = n;
  msg_line_owned_ = owned;
  state_ = State::kPayload;
}

// ---- payloads --------------------------------------------------------------------------------

size_t NatsClientReader::ReadPayload(const char* data, size_t len, size_t i) {
  const size_t need = payload_size_ + 2;
  if (payload_.empty() && len - i >= need) {
    DispatchMsg(data + i);
    return i + need;
  }
  if (!msg_line_owned_) {
    line_.assign(msg_line_, msg_line_len_);
    msg_line_ = line_.data();
    msg_line_owned_ = true;
  }
  size_t take = std::min(need - payload_.size(), len - i);
  payload_.append(data + i, take);
  if (payload_.size() == need) DispatchMsg(payload_.data());
  return i + take;
}

void NatsClientReader::DispatchMsg(const char* payload) {
  if (payload[payload_size_] != '\r' || payload[payload_size_ + 1] != '\n') {
    Fail(ReadError::kBadPayloadEnd, std::string_view(payload + payload_size_, 2));
    return;
  }
  std::string_view line(msg_line_, msg_line_len_);
  MsgArgs m;
  m.subject = line.substr(subject_.off, subject_.len);
  m.sid = line.substr(sid_.off, sid_.len);
  m.reply = line.substr(reply_.off, reply_.len);
  m.has_headers = has_headers_;
  m.headers = std::string_view(payload, header_size_);
  m.payload = std::string_view(payload + header_size_, payload_size_ - header_size_);
  bool go_on = handler_->OnMsg(m);
  EndMsg();
  Handled(go_on);
}

void NatsClientReader::EndMsg() {
  if (msg_line_owned_) line_.clear();
  payload_.clear();
  msg_line_ = nullptr;
  msg_line_len_ = 0;
  msg_line_owned_ = false;
  has_headers_ = false;
  subject_ = sid_ = reply_ = Span{};
  header_size_ = payload_size_ = 0;
  state_ = State::kLine;
}

}  // namespace tandem::server
