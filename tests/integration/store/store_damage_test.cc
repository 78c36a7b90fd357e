// store_damage_test.cc: damage inside a store that still opens is surfaced, never delivered and
// never a silent stall. A store is written by the real binary, stopped, damaged on disk (a
// destroyed b-tree page under the messages; one flipped byte inside one message's data, which
// SQLite itself cannot see), and served again to a subscriber that starts at the first message:
// every delivery must be the message that was published, /healthz must answer 503 with the
// reason, /metrics must count the read error of the channel, and the log must say once which
// channel and which sequences, and what to do.
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/store/store_files.h"

namespace tandem::test {
namespace {

struct Served {
  TempDir dir;
  TandemProcess* proc = nullptr;
  std::unique_ptr<TandemProcess> owned;
  int port = FreePort();
  int http = FreePort();

  explicit Served(const std::string& store_bytes) {
    ::mkdir(dir.Join("data").c_str(), 0755);
    WriteBytes(dir.Join("data/store.db"), store_bytes);
    owned = std::make_unique<TandemProcess>(dir.path(), "tandem.log");
    proc = owned.get();
    REQUIRE(proc->Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--http",
                         "127.0.0.1:" + std::to_string(http), "--store", "data"}));
    REQUIRE(proc->WaitForPort(port));
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port); }
};

// Subscribes from the first message and checks, while waiting `settle`, that every delivery is
// the message published under its sequence. Returns the deliveries.
std::vector<Delivered> SubscribeAll(Served& s, std::chrono::milliseconds settle) {
  StanConn sc;
  REQUIRE(sc.Connect(s.url(), "reader") == NATS_OK);
  StanSub sub;
  stanSubOptions_SetMaxInflight(sub.FromFirst().opts, 100000);
  REQUIRE(sub.Subscribe(sc, "orders") == NATS_OK);
  sub.c.WaitCount(1, std::chrono::seconds(10));
  std::this_thread::sleep_for(settle);
  std::vector<Delivered> got = sub.c.msgs();
  for (const Delivered& d : got) {
    CAPTURE(d.seq);
    CHECK(d.data == PayloadOf(static_cast<int>(d.seq)));
  }
  sub.sub.Destroy();
  sc.Close();
  return got;
}

// The damage is reported: /healthz 503 naming the channel, the read error counted in /metrics,
// one error line with the channel and a sequence range, and no line repeated.
void ExpectReported(Served& s, size_t delivered, uint64_t bad_seq) {
  CHECK(delivered < bad_seq);
  std::optional<server::HttpReply> h = TryGet(s.http, "/healthz");
  REQUIRE(h.has_value());
  CHECK(h->status == 503);
  nlohmann::json j = nlohmann::json::parse(h->body, nullptr, false);
  REQUIRE(!j.is_discarded());
  CHECK(j.value("status", "") == "unavailable");
  CHECK(j.value("error", "").find("orders") != std::string::npos);
  std::optional<server::HttpReply> m = TryGet(s.http, "/metrics");
  REQUIRE(m.has_value());
  CHECK(m->body.find("tandem_store_read_errors_total{channel=\"orders\"} 1") != std::string::npos);
  std::string log = s.proc->Log();
  INFO("log:\n" << log);
  std::vector<std::string> errors = ErrorLines(log);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("channel orders") != std::string::npos);
  CHECK(errors[0].find(std::to_string(delivered + 1)) != std::string::npos);
  CHECK(errors[0].find("backup") != std::string::npos);
  CHECK(MaxRepeat(log) <= 2);
}

}  // namespace

TEST_SUITE("store_damage") {
  TEST_CASE("store_damage: a destroyed page under a subscriber is reported, not a silent stall") {
    GoodStore good(3000);
    std::string bytes = good.bytes();
    size_t at = bytes.find(PayloadOf(1500));
    REQUIRE(at != std::string::npos);
    size_t page_size =
        256u * static_cast<unsigned char>(bytes[16]) + static_cast<unsigned char>(bytes[17]);
    size_t page = at / page_size * page_size;
    for (size_t i = page; i < page + 200; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0xff);
    Served s(bytes);
    // Longer than the 2 s period at which the damage used to be logged again and again.
    std::vector<Delivered> got = SubscribeAll(s, std::chrono::seconds(5));
    CHECK(got.size() < 1500);
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].seq == i + 1);  // nothing skipped
    ExpectReported(s, got.size(), 1500);
  }

  TEST_CASE("store_damage: a flipped byte inside a message is caught by its checksum") {
    GoodStore good(1000);
    std::string bytes = good.bytes();
    size_t at = bytes.find(PayloadOf(700));
    REQUIRE(at != std::string::npos);
    bytes[at + 40] = 'y';  // one 'x' of the padding: SQLite's page structure is untouched
    Served s(bytes);
    std::vector<Delivered> got = SubscribeAll(s, std::chrono::seconds(3));
    CHECK(got.size() < 700);
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].seq == i + 1);
    ExpectReported(s, got.size(), 700);
  }
}

}  // namespace tandem::test
