// identity.cc: the store identity file and the creation rule (see identity.h).
//
// File format (one JSON object, written by WriteIdentityFile only):
//   {"v":1,"store_id":"<32 hex>","cluster_id":"...","group":"...","group_key":"<64 hex>"}
// and "rescued_to":"<path>" while a rescued copy waits to be put back.
#include "store/identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/random.h>
#include <sys/stat.h>

namespace tandem::store {
namespace {

namespace fs = std::filesystem;

std::string DirOf(const std::string& store_path) {
  fs::path dir = fs::path(store_path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

bool IsHex(const std::string& s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(path, what + ": " + std::strerror(errno));
}

}  // namespace

std::string IdentityPath(const std::string& store_path) {
  return (fs::path(DirOf(store_path)) / "store.identity").string();
}

Result<std::optional<StoreIdentity>> ReadIdentityFile(const std::string& store_path) {
  const std::string path = IdentityPath(store_path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // No file, or no directory to hold one (the store path itself then says what is wrong).
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<StoreIdentity>();
    return Errno("cannot read the store identity", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const char* what) {
    return Status::Corruption(path, fmt::format("not a store identity file: {}", what));
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  auto text_of = [&](const char* key, std::string* out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  StoreIdentity id;
  if (!text_of("store_id", &id.store_id) || !IsHex(id.store_id, 32)) return bad("bad store_id");
  if (!text_of("group_key", &id.group_key) || !IsHex(id.group_key, 64)) {
    return bad("bad group_key");
  }
  if (!text_of("cluster_id", &id.cluster_id)) return bad("bad cluster_id");
  if (!text_of("group", &id.group)) return bad("bad group");
  if (j.contains("rescued_to") && !text_of("rescued_to", &id.rescued_to)) {
    return bad("bad rescued_to");
  }
  return std::optional<StoreIdentity>(std::move(id));
}

Status WriteIdentityFile(const std::string& store_path, const StoreIdentity& identity) {
  const std::string path = IdentityPath(store_path);
  const std::string tmp = path + ".tmp";
  nlohmann::json j = {{"v", 1},
                      {"store_id", identity.store_id},
                      {"cluster_id", identity.cluster_id},
                      {"group", identity.group},
                      {"group_key", identity.group_key}};
  if (!identity.rescued_to.empty()) j["rescued_to"] = identity.rescued_to;
  const std::string text = j.dump() + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot write the store identity", tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Errno("cannot write the store identity", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("cannot sync the store identity", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename", tmp);
  int dfd = ::open(DirOf(store_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the rename is durable too; a failure here loses nothing we rely on
    ::close(dfd);
  }
  return Status::OK();
}

Result<std::string> StoreTrace(const std::string& store_path) {
  const std::string dir = DirOf(store_path);
  const std::string base = fs::path(store_path).filename().string();
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return std::string();
    return Status::IOError(dir, "cannot list the store directory: " + ec.message());
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == base) {
      std::error_code size_ec;
      if (!it->is_regular_file(size_ec) || it->file_size(size_ec) > 0) return it->path().string();
    } else if (name == "store.identity" || name == base + "-wal" ||
               name.rfind(base + ".rescued-", 0) == 0) {
      return it->path().string();
    }
  }
  if (ec) return Status::IOError(dir, "cannot list the store directory: " + ec.message());
  return std::string();
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // the kernel's generator does not fail once the system is up
    }
    got += static_cast<size_t>(n);
  }
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char c : raw) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

std::string IdentityMismatch(const StoreIdentity& recorded, const std::string& cluster_id,
                             const std::string& group) {
  if (!recorded.cluster_id.empty() && recorded.cluster_id != cluster_id) {
    return fmt::format("the store belongs to cluster id '{}', this member is configured with '{}'",
                       recorded.cluster_id, cluster_id);
  }
  if (!recorded.group.empty() && recorded.group != group) {
    auto name = [](const std::string& g) {
      return g.empty() ? std::string("no group (a single instance)") : "group '" + g + "'";
    };
    return fmt::format("the store is served by {}, this member is configured with {}",
                       name(recorded.group), name(group));
  }
  return {};
}

}  // namespace tandem::store
