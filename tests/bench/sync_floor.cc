// sync_floor: the disk's floor for publish-to-durable latency, the figure tandem's
// publish-to-delivery latency with store.sync=full is compared with. One thread appends a
// commit's worth of WAL frames (4,120 bytes each: a 24-byte frame header and a 4 KiB page) to a
// file at a steady rate, as the store thread does for one message per commit; a sync thread
// fdatasyncs the file the way the store's does (it takes every write made so far, syncs once
// for all of them, and marks them durable; with more threads, a free one does). Prints p50,
// p90 and p99 of the time from a write's end to its being durable: no broker can deliver a
// synced message sooner than that on this disk. The file wraps at 1,000 frames like a
// checkpointed WAL, so it stays in place.
//
// Usage: sync_floor [dir] [rate] [count] [frames_per_write] [sync_threads]
//        (defaults: ./bench-data 5000 20000 1 1: one frame, the least a commit writes)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kFrameBytes = 4120;
constexpr int kWrapFrames = 1000;

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  long written = 0;  // writes finished
  long taken = 0;    // writes some sync thread has taken
  long durable = 0;  // writes known durable
  bool stopping = false;
  std::vector<Clock::time_point> written_at, durable_at;
};

void SyncThread(Shared& sh, int fd) {
  std::unique_lock<std::mutex> lock(sh.mu);
  for (;;) {
    sh.cv.wait(lock, [&] { return sh.stopping || sh.written > sh.taken; });
    if (sh.written <= sh.taken) return;
    const long upto = sh.written;
    sh.taken = upto;
    lock.unlock();
    if (::fdatasync(fd) != 0) {
      std::perror("sync_floor: fdatasync");
      std::exit(1);
    }
    const Clock::time_point now = Clock::now();
    lock.lock();
    for (long i = sh.durable; i < upto; ++i) sh.durable_at[i] = now;
    sh.durable = std::max(sh.durable, upto);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "./bench-data";
  const long rate = argc > 2 ? std::atol(argv[2]) : 5000;
  const long count = argc > 3 ? std::atol(argv[3]) : 20000;
  const int frames = argc > 4 ? std::atoi(argv[4]) : 1;
  const int threads = argc > 5 ? std::atoi(argv[5]) : 1;
  if (rate <= 0 || count <= 0 || frames <= 0 || frames > kWrapFrames || threads <= 0) {
    std::fprintf(stderr, "usage: sync_floor [dir] [rate>0] [count>0] [frames 1-%d] [threads>0]\n",
                 kWrapFrames);
    return 2;
  }
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/sync_floor.wal";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror(("sync_floor: " + path).c_str());
    return 1;
  }
  Shared sh;
  sh.written_at.resize(count);
  sh.durable_at.resize(count);
  std::vector<std::thread> syncers;
  for (int i = 0; i < threads; ++i) syncers.emplace_back(SyncThread, std::ref(sh), fd);

  const std::vector<char> buf(kFrameBytes * frames, 'x');
  const Clock::time_point start = Clock::now();
  for (long i = 0; i < count; ++i) {
    std::this_thread::sleep_until(start + std::chrono::nanoseconds(1'000'000'000 * i / rate));
    const off_t at = 32 + static_cast<off_t>((i * frames) % kWrapFrames) * kFrameBytes;
    if (::pwrite(fd, buf.data(), buf.size(), at) != static_cast<ssize_t>(buf.size())) {
      std::perror("sync_floor: pwrite");
      return 1;
    }
    {
      std::lock_guard<std::mutex> lock(sh.mu);
      sh.written_at[i] = Clock::now();
      sh.written = i + 1;
    }
    sh.cv.notify_one();
  }
  {
    std::unique_lock<std::mutex> lock(sh.mu);
    sh.stopping = true;
  }
  sh.cv.notify_all();
  for (std::thread& t : syncers) t.join();  // each leaves once every write was taken
  ::close(fd);
  std::filesystem::remove(path);

  std::vector<long> us(count);
  for (long i = 0; i < count; ++i) {
    us[i] = std::chrono::duration_cast<std::chrono::microseconds>(sh.durable_at[i] -
                                                                  sh.written_at[i])
                .count();
  }
  std::sort(us.begin(), us.end());
  std::printf(
      "sync_floor: %ld writes of %d frame(s) at %ld/s, %d sync thread(s): p50_us=%ld "
      "p90_us=%ld p99_us=%ld\n",
      count, frames, rate, threads, us[count / 2], us[count * 9 / 10], us[count * 99 / 100]);
  return 0;
}
