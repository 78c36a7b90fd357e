// parser_fuzz.cc: libFuzzer target for server/nats/parser.
//
// The input is fed once whole and once in chunks (tests/fuzz/split_fuzz.h). Each chunk lives
// in its own heap block that is freed right after Feed(), so a view kept across Feed() calls
// is a heap-use-after-free under ASan. The handler reads every
// byte of every view. Both runs must give the same events and the same error; anything else
// aborts. Built and run by scripts/fuzz.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <string_view>
#include <vector>

#include "server/nats/parser.h"
#include "tests/fuzz/split_fuzz.h"

namespace {

using tandem::server::ParseError;
using tandem::server::ParserHandler;
using tandem::server::ParserLimits;
using tandem::server::PubArgs;

// Folds each event into the hash (tests/fuzz/split_fuzz.h).
class HashingHandler : public ParserHandler, public tandem::fuzz::EventHash {
 public:
  bool OnConnect(std::string_view json) override { return Event('C', {json}); }
  bool OnPub(const PubArgs& p) override {
    if (!p.has_headers && !p.headers.empty()) abort();
    return Event(p.has_headers ? 'H' : 'P', {p.subject, p.reply, p.headers, p.payload});
  }
  bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) override {
    if (subject.empty() || sid.empty()) abort();
    return Event('S', {subject, queue, sid});
  }
  bool OnUnsub(std::string_view sid, int64_t max) override {
    if (sid.empty() || max < -1) abort();
    Mix(static_cast<uint8_t>(max));
    return Event('U', {sid});
  }
  bool OnPing() override { return Event('I', {}); }
  bool OnPong() override { return Event('O', {}); }
};

using Run = tandem::fuzz::Run<ParseError>;

Run FeedInChunks(const uint8_t* data, size_t size, ParserLimits limits,
                 const std::vector<size_t>& cuts) {
  HashingHandler handler;
  tandem::server::Parser parser(&handler, limits);
  ParseError error = ParseError::kNone;
  size_t pos = 0;
  for (size_t k = 0; k <= cuts.size() && error == ParseError::kNone; ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : size;
    const size_t n = end - pos;
    char* chunk = static_cast<char*>(malloc(n == 0 ? 1 : n));
    if (n > 0) memcpy(chunk, data + pos, n);
    error = parser.Feed(chunk, n);
    if (error != ParseError::kNone) {
      if (parser.error_offset() > n) abort();
      const std::string& snip = parser.error_snippet();
      if (snip.size() < 2 || snip.front() != '"' || snip.back() != '"') abort();
      if (parser.state_name() == nullptr) abort();
      if (parser.Feed(chunk, n) != error) abort();  // stays failed
    }
    free(chunk);
    pos = end;
  }
  if (error == ParseError::kNone &&
      parser.buffered() > limits.max_control_line + limits.max_payload + 2) {
    abort();
  }
  return Run{handler.hash, handler.events, error};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tandem::fuzz::FuzzWholeVersusSplit<ParserLimits>(data, size, FeedInChunks);
}
