// faultfs.cc: a FUSE file system for the tests that simulates power loss and I/O errors, in the
// spirit of Jepsen's lazyfs. Hand-written because no Debian package offers a file system that
// keeps unsynced writes apart and can forget them on demand; it sits on libfuse3.
//
//   faultfs BACKING_DIR MOUNTPOINT [FUSE options...]
//
// MOUNTPOINT shows BACKING_DIR (pass-through; foreground, single-threaded). The kernel caches
// nothing (direct_io, attribute and entry timeouts 0), so every read and write reaches this
// process and nothing stale survives a simulated power loss.
//
// Durability model. Data writes and truncates of a file are kept in memory (an Overlay per
// backing inode, shared by every open handle of the file and kept after close while dirty) and
// read back over the backing file; they reach the backing file only when the file is synced
// (fsync or fdatasync on any of its handles: faultfs writes them, then fsyncs the backing
// file). A file opened with O_SYNC or O_DSYNC is synced after each write. Metadata operations
// (create, unlink, rename, mkdir, rmdir, chmod, utimens) go to the backing directory at once
// and are durable at once: SQLite's WAL durability rests on data syncs, which is what is tested.
//
// Control. MOUNTPOINT/.faultfs (not in BACKING_DIR) takes commands, one per line, and reads
// back counters; see fault_control.h. `powerloss` forgets every file's unsynced writes; the file
// system then keeps working (a test kills its server first, so nothing writes meanwhile).
//
// Stops on SIGTERM/SIGINT or `fusermount3 -u MOUNTPOINT` (exit 0); exit 2 for a bad command line.
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/faultfs/fault_control.h"
#include "tests/faultfs/overlay.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

