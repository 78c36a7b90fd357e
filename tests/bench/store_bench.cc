// store_bench: the store's figures.
//   store_bench submit [dir] [msgs] [window]
//     Store::Submit throughput: batches of 1,000 messages of 150 B through the real store thread
//     and its group commit (synchronous=FULL), with at most `window` batches in flight (default
//     1: each batch is its own transaction, the same shape as sqlite_ceiling). Prints msgs/s.
//   store_bench recover [dir] [msgs]
//     Builds (once, in a child process) a store holding `msgs` messages, then times Open +
//     Recover in this process and prints the time and the process RSS after it.
// Defaults: dir ./bench-data, msgs 200000 (submit) or 1000000 (recover).
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/store.h"

#include <sys/wait.h>

#include "tests/bench/bench_util.h"

using tandem::Result;
using tandem::Status;
using namespace tandem::store;

namespace {

constexpr size_t kBatch = 1000;
const std::string kBlob(150, 'm');

[[noreturn]] void Fail(const Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<Store> OpenStore(uv_loop_t* loop, const std::string& path, SyncMode sync) {
  StoreOptions options;
  options.path = path;
  options.sync = sync;
  Result<std::unique_ptr<Store>> r = Store::Open(options, loop);
  if (!r.ok()) Fail(r.status(), "open");
  return std::move(r).value();
}

void CloseStore(uv_loop_t* loop, std::unique_ptr<Store> store) {
  if (Status s = store->Close(); !s.ok()) Fail(s, "close");
  uv_run(loop, UV_RUN_DEFAULT);
}

// Appends seqs (last, last + n] to channel 1, keeping at most `window` batches in flight.
void Fill(uv_loop_t* loop, Store& store, uint64_t last, uint64_t n, int window) {
  uint64_t next = last + 1, end = last + n;
  int in_flight = 0;
  auto done = [&in_flight](const Status& s, const BatchResult&) {
    if (!s.ok()) Fail(s, "commit");
    --in_flight;
  };
  while (next <= end || in_flight > 0) {
    while (next <= end && in_flight < window) {
      WriteBatch b;
      for (size_t i = 0; i < kBatch && next <= end; ++i, ++next) {
        b.AppendMsg(1, next, static_cast<int64_t>(next) * 1000, kBlob);
      }
      ++in_flight;
      store.Submit(std::move(b), done);
    }
    uv_run(loop, UV_RUN_ONCE);
  }
}

void CreateChannel(uv_loop_t* loop, Store& store) {
  WriteBatch b;
  ChannelRecord c;
  c.id = 1;
  c.name = "bench";
  b.CreateChannel(c);
  bool done = false;
  store.Submit(std::move(b), [&done](const Status& s, const BatchResult&) {
    if (!s.ok()) Fail(s, "create channel");
    done = true;
  });
  while (!done) uv_run(loop, UV_RUN_ONCE);
}

int Submit(const std::string& dir, uint64_t msgs, int window) {
  const std::string path = dir + "/submit.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto store = OpenStore(&loop, path, SyncMode::kFull);
  CreateChannel(&loop, *store);
  auto start = std::chrono::steady_clock::now();
  Fill(&loop, *store, 0, msgs, window);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CloseStore(&loop, std::move(store));
  uv_loop_close(&loop);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::printf(
      "store_bench submit: %llu msgs of 150 B in %.3f s, batches of %zu, window %d, "
      "synchronous=FULL: %.0f msgs/s\n",
      static_cast<unsigned long long>(msgs), secs, kBatch, window,
      static_cast<double>(msgs) / secs);
  return 0;
}

void Build(const std::string& path, uint64_t msgs) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto store = OpenStore(&loop, path, SyncMode::kNormal);
  Result<Recovered> r = store->Recover();
  if (!r.ok()) Fail(r.status(), "recover");
  uint64_t have = r->channels.empty() ? 0 : r->channels[0].last_seq;
  if (r->channels.empty()) CreateChannel(&loop, *store);
  if (have < msgs) Fill(&loop, *store, have, msgs - have, 4);
  CloseStore(&loop, std::move(store));
  uv_loop_close(&loop);
}

int Recover(const std::string& dir, uint64_t msgs) {
  const std::string path = dir + "/recover-" + std::to_string(msgs) + ".db";
  pid_t child = fork();
  if (child == 0) {
    Build(path, msgs);
    _exit(0);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "building the store failed\n");
    return 1;
  }
  long rss_before = tandem::bench::RssKiB();
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto start = std::chrono::steady_clock::now();
  auto store = OpenStore(&loop, path, SyncMode::kFull);
  Result<Recovered> r = store->Recover();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) Fail(r.status(), "recover");
  long rss_after = tandem::bench::RssKiB();
  uint64_t stored = r->channels.empty() ? 0 : r->channels[0].msgs;
  CloseStore(&loop, std::move(store));
  uv_loop_close(&loop);
  std::printf(
      "store_bench recover: Open+Recover of %llu msgs (%.1f MB file) in %.4f s; "
      "RSS %ld KiB after (%ld KiB before)\n",
      static_cast<unsigned long long>(stored),
      static_cast<double>(std::filesystem::file_size(path)) / 1e6, secs, rss_after, rss_before);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "submit";
  const std::string dir = argc > 2 ? argv[2] : "./bench-data";
  std::filesystem::create_directories(dir);
  if (mode == "submit") {
    uint64_t msgs = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200000;
    int window = argc > 4 ? std::atoi(argv[4]) : 1;
    return Submit(dir, msgs, window);
  }
  if (mode == "recover") {
    uint64_t msgs = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1000000;
    return Recover(dir, msgs);
  }
  std::fprintf(stderr, "usage: store_bench submit|recover [dir] [msgs] [window]\n");
  return 2;
}
