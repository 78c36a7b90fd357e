// Status and Result<T>: the one error vocabulary of tandem, used by every folder.
//
// A Status is OK or a code plus a message that says what failed and on which input
// ("IO error: store.db: disk I/O error"). An OK Status holds no allocation. Result<T> carries a
// Status and, when OK, a value. Both are [[nodiscard]]: to drop an error on purpose call
// IgnoreError(), so every such place can be found with grep.
//
// Ownership: values own their message. Thread safety: plain values, no shared state.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tandem {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kNotFound,
    kCorruption,
    kInvalidArgument,
    kIOError,
    kBusy,  // SQLITE_BUSY: another process holds the store lock
    kTimedOut,
    kShutdownInProgress,
    kFenced,  // we no longer own the store (the epoch moved on)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kNotFound, msg, msg2);
  }
  static Status Corruption(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kCorruption, msg, msg2);
  }
  static Status InvalidArgument(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kInvalidArgument, msg, msg2);
  }
  static Status IOError(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kIOError, msg, msg2);
  }
  // A write refused for lack of space: an IOError whose message ends in "disk full". Made only
  // here, and recognised only by IsDiskFull(), so that callers never match message text.
  static Status DiskFull(std::string_view msg) { return IOError(msg, kDiskFull); }
  static Status Busy(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kBusy, msg, msg2);
  }
  static Status TimedOut(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kTimedOut, msg, msg2);
  }
  static Status ShutdownInProgress(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kShutdownInProgress, msg, msg2);
  }
  static Status Fenced(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kFenced, msg, msg2);
  }

  Status(const Status& o) : state_(o.state_ ? std::make_unique<State>(*o.state_) : nullptr) {}
  Status& operator=(const Status& o) {
    state_ = o.state_ ? std::make_unique<State>(*o.state_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsDiskFull() const {
    const std::string& m = message();
    return IsIOError() && m.size() >= kDiskFull.size() &&
           m.compare(m.size() - kDiskFull.size(), kDiskFull.size(), kDiskFull) == 0;
  }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsTimedOut() const { return code() == Code::kTimedOut; }
  bool IsShutdownInProgress() const { return code() == Code::kShutdownInProgress; }
  bool IsFenced() const { return code() == Code::kFenced; }

  // The message alone, without the code's name.
  const std::string& message() const {
    static const std::string kEmpty;
    return state_ ? state_->msg : kEmpty;
  }
  // "OK" or "<code name>: <message>".
  std::string ToString() const {
    if (ok()) return "OK";
    return std::string(CodeName(state_->code)) + ": " + state_->msg;
  }
  void IgnoreError() const {}

  static const char* CodeName(Code c) {
    switch (c) {
      case Code::kOk:
        return "OK";
      case Code::kNotFound:
        return "Not found";
      case Code::kCorruption:
        return "Corruption";
      case Code::kInvalidArgument:
        return "Invalid argument";
      case Code::kIOError:
        return "IO error";
      case Code::kBusy:
        return "Busy";
      case Code::kTimedOut:
        return "Timed out";
      case Code::kShutdownInProgress:
        return "Shutdown in progress";
      case Code::kFenced:
        return "Fenced";
    }
    return "Unknown";
  }

 private:
  static constexpr std::string_view kDiskFull = "disk full";
  struct State {
    Code code;
    std::string msg;
  };
  Status(Code code, std::string_view msg, std::string_view msg2)
      : state_(std::make_unique<State>(State{code, std::string(msg)})) {
    if (!msg2.empty()) {
      state_->msg.append(": ");
      state_->msg.append(msg2);
    }
  }
  std::unique_ptr<State> state_;  // null means OK
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  void IgnoreError() const {}

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tandem
