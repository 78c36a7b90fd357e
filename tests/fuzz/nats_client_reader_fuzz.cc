// nats_client_reader_fuzz.cc: libFuzzer target for server/nats/nats_client_reader (the server ->
// client ops read by the ft peer link).
//
// The input is fed once whole and once in chunks (tests/fuzz/split_fuzz.h). Each chunk lives
// in its own heap block that is freed right after Feed(), so a view kept across Feed() calls
// is a heap-use-after-free under ASan. The handler reads every byte of every view. Both runs
// must give the same events and the same error, a failed reader must stay failed, and a reader
// that has not failed must hold no more than one control line and one payload; anything else
// aborts. Built and run by scripts/fuzz.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <string_view>
#include <vector>

#include "server/nats/nats_client_reader.h"
#include "tests/fuzz/split_fuzz.h"

namespace {

using tandem::server::ClientReaderLimits;
using tandem::server::MsgArgs;
using tandem::server::NatsClientHandler;
using tandem::server::NatsClientReader;
using tandem::server::ReadError;

// Folds each event into the hash (tests/fuzz/split_fuzz.h).
class HashingHandler : public NatsClientHandler, public tandem::fuzz::EventHash {
 public:
  bool OnInfo(std::string_view json) override {
    if (json.empty()) abort();
    return Event('I', {json});
  }
  bool OnMsg(const MsgArgs& m) override {
    if (!m.has_headers && !m.headers.empty()) abort();
    if (m.subject.empty() || m.sid.empty()) abort();
    return Event(m.has_headers ? 'H' : 'M', {m.subject, m.sid, m.reply, m.headers, m.payload});
  }
  bool OnPing() override { return Event('P', {}); }
  bool OnPong() override { return Event('O', {}); }
  bool OnOk() override { return Event('K', {}); }
  bool OnErr(std::string_view text) override { return Event('E', {text}); }
};

using Run = tandem::fuzz::Run<ReadError>;

Run FeedInChunks(const uint8_t* data, size_t size, ClientReaderLimits limits,
                 const std::vector<size_t>& cuts) {
  HashingHandler handler;
  NatsClientReader reader(&handler, limits);
  ReadError error = ReadError::kNone;
  size_t pos = 0;
  for (size_t k = 0; k <= cuts.size() && error == ReadError::kNone; ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : size;
    const size_t n = end - pos;
    char* chunk = static_cast<char*>(malloc(n == 0 ? 1 : n));
    if (n > 0) memcpy(chunk, data + pos, n);
    error = reader.Feed(chunk, n);
    if (error != ReadError::kNone) {
      const std::string& snip = reader.error_snippet();
      if (snip.size() < 2 || snip.front() != '"' || snip.back() != '"') abort();
      if (reader.Feed(chunk, n) != error) abort();  // stays failed
    } else if (reader.buffered() > limits.max_control_line + limits.max_payload + 4) {
      abort();
    }
    free(chunk);
    pos = end;
  }
  return Run{handler.hash, handler.events, error};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tandem::fuzz::FuzzWholeVersusSplit<ClientReaderLimits>(data, size, FeedInChunks);
}
