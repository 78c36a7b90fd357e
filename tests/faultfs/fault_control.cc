// fault_control.cc: the control file's commands and counters (see fault_control.h).
#include "tests/faultfs/fault_control.h"

#include <fmt/format.h>

namespace tandem::faultfs {

bool FaultControl::Apply(std::string_view text, int* power_losses, std::string* error) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty()) continue;
    if (line == "powerloss") {
      ++*power_losses;
      ++counters_.powerlosses;
    } else if (line == "eio-fsync") {
      eio_fsync_ = true;
    } else if (line == "eio-write") {
      eio_write_ = true;
    } else if (line == "enospc-write") {
      enospc_write_ = true;
    } else if (line == "clear") {
      eio_fsync_ = eio_write_ = enospc_write_ = false;
    } else {
      *error = fmt::format(
          "unknown command \"{}\" (powerloss, eio-fsync, eio-write, enospc-write or clear)", line);
      return false;
    }
  }
  return true;
}

int FaultControl::BeforeWrite() {
  ++counters_.writes;
  int err = 0;
  if (eio_write_) {
    eio_write_ = false;
    err = EIO;
  } else if (enospc_write_) {
    err = ENOSPC;
  }
  if (err != 0) ++counters_.injected;
  return err;
}

int FaultControl::BeforeSync() {
  ++counters_.syncs;
  if (!eio_fsync_) return 0;
  eio_fsync_ = false;
  ++counters_.injected;
  return EIO;
}

std::string FaultControl::Report() const {
  return fmt::format(
      "writes {}\nwrite_bytes {}\nsyncs {}\npowerlosses {}\ndropped_bytes {}\ninjected {}\n"
      "armed_eio_fsync {}\narmed_eio_write {}\narmed_enospc_write {}\n",
      counters_.writes, counters_.write_bytes, counters_.syncs, counters_.powerlosses,
      counters_.dropped_bytes, counters_.injected, int{eio_fsync_}, int{eio_write_},
      int{enospc_write_});
}

}  // namespace tandem::faultfs
