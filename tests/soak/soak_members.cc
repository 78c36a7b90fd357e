// soak_members.cc: member processes and their supervisor (see soak_members.h).
#include "tests/soak/soak_members.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include <sys/wait.h>

namespace tandem::soak {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

Members::Members(std::string tandem_bin, std::vector<MemberSpec> specs, int restart_delay_ms)
    : tandem_bin_(std::move(tandem_bin)),
      specs_(std::move(specs)),
      restart_delay_ms_(restart_delay_ms),
      pid_(specs_.size(), -1),
      restart_at_(specs_.size(), 0),
      starts_(specs_.size(), 0) {}

Members::~Members() { StopAll(); }

bool Members::Start(int m) {
  std::lock_guard<std::mutex> lock(mu_);
  return StartLocked(m);
}

bool Members::StartLocked(int m) {
  auto i = static_cast<size_t>(m);
  if (pid_[i] > 0) return false;
  const MemberSpec& s = specs_[i];
  int n = ++starts_[i];
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // A session of its own, as systemd gives a service: signals aimed at the soak's terminal
    // or process group (Ctrl-C, and the SIGHUP the kernel sends to stopped members of a group
    // that its parent's exit orphans, which would kill a member the nemesis stopped) stay away.
    setsid();
    int fd = open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dprintf(fd, "=== soak: start %d of %s ===\n", n, s.name.c_str());
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execlp("ip", "ip", "netns", "exec", s.ns.c_str(), tandem_bin_.c_str(), "serve", "-c",
           s.config_path.c_str(), nullptr);
    _exit(127);
  }
  pid_[i] = pid;
  return true;
}

void Members::ReapLocked(int m, bool block) {
  auto i = static_cast<size_t>(m);
  if (pid_[i] <= 0) return;
  int status = 0;
  if (waitpid(pid_[i], &status, block ? 0 : WNOHANG) != pid_[i]) return;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  exits_.push_back(ExitRecord{m, code, NowUs()});
  pid_[i] = -1;
  restart_at_[i] = NowUs() + int64_t{restart_delay_ms_} * 1000;
}

void Members::Supervise() {
  supervising_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void Members::Loop() {
  while (supervising_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int m = 0; m < static_cast<int>(specs_.size()); ++m) {
        ReapLocked(m, false);
        if (pid_[static_cast<size_t>(m)] < 0 && NowUs() >= restart_at_[static_cast<size_t>(m)]) {
          StartLocked(m);
        }
      }
    }
    SleepMs(5);
  }
}

bool Members::Signal(int m, int sig) {
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked(m, false);
  pid_t pid = pid_[static_cast<size_t>(m)];
  return pid > 0 && kill(pid, sig) == 0;
}

bool Members::Running(int m) {
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked(m, false);
  return pid_[static_cast<size_t>(m)] > 0;
}

void Members::StopAll() {
  supervising_ = false;
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (pid_t pid : pid_) {
    if (pid > 0) {
      kill(pid, SIGCONT);
      kill(pid, SIGTERM);
    }
  }
  int64_t deadline = NowUs() + 10'000'000;
  for (int m = 0; m < static_cast<int>(specs_.size()); ++m) {
    while (pid_[static_cast<size_t>(m)] > 0 && NowUs() < deadline) {
      ReapLocked(m, false);
      if (pid_[static_cast<size_t>(m)] > 0) SleepMs(5);
    }
    if (pid_[static_cast<size_t>(m)] > 0) {
      kill(pid_[static_cast<size_t>(m)], SIGKILL);
      ReapLocked(m, true);
    }
  }
}

std::vector<ExitRecord> Members::exits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exits_;
}

int Members::starts(int m) const {
  std::lock_guard<std::mutex> lock(mu_);
  return starts_[static_cast<size_t>(m)];
}

}  // namespace tandem::soak
