// tandem_process.cc: see tandem_process.h.
#include "tests/support/tandem_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#ifndef TANDEM_BIN
#error "TANDEM_BIN must name the tandem binary (set by CMakeLists.txt)"
#endif

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr milliseconds kPollStep(5);

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// One connect attempt; the connected fd or -1.
int TryConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int FreePort() {
  // The kernel may hand the same free port to two binds in a row: a test that asks for a
  // client port and an HTTP port must never get one port twice (the second listener would fail
  // while a wait on the first found the other). Ports are therefore never repeated within a
  // test process.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a = Loopback(0);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    close(fd);
    if (port < 0) return -1;
    if (given.insert(port).second) return port;
  }
  return -1;
}

// ---- TandemProcess -------------------------------------------------------------------------

TandemProcess::TandemProcess() : own_dir_(std::make_unique<TempDir>()) {
  work_dir_ = own_dir_->path();
  log_path_ = own_dir_->Join("tandem.log");
}

TandemProcess::TandemProcess(std::string work_dir, std::string log_name)
    : work_dir_(std::move(work_dir)), log_path_(work_dir_ + "/" + log_name) {}

TandemProcess::~TandemProcess() {
  if (pid_ > 0 && !exit_status_) {
    kill(pid_, SIGKILL);
    Reap(/*block=*/true);
  }
}

bool TandemProcess::Start(const std::vector<std::string>& args) {
  if (Running()) return false;
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argv_store;
  argv_store.push_back(program_);
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  const char* bin = program_.c_str();
  const char* dir = work_dir_.c_str();
  const char* log = log_path_.c_str();

  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    setpgid(0, 0);  // signals sent to the test's process group do not reach the server
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0 || chdir(dir) != 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(bin, argv.data());
    static const char kMsg[] = "TandemProcess: exec of the program failed\n";
    ssize_t ignored = write(2, kMsg, sizeof kMsg - 1);
    (void)ignored;
    _exit(127);
  }
  pid_ = pid;
  exit_status_.reset();
  return true;
}

bool TandemProcess::Reap(bool block) {
  if (pid_ <= 0 || exit_status_) return exit_status_.has_value();
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  if (WIFEXITED(status)) {
    exit_status_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_status_ = 128 + WTERMSIG(status);
  } else {
    exit_status_ = -1;
  }
  return true;
}

bool TandemProcess::Running() { return pid_ > 0 && !Reap(/*block=*/false); }

bool TandemProcess::WaitForPort(int port, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    int fd = TryConnect(port);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    if (!Running() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollStep);
  }
}

bool TandemProcess::WaitForLog(std::string_view needle, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    bool running = Running();  // sampled before reading, so a final write is never missed
    if (Log().find(needle) != std::string::npos) return true;
    if (!running || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollStep);
  }
}

bool TandemProcess::Signal(int sig) {
  if (!Running()) return false;
  return kill(pid_, sig) == 0;
}

std::optional<int> TandemProcess::WaitExit(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (pid_ > 0) {
    if (Reap(/*block=*/false)) return exit_status_;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollStep);
  }
  return std::nullopt;
}

std::string TandemProcess::Log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<int> TandemProcess::Run(const std::vector<std::string>& args, milliseconds timeout) {
  if (!Start(args)) return std::nullopt;
  return WaitExit(timeout);
}

// ---- LineClient ----------------------------------------------------------------------------

LineClient::~LineClient() { Close(); }

void LineClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool LineClient::Connect(int port, milliseconds timeout) {
  Close();
  auto deadline = Clock::now() + timeout;
  while (true) {
    fd_ = TryConnect(port);
    if (fd_ >= 0) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollStep);
  }
}

bool LineClient::Send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> LineClient::ReadLine(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (fd_ < 0 || left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

bool LineClient::WaitClosed(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (fd_ >= 0) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;
  }
  return false;
}

}  // namespace tandem::test
