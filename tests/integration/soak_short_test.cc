// soak_short_test.cc: the short form of the soak in the suite. It runs the soak program
// (tests/soak/soak.cc) against the tandem binary for half a minute with a fixed seed: a pair in
// two network namespaces under a streaming load, with kill -9, SIGSTOP, SIGTERM and peer-link
// partitions of the active, and requires exit status 0: no acknowledged message lost, never two
// actives, kill -9 takeovers within their targets, no hang, no crash.
//
// The soak exits 77 when this machine cannot create network namespaces (not root, no iproute2);
// this test then ends with the same status, which ctest reports as Skipped, never as Passed.
// While the soak runs, the test also checks that its members live in sessions of their own.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

#include <sys/wait.h>

namespace tandem::test {
namespace {

// The soak program running in the background, its output going to a file.
class SoakRun {
 public:
  SoakRun(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~SoakRun() { Wait(1); }
  pid_t pid() const { return pid_; }

  // Its exit status (128 + signal when killed); -1 when it had to be stopped after timeout_s.
  int Wait(int timeout_s) {
    if (pid_ <= 0) return status_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGINT);  // the soak then removes its namespaces and stops its members
        std::this_thread::sleep_for(std::chrono::seconds(20));
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return status_ = -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
    return status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// The session of process `pid` (field 6 of /proc/<pid>/stat), or -1.
pid_t SessionOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 1));
  std::string state;
  long ppid = 0, pgrp = 0, session = -1;
  fields >> state >> ppid >> pgrp >> session;
  return static_cast<pid_t>(session);
}

// The pids of the processes in network namespace `ns`.
std::vector<pid_t> NsPids(const std::string& ns) {
  std::vector<pid_t> pids;
  FILE* p = popen(("ip netns pids " + ns + " 2>/dev/null").c_str(), "r");
  if (!p) return pids;
  long pid = 0;
  while (std::fscanf(p, "%ld", &pid) == 1) pids.push_back(static_cast<pid_t>(pid));
  pclose(p);
  return pids;
}

// The two namespaces named in the soak's first line ("pair in namespaces X and Y,"), waiting
// for the line at most 20 s.
std::vector<std::string> Namespaces(const TempDir& dir, const std::string& log_name) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = dir.ReadFile(log_name);
    size_t at = out.find("pair in namespaces ");
    size_t comma = at == std::string::npos ? at : out.find(',', at);
    if (comma != std::string::npos) {
      std::istringstream words(out.substr(at + 19, comma - at - 19));
      std::string a, and_word, b;
      words >> a >> and_word >> b;
      return {a, b};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

}  // namespace

TEST_SUITE("soak") {
  TEST_CASE("soak: 30 s of faults on a pair, nothing acknowledged lost, one active at a time") {
    TempDir dir;
    std::string log = dir.Join("soak.out");
    SoakRun soak({TANDEM_SOAK_BIN, "--tandem", TANDEM_BIN, "--minutes", "0.5", "--seed", "7",
                  "--faultfs", FAULTFS_BIN, "--dir", dir.Join("run")},
                 log);

    // The members run in sessions of their own, as under systemd: job control aimed at the
    // soak's session (a terminal's Ctrl-C, or the SIGHUP the kernel sends to the stopped
    // members of a process group that its parent's exit orphans) must not reach them.
    std::vector<std::string> ns = Namespaces(dir, "soak.out");
    int members_seen = 0, in_soak_session = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (ns.size() == 2 && members_seen < 2 && std::chrono::steady_clock::now() < deadline) {
      members_seen = 0;
      in_soak_session = 0;
      for (const auto& n : ns) {
        std::vector<pid_t> pids = NsPids(n);
        members_seen += pids.empty() ? 0 : 1;
        for (pid_t p : pids) in_soak_session += SessionOf(p) == getsid(soak.pid()) ? 1 : 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }

    int rc = soak.Wait(200);
    std::string out = dir.ReadFile("soak.out");
    if (rc == 77) {
      std::fprintf(stderr, "soak_short_test skipped: %s", out.c_str());
      std::fflush(stderr);
      std::_Exit(77);
    }
    INFO("soak output:\n", out.substr(out.size() > 6000 ? out.size() - 6000 : 0));
    CHECK(members_seen == 2);
    CHECK(in_soak_session == 0);
    CHECK(rc == 0);
    CHECK(out.find("soak: result PASS") != std::string::npos);
    CHECK(out.find("soak: check lost ok") != std::string::npos);
    CHECK(out.find("soak: check one_active ok") != std::string::npos);
  }

}  // TEST_SUITE

}  // namespace tandem::test
