// outbound_queue_test.cc: the chunked outbound queue: bytes come out in order across chunk
// boundaries, Peek's views stay valid while more is appended, written chunks are released at
// once (an emptied queue holds none), and the free list keeps at most kMaxFreeChunks.
#include "server/nats/outbound_queue.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

constexpr size_t kChunk = OutboundQueue::kChunkSize;

// Everything Peek shows, concatenated.
std::string Contents(const OutboundQueue& q) {
  std::vector<uv_buf_t> bufs(q.chunks() + 1);
  size_t n = q.Peek(bufs.data(), bufs.size());
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(bufs[i].base, bufs[i].len);
  return out;
}

std::string Pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

}  // namespace

TEST_SUITE("outbound_queue") {
  TEST_CASE("outbound_queue: in order across chunks, consumed from the front") {
    OutboundQueue q;
    CHECK(q.empty());
    CHECK(q.chunks() == 0);
    std::string expect;
    for (size_t i = 0; i < 40; ++i) {  // small and chunk-spanning appends
      std::string piece = Pattern(i % 3 == 0 ? kChunk / 3 + i : 17 + i, i);
      q.Append(piece);
      expect += piece;
    }
    q.Append('!');
    expect += '!';
    CHECK(q.size() == expect.size());
    CHECK(q.chunks() == (expect.size() + kChunk - 1) / kChunk);
    CHECK(Contents(q) == expect);
    // Consume in uneven steps, checking what is left each time.
    for (size_t step : {size_t{1}, kChunk - 1, size_t{5000}, kChunk, size_t{3}}) {
      q.Consume(step);
      expect.erase(0, step);
      CHECK(q.size() == expect.size());
      CHECK(Contents(q) == expect);
    }
    q.Consume(q.size());
    CHECK(q.empty());
    CHECK(q.chunks() == 0);  // an emptied queue holds nothing
    q.Append("again");
    CHECK(Contents(q) == "again");
  }

  TEST_CASE("outbound_queue: peeked bytes stay in place while more is appended") {
    OutboundQueue q;
    const std::string first = Pattern(kChunk + 100, 1);
    q.Append(first);
    std::vector<uv_buf_t> bufs(4);
    size_t n = q.Peek(bufs.data(), bufs.size());
    REQUIRE(n == 2);
    const char* base0 = bufs[0].base;
    const char* base1 = bufs[1].base;
    q.Append(Pattern(3 * kChunk, 2));  // as while a uv_write is pending
    CHECK(std::string(base0, kChunk) == first.substr(0, kChunk));
    CHECK(std::string(base1, 100) == first.substr(kChunk));
    q.Consume(first.size());
    CHECK(Contents(q) == Pattern(3 * kChunk, 2));
    // Peek fills no more entries than asked for.
    CHECK(q.Peek(bufs.data(), 1) == 1);
    CHECK(bufs[0].len == kChunk - 100);
  }

  TEST_CASE("outbound_queue: written chunks go back, the free list is bounded") {
    REQUIRE(OutboundQueue::FreeChunks() < 100);
    {
      OutboundQueue q;
      q.Append(Pattern(100 * kChunk, 3));
      CHECK(q.chunks() == 100);
      q.Consume(10 * kChunk + 1);  // ten chunks written, the eleventh partly
      CHECK(q.chunks() == 90);
      // The 100 chunks took the whole free list first (it holds fewer), the ten came back.
      CHECK(OutboundQueue::FreeChunks() == 10);
    }
    // The destructor released the rest; the free list never keeps more than its bound.
    CHECK(OutboundQueue::FreeChunks() == OutboundQueue::kMaxFreeChunks);
  }
}

}  // namespace tandem::server