namespace tandem::faultfs {
namespace {

constexpr std::string_view kControlPath = "/.faultfs";

// The unsynced state of one backing inode and how many handles have it open.
struct Node {
  Overlay overlay;
  int open = 0;
  uint64_t errors = 0;  // failed syncs so far (Linux's per-file writeback error sequence)
};

// One open file: a backing descriptor (always read-write when permitted, since a sync through
// a read-only handle must still write the overlay out), or the control file.
struct Handle {
  int fd = -1;
  ino_t ino = 0;
  bool control = false;
  bool append = false;
  bool sync_writes = false;  // O_SYNC / O_DSYNC
  uint64_t errors_seen = 0;  // the node's `errors` this handle has reported
  std::string report;        // control: the counters when it was opened
};

struct State {
  int backing = -1;  // the backing directory
  std::map<ino_t, Node> nodes;
  FaultControl faults;
};

State& S() { return *static_cast<State*>(fuse_get_context()->private_data); }

// "/a/b" -> "a/b" relative to the backing directory; "/" -> ".".
const char* Rel(const char* path) { return path[1] == '\0' ? "." : path + 1; }

bool IsControl(const char* path) { return path != nullptr && kControlPath == path; }

Handle* H(fuse_file_info* fi) { return reinterpret_cast<Handle*>(fi->fh); }

int Errno() { return -errno; }

Node& NodeFor(ino_t ino, int fd) {
  State& s = S();
  auto it = s.nodes.find(ino);
  if (it != s.nodes.end()) return it->second;
  struct stat st {};
  fstat(fd, &st);
  return s.nodes.emplace(ino, Node{Overlay(static_cast<uint64_t>(st.st_size)), 0}).first->second;
}

// Forgets the node of `ino` when nothing has it open and it is clean or its file is gone.
void ForgetIfIdle(ino_t ino, bool gone) {
  State& s = S();
  auto it = s.nodes.find(ino);
  if (it == s.nodes.end() || it->second.open > 0) return;
  if (gone) s.faults.counters().dropped_bytes += it->second.overlay.dirty_bytes();
  if (gone || !it->second.overlay.dirty()) s.nodes.erase(it);
}

// Writes the overlay of `node` to the backing file `fd` and syncs it (see overlay.h).
int Flush(Node& node, int fd, bool datasync) {
  Overlay& o = node.overlay;
  if (o.dirty()) {
    if (ftruncate(fd, static_cast<off_t>(o.clean_limit())) != 0) return Errno();
    for (const auto& [off, bytes] : o.ranges()) {
      for (size_t done = 0; done < bytes.size();) {
        ssize_t n =
            pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(off + done));
        if (n < 0) return Errno();
        done += static_cast<size_t>(n);
      }
    }
    if (ftruncate(fd, static_cast<off_t>(o.size())) != 0) return Errno();
  }
  if ((datasync ? fdatasync(fd) : fsync(fd)) != 0) return Errno();
  o.MarkFlushed();
  return 0;
}

void PowerLoss() {
  State& s = S();
  for (auto it = s.nodes.begin(); it != s.nodes.end();) {
    s.faults.counters().dropped_bytes += it->second.overlay.Drop();
    it = it->second.open > 0 ? std::next(it) : s.nodes.erase(it);
  }
}

// --- operations ---------------------------------------------------------------------------------

void* Init(fuse_conn_info*, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->auto_cache = 0;
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1;  // unlink at once (no .fuse_hidden files); open handles keep their fd
  cfg->nullpath_ok = 1;
  return fuse_get_context()->private_data;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  Handle* h = fi != nullptr ? H(fi) : nullptr;
  if ((h != nullptr && h->control) || IsControl(path)) {
    *st = {};
    st->st_mode = S_IFREG | 0666;
    st->st_nlink = 1;
    return 0;
  }
  int rc =
      h != nullptr ? fstat(h->fd, st) : fstatat(S().backing, Rel(path), st, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) return Errno();
  auto it = S().nodes.find(st->st_ino);
  if (S_ISREG(st->st_mode) && it != S().nodes.end()) {
    st->st_size = static_cast<off_t>(it->second.overlay.size());
    st->st_blocks = (st->st_size + 511) / 512;
  }
  return 0;
}

int OpenDir(const char* path, fuse_file_info* fi) {
  int fd = openat(S().backing, Rel(path), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno();
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    int rc = Errno();
    close(fd);
    return rc;
  }
  fi->fh = reinterpret_cast<uint64_t>(d);
  return 0;
}

int ReadDir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi,
            fuse_readdir_flags) {
  DIR* d = reinterpret_cast<DIR*>(fi->fh);
  rewinddir(d);
  while (dirent* e = readdir(d)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(e->d_type));
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int ReleaseDir(const char*, fuse_file_info* fi) {
  closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}

// Opens the backing file (read-write when permitted) and registers the handle.
int OpenBacking(const char* path, int flags, mode_t mode, fuse_file_info* fi) {
  int base = flags & ~(O_ACCMODE | O_APPEND | O_TRUNC);
  int fd = openat(S().backing, Rel(path), base | O_RDWR | O_CLOEXEC, mode);
  if (fd < 0 && (errno == EACCES || errno == EISDIR || errno == EROFS)) {
    fd = openat(S().backing, Rel(path), (flags & ~(O_APPEND | O_TRUNC)) | O_CLOEXEC, mode);
  }
  if (fd < 0) return Errno();
  struct stat st {};
  fstat(fd, &st);
  auto* h = new Handle;
  h->fd = fd;
  h->ino = st.st_ino;
  h->append = (flags & O_APPEND) != 0;
  h->sync_writes = (flags & (O_SYNC | O_DSYNC)) != 0;
  Node& node = NodeFor(h->ino, fd);
  ++node.open;
  h->errors_seen = node.errors;  // a handle hears of failures after its open only
  if ((flags & O_TRUNC) != 0) node.overlay.Truncate(0);
  fi->fh = reinterpret_cast<uint64_t>(h);
  fi->direct_io = 1;
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  if (IsControl(path)) {
    auto* h = new Handle;
    h->control = true;
    h->report = S().faults.Report();
    fi->fh = reinterpret_cast<uint64_t>(h);
    fi->direct_io = 1;
    return 0;
  }
  return OpenBacking(path, fi->flags, 0, fi);
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  if (IsControl(path)) return -EEXIST;
  return OpenBacking(path, fi->flags | O_CREAT, mode, fi);
}

int Read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Handle* h = H(fi);
  if (h->control) {
    if (static_cast<size_t>(off) >= h->report.size()) return 0;
    size_t n = std::min(size, h->report.size() - static_cast<size_t>(off));
    std::memcpy(buf, h->report.data() + off, n);
    return static_cast<int>(n);
  }
  const int fd = h->fd;
  ssize_t n = NodeFor(h->ino, fd)
                  .overlay.Read(static_cast<uint64_t>(off), size, buf,
                                [fd](uint64_t at, size_t len, char* out) {
                                  return pread(fd, out, len, static_cast<off_t>(at));
                                });
  return n < 0 ? Errno() : static_cast<int>(n);
}

