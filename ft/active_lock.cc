// active_lock.cc: an OFD lock next to the store whose release tells a standby the active died
// (see active_lock.h).
#include "ft/active_lock.h"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

namespace tandem::ft {

struct ActiveLock::Shared {
  std::mutex mu;
  uv_async_t async{};
  bool open = false;   // async is initialised and not closing
  bool armed = false;  // a thread waits (or its report is not handled yet)
  bool fired = false;  // the thread found the lock free
  std::function<void()> on_free;
  std::function<void()> close_done;
};

namespace {

flock WholeFile(short type) {
  flock fl{};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  fl.l_pid = 0;  // required by OFD locks
  return fl;
}

}  // namespace

ActiveLock::ActiveLock(uv_loop_t* loop, std::string path)
    : loop_(loop), path_(std::move(path)), shared_(std::make_shared<Shared>()) {
  uv_async_init(loop_, &shared_->async, [](uv_async_t* h) noexcept {
    auto* sh = static_cast<Shared*>(h->data);
    std::function<void()> cb;
    {
      std::lock_guard<std::mutex> lock(sh->mu);
      if (!sh->fired) return;
      sh->fired = false;
      sh->armed = false;
      cb = std::move(sh->on_free);
    }
    if (cb) cb();
  });
  shared_->async.data = shared_.get();
  shared_->open = true;
}

ActiveLock::~ActiveLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status ActiveLock::Hold() {
  if (fd_ >= 0) return Status::OK();
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path_, std::strerror(errno));
  flock fl = WholeFile(F_WRLCK);
  if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EAGAIN || err == EACCES) return Status::Busy(path_, "held by another member");
    return Status::IOError(path_, std::strerror(err));
  }
  fd_ = fd;
  return Status::OK();
}

bool ActiveLock::armed() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->armed;
}

void ActiveLock::Arm(std::function<void()> on_free) {
  std::shared_ptr<Shared> sh = shared_;
  {
    std::lock_guard<std::mutex> lock(sh->mu);
    if (sh->armed || !sh->open) return;
    sh->armed = true;
    sh->on_free = std::move(on_free);
  }
  std::thread([sh, path = path_] {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      // No directory yet (a first start): no signal; the heartbeats still decide.
      std::lock_guard<std::mutex> lock(sh->mu);
      sh->armed = false;
      return;
    }
    flock fl = WholeFile(F_WRLCK);
    int rc;
    do {
      rc = fcntl(fd, F_OFD_SETLKW, &fl);
    } while (rc != 0 && errno == EINTR);
    ::close(fd);  // releases it at once: the next active takes it
    std::lock_guard<std::mutex> lock(sh->mu);
    if (rc != 0 || !sh->open) {
      sh->armed = false;
      return;
    }
    sh->fired = true;
    uv_async_send(&sh->async);
  }).detach();
}

void ActiveLock::Close(std::function<void()> done) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (!shared_->open) return;
    shared_->open = false;
    shared_->on_free = nullptr;
    shared_->close_done = std::move(done);
  }
  // The handle's memory lives in shared_, which the close callback keeps alive until it ran.
  auto* keep = new std::shared_ptr<Shared>(shared_);
  shared_->async.data = keep;
  uv_close(reinterpret_cast<uv_handle_t*>(&shared_->async), [](uv_handle_t* h) noexcept {
    auto* keep = static_cast<std::shared_ptr<Shared>*>(h->data);
    std::function<void()> done = std::move((*keep)->close_done);
    delete keep;
    if (done) done();
  });
}

}  // namespace tandem::ft
