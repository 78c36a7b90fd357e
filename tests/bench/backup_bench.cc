// backup_bench.cc: the publisher's side of `scripts/bench backup`. `backup_bench measure --url
// URL --ms N` publishes 1 KiB messages one at a time (each stanConnection_Publish waits for
// its ack, so its time is what a publisher waits for the store) for N ms and prints the
// latency percentiles; the script runs it once alone and once while `tandem backup` runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#define NATS_HAS_STREAMING 1  // Debian's libnats is built with the STAN API
#include <nats/nats.h>

int main(int argc, char** argv) {
  std::string url = "nats://127.0.0.1:4222", channel = "bench.backup";
  long ms = 3000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--url")) url = argv[i + 1];
    if (!std::strcmp(argv[i], "--ms")) ms = std::stol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--channel")) channel = argv[i + 1];
  }
  if (argc < 2 || std::strcmp(argv[1], "measure") != 0) {
    std::fprintf(stderr, "usage: backup_bench measure --url URL --ms N [--channel C]\n");
    return 2;
  }
  natsOptions* nopts = nullptr;
  natsOptions_Create(&nopts);
  natsOptions_SetURL(nopts, url.c_str());
  stanConnOptions* sopts = nullptr;
  stanConnOptions_Create(&sopts);
  stanConnOptions_SetNATSOptions(sopts, nopts);
  stanConnection* sc = nullptr;
  if (stanConnection_Connect(&sc, "test-cluster", "backup-bench", sopts) != NATS_OK) {
    std::fprintf(stderr, "backup_bench: cannot connect to %s\n", url.c_str());
    return 1;
  }
  const std::string payload(1024, 'b');
  std::vector<int64_t> us;
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < end) {
    const auto t0 = Clock::now();
    if (stanConnection_Publish(sc, channel.c_str(), payload.data(),
                               static_cast<int>(payload.size())) != NATS_OK) {
      std::fprintf(stderr, "backup_bench: publish failed\n");
      return 1;
    }
    us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  }
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
  stanConnOptions_Destroy(sopts);
  natsOptions_Destroy(nopts);
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  std::printf("n=%zu p50_us=%lld p99_us=%lld max_us=%lld\n", us.size(),
              static_cast<long long>(at(0.50)), static_cast<long long>(at(0.99)),
              static_cast<long long>(us.back()));
  return 0;
}