int Write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Handle* h = H(fi);
  State& s = S();
  if (h->control) {
    int power_losses = 0;
    std::string error;
    bool ok = s.faults.Apply(std::string_view(buf, size), &power_losses, &error);
    for (int i = 0; i < power_losses; ++i) PowerLoss();
    if (!ok) {
      std::fprintf(stderr, "faultfs: %s\n", error.c_str());
      return -EINVAL;
    }
    return static_cast<int>(size);
  }
  if (int err = s.faults.BeforeWrite(); err != 0) return -err;
  Node& node = NodeFor(h->ino, h->fd);
  uint64_t at = h->append ? node.overlay.size() : static_cast<uint64_t>(off);
  node.overlay.Write(at, buf, size);
  s.faults.counters().write_bytes += size;
  if (h->sync_writes) {
    if (int rc = Flush(node, h->fd, true); rc != 0) return rc;
  }
  return static_cast<int>(size);
}

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  Handle* h = fi != nullptr ? H(fi) : nullptr;
  if ((h != nullptr && h->control) || IsControl(path)) return 0;  // `echo cmd > .faultfs`
  if (h != nullptr) {
    NodeFor(h->ino, h->fd).overlay.Truncate(static_cast<uint64_t>(size));
    return 0;
  }
  int fd = openat(S().backing, Rel(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno();
  struct stat st {};
  fstat(fd, &st);
  NodeFor(st.st_ino, fd).overlay.Truncate(static_cast<uint64_t>(size));
  close(fd);
  return 0;
}

int Fsync(const char*, int datasync, fuse_file_info* fi) {
  Handle* h = H(fi);
  if (h->control) return 0;
  State& s = S();
  Node& node = NodeFor(h->ino, h->fd);
  if (int err = s.faults.BeforeSync(); err != 0) {
    s.faults.counters().dropped_bytes += node.overlay.Drop();
    ++node.errors;
  }
  // As Linux reports a failed writeback: once to every handle that was open when it happened
  // (not only to the caller whose sync failed), so a process syncing through a second
  // descriptor still learns that earlier writes are gone.
  if (h->errors_seen != node.errors) {
    h->errors_seen = node.errors;
    return -EIO;
  }
  return Flush(node, h->fd, datasync != 0);
}

int Release(const char*, fuse_file_info* fi) {
  Handle* h = H(fi);
  if (!h->control) {
    struct stat st {};
    bool gone = fstat(h->fd, &st) == 0 && st.st_nlink == 0;
    --S().nodes[h->ino].open;
    ForgetIfIdle(h->ino, gone);
    close(h->fd);
  }
  delete h;
  return 0;
}

// The inode at `path` if it is a file whose last name this is, else 0.
ino_t LastName(const char* path) {
  struct stat st {};
  if (fstatat(S().backing, Rel(path), &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  return S_ISREG(st.st_mode) && st.st_nlink == 1 ? st.st_ino : 0;
}

int Unlink(const char* path) {
  if (IsControl(path)) return -EPERM;
  ino_t ino = LastName(path);
  if (unlinkat(S().backing, Rel(path), 0) != 0) return Errno();
  if (ino != 0) ForgetIfIdle(ino, true);
  return 0;
}

int Rename(const char* from, const char* to, unsigned int flags) {
  if (IsControl(from) || IsControl(to)) return -EPERM;
  ino_t replaced = LastName(to);
  if (renameat2(S().backing, Rel(from), S().backing, Rel(to), flags) != 0) return Errno();
  if (replaced != 0 && (flags & RENAME_EXCHANGE) == 0) ForgetIfIdle(replaced, true);
  return 0;
}

int MkDir(const char* path, mode_t mode) {
  return mkdirat(S().backing, Rel(path), mode) == 0 ? 0 : Errno();
}

int RmDir(const char* path) {
  return unlinkat(S().backing, Rel(path), AT_REMOVEDIR) == 0 ? 0 : Errno();
}

int ChMod(const char* path, mode_t mode, fuse_file_info* fi) {
  Handle* h = fi != nullptr ? H(fi) : nullptr;
  if ((h != nullptr && h->control) || IsControl(path)) return 0;
  int rc = h != nullptr ? fchmod(h->fd, mode) : fchmodat(S().backing, Rel(path), mode, 0);
  return rc == 0 ? 0 : Errno();
}

int ChOwn(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  Handle* h = fi != nullptr ? H(fi) : nullptr;
  if ((h != nullptr && h->control) || IsControl(path)) return 0;
  int rc = h != nullptr ? fchown(h->fd, uid, gid)
                        : fchownat(S().backing, Rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
  return rc == 0 ? 0 : Errno();
}

int UTimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  Handle* h = fi != nullptr ? H(fi) : nullptr;
  if ((h != nullptr && h->control) || IsControl(path)) return 0;
  int rc = h != nullptr ? futimens(h->fd, tv)
                        : utimensat(S().backing, Rel(path), tv, AT_SYMLINK_NOFOLLOW);
  return rc == 0 ? 0 : Errno();
}

int Access(const char* path, int mask) {
  if (IsControl(path)) return 0;
  return faccessat(S().backing, Rel(path), mask, 0) == 0 ? 0 : Errno();
}

int StatFs(const char*, struct statvfs* st) { return fstatvfs(S().backing, st) == 0 ? 0 : Errno(); }

// Directory entries are durable at once (see the top of the file).
int FsyncDir(const char*, int, fuse_file_info*) { return 0; }

fuse_operations Operations() {
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = ReleaseDir;
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write = Write;
  ops.truncate = Truncate;
  ops.fsync = Fsync;
  ops.release = Release;
  ops.unlink = Unlink;
  ops.rename = Rename;
  ops.mkdir = MkDir;
  ops.rmdir = RmDir;
  ops.chmod = ChMod;
  ops.chown = ChOwn;
  ops.utimens = UTimens;
  ops.access = Access;
  ops.statfs = StatFs;
  ops.fsyncdir = FsyncDir;
  return ops;
}

}  // namespace
}  // namespace tandem::faultfs

int main(int argc, char** argv) {
  using namespace tandem::faultfs;
  if (argc < 3) {
    std::fprintf(stderr, "usage: faultfs BACKING_DIR MOUNTPOINT [FUSE options...]\n");
    return 2;
  }
  State state;
  state.backing = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (state.backing < 0) {
    std::fprintf(stderr, "faultfs: backing directory %s: %s\n", argv[1], std::strerror(errno));
    return 2;
  }
  // Foreground and single-threaded: every operation runs in turn, so the state needs no lock.
  std::vector<char*> args{argv[0],
                          argv[2],
                          const_cast<char*>("-f"),
                          const_cast<char*>("-s"),
                          const_cast<char*>("-o"),
                          const_cast<char*>("fsname=faultfs,subtype=faultfs")};
  for (int i = 3; i < argc; ++i) args.push_back(argv[i]);
  fuse_operations ops = Operations();
  int rc = fuse_main(static_cast<int>(args.size()), args.data(), &ops, &state);
  close(state.backing);
  return rc;
}
