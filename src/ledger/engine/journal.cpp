// The journal file: scanning (torn tail vs corruption), the folder's lock and epoch, operator
// truncation, appends and syncs. The record codec and its format versions are journal_codec.cpp.
#include "ledger/engine/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace sc::ledger::journal {
namespace {

Error ioError(const std::string& what) {
  return Error::transient(kUnavailable, "journal " + what + ": " + std::strerror(errno));
}

uint32_t le32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

std::string hex32(uint32_t v) {
  char b[11];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

// Reads [at, at + n) of the file; false on a short read.
bool readAt(int fd, uint64_t at, size_t n, std::string& out) {
  out.resize(n);
  size_t have = 0;
  while (have < n) {
    ssize_t r = ::pread(fd, out.data() + have, n - have, static_cast<off_t>(at + have));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    have += static_cast<size_t>(r);
  }
  return true;
}

// Offset of the first valid frame (sane length, inside the file, checksum matching) starting in
// (from, size), or nullopt. Only reached for a frame that runs past the end: a torn final record
// cannot be followed by a valid one, so finding one means the length field is corrupt.
// The true next record of a middle one starts within 8 + kMaxRecordBytes of it and is at most as
// long again, so the search reads a bounded window, not the rest of a large journal.
std::optional<uint64_t> validFrameAfter(int fd, uint64_t from, uint64_t size) {
  if (size < from + 1 + 8) return std::nullopt;
  const uint64_t window = std::min<uint64_t>(size - from - 1, 2 * (8 + uint64_t{kMaxRecordBytes}));
  std::string rest;
  if (!readAt(fd, from + 1, window, rest)) return std::nullopt;
  for (size_t q = 0; q + 8 <= rest.size(); ++q) {
    uint32_t len = le32(rest.data() + q);
    if (len == 0 || len > kMaxRecordBytes || q + 8 + len > rest.size()) continue;
    if (crc32(rest.data() + q + 8, len) == le32(rest.data() + q + 4)) return from + 1 + q;
  }
  return std::nullopt;
}

bool allZero(int fd, uint64_t from, uint64_t size) {
  std::string rest;
  if (!readAt(fd, from, size - from, rest)) return false;
  return rest.find_first_not_of('\0') == std::string::npos;
}

Result<void> syncDir(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ioError("open folder " + dir);
  int r = ::fsync(dfd);
  ::close(dfd);
  if (r != 0) return ioError("fsync folder " + dir);
  return {};
}

// Reads the folder's epoch (0 when the file does not exist yet).
Result<uint32_t> readEpoch(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0u;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  uint64_t v = 0;
  size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9' && v <= 0xffffffffull) {
    v = v * 10 + static_cast<uint64_t>(text[n++] - '0');
  }
  if (!in.good() && !in.eof()) return ioError("read " + path);
  if (n == 0 || n > 10 || v > 0xfffffffeull || text.substr(n) != "\n") {
    return Error::permanent(kJournalCorrupt,
                            "ledger epoch file " + path +
                                " is not a decimal counter; it keeps "
                                "ids unique after a truncation: restore it or set it above any "
                                "epoch used before");
  }
  return static_cast<uint32_t>(v);
}

// Replaces the epoch file atomically and durably (write a temp file, sync, rename, sync folder).
Result<void> writeEpoch(const std::string& dir, const std::string& path, uint32_t epoch) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ioError("open " + tmp);
  const std::string text = std::to_string(epoch) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && ::fdatasync(fd) == 0;
  auto err = ok ? Error{} : ioError("write " + tmp);
  ::close(fd);
  if (!ok) return err;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ioError("rename " + tmp);
  return syncDir(dir);
}

}  // namespace

Result<ScanReport> scan(int fd, const std::string& path, const ApplyFn& apply) {
  ScanReport rep;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ioError("stat " + path);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  rep.file_size = file_size;

  // Stream the file in chunks; `buf` holds bytes [buf_start, buf_start + buf.size()).
  std::string buf;
  uint64_t buf_start = 0;
  uint64_t pos = 0;  // start of the next record
  auto ensure = [&](uint64_t end) -> bool {
    if (end > file_size) return false;
    if (end <= buf_start + buf.size()) return true;
    buf.erase(0, pos - buf_start);
    buf_start = pos;
    uint64_t want = std::max<uint64_t>(end - buf_start, 4u << 20);
    want = std::min<uint64_t>(want, file_size - buf_start);
    size_t have = buf.size();
    buf.resize(want);
    while (have < want) {
      ssize_t n = ::pread(fd, buf.data() + have, want - have, static_cast<off_t>(buf_start + have));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        buf.resize(have);
        return false;
      }
      have += static_cast<size_t>(n);
    }
    return true;
  };
  auto stop = [&](ScanReport::Tail tail, std::string problem) {
    rep.tail = tail;
    rep.problem = std::move(problem);
  };
  while (pos < file_size) {
    const uint64_t left = file_size - pos;
    if (left < 8) {
      stop(ScanReport::Tail::kTorn, "incomplete record header (" + std::to_string(left) +
                                        " of 8 bytes) at the end of the file");
      break;
    }
    if (!ensure(pos + 8)) return ioError("read " + path);
    const char* h = buf.data() + (pos - buf_start);
    const uint32_t len = le32(h), crc = le32(h + 4);
    if (len == 0 && allZero(fd, pos, file_size)) {
      stop(ScanReport::Tail::kTorn, "zero-filled tail of " + std::to_string(left) + " bytes");
      break;
    }
    if (8 + uint64_t(len) > left) {
      if (auto next = validFrameAfter(fd, pos, file_size)) {
        stop(ScanReport::Tail::kCorrupt,
             "bad record length " + std::to_string(len) + ": it runs past the end of the file (" +
                 std::to_string(left) + " bytes left) but a valid record follows at offset " +
                 std::to_string(*next));
      } else {
        stop(ScanReport::Tail::kTorn, "final record incomplete: length " + std::to_string(len) +
                                          ", " + std::to_string(left - 8) +
                                          " payload bytes present");
      }
      break;
    }
    if (len == 0 || len > kMaxRecordBytes) {
      stop(ScanReport::Tail::kCorrupt, "bad record length " + std::to_string(len) +
                                           " (must be 1.." + std::to_string(kMaxRecordBytes) + ")");
      break;
    }
    if (!ensure(pos + 8 + len)) return ioError("read " + path);
    std::string_view payload(buf.data() + (pos - buf_start) + 8, len);
    const uint32_t actual = crc32(payload.data(), payload.size());
    if (actual != crc) {
      const uint64_t after = left - 8 - len;
      std::string what = "checksum mismatch (stored " + hex32(crc) + ", computed " + hex32(actual) +
                         ") in a record of " + std::to_string(len) + " bytes";
      if (after == 0) {
        stop(ScanReport::Tail::kTorn, what + ", the final one");
      } else {
        stop(ScanReport::Tail::kCorrupt,
             what + " followed by " + std::to_string(after) + " more bytes");
      }
      break;
    }
    auto rec = decode(payload);
    if (!rec) {
      stop(ScanReport::Tail::kCorrupt,
           "record of " + std::to_string(len) +
               " bytes has a valid checksum but does not decode: " + decodeProblem(payload));
      break;
    }
    if (apply) {
      auto applied = apply(std::move(*rec), pos);
      if (!applied) return applied.error();
    }
    pos += 8 + len;
    ++rep.records;
  }
  rep.valid_bytes = pos;
  return rep;
}

Result<ScanReport> scanFile(const std::string& path, const ApplyFn& apply) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("open " + path);
  auto r = scan(fd, path, apply);
  ::close(fd);
  return r;
}

Error corruptionError(const std::string& path, const ScanReport& report) {
  return Error::permanent(
      kJournalCorrupt,
      "journal " + path + " is corrupt at byte offset " + std::to_string(report.valid_bytes) +
          ": " + report.problem + " (" + std::to_string(report.records) +
          " valid records before it). The file was left unchanged; inspect it with "
          "`sc-ledger-journal verify " +
          path +
          "` and, if you decide to drop what follows, "
          "`sc-ledger-journal truncate --at " +
          std::to_string(report.valid_bytes) + " " + path + "`");
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

DirLock& DirLock::operator=(DirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<DirLock> DirLock::acquire(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kLockFile).string();
  DirLock lock;
  lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) return ioError("open " + path);
  if (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    return Error::permanent(kDataDirInUse, "ledger data folder " + dir +
                                               " is in use by another ledger instance (" + path +
                                               " is locked); one ledger per LEDGER_DATA_DIR");
  }
  return lock;
}

Result<uint64_t> truncateAt(const std::string& journal_path, uint64_t offset) {
  auto lock = DirLock::acquire(std::filesystem::path(journal_path).parent_path().string());
  if (!lock) return lock.error();
  std::vector<uint64_t> starts;
  auto rep = scanFile(journal_path, [&](Record&&, uint64_t at) -> Result<void> {
    starts.push_back(at);
    return {};
  });
  if (!rep) return rep.error();
  if (offset != rep->valid_bytes && !std::binary_search(starts.begin(), starts.end(), offset)) {
    return Error::permanent(kInvalidCommand,
                            "offset " + std::to_string(offset) + " of " + journal_path +
                                " is not the start of a valid record; valid records end at " +
                                std::to_string(rep->valid_bytes) + " (run verify)");
  }
  int fd = ::open(journal_path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ioError("open " + journal_path);
  bool ok = ::ftruncate(fd, static_cast<off_t>(offset)) == 0 && ::fdatasync(fd) == 0;
  auto err = ok ? Error{} : ioError("truncate " + journal_path);
  ::close(fd);
  if (!ok) return err;
  return rep->file_size - offset;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Result<File::ReplayStats> File::open(const std::string& dir,
                                     const std::function<Result<void>(Record&&)>& apply) {
  std::error_code ec;
  bool created_dir = !std::filesystem::exists(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error::permanent(kInvalidCommand,
                            "cannot create ledger data dir '" + dir + "': " + ec.message());
  }
  // One ledger per folder: a second writer would interleave records.
  auto lock = DirLock::acquire(dir);
  if (!lock) return lock.error();
  const std::string epoch_path = (std::filesystem::path(dir) / kEpochFile).string();
  auto epoch = readEpoch(epoch_path);
  if (!epoch) return epoch.error();

  path_ = (std::filesystem::path(dir) / kJournalFile).string();
  // Snapshots of earlier instances that never replaced the journal (stopped while writing one).
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(std::string(kJournalFile) + ".compact", 0) == 0)
      std::filesystem::remove(e.path(), ec);
  }
  bool existed = std::filesystem::exists(path_, ec);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return ioError("open " + path_);
  if (!existed || created_dir) {
    // Make the new file's directory entry durable too.
    if (auto s = syncDir(dir); !s) return s.error();
  }

  auto rep = scan(fd_, path_, [&](Record&& r, uint64_t) { return apply(std::move(r)); });
  if (!rep) return rep.error();
  if (rep->tail == ScanReport::Tail::kCorrupt) return corruptionError(path_, *rep);
  ReplayStats stats;
  stats.records = rep->records;
  stats.valid_bytes = rep->valid_bytes;
  stats.truncated_bytes = rep->file_size - rep->valid_bytes;
  if (rep->tail == ScanReport::Tail::kTorn) {
    if (::ftruncate(fd_, static_cast<off_t>(rep->valid_bytes)) != 0) {
      return ioError("truncate torn tail of " + path_);
    }
    if (::fdatasync(fd_) != 0) return ioError("fdatasync " + path_);
  }
  size_ = rep->valid_bytes;
  stats.epoch = *epoch + 1;
  if (auto w = writeEpoch(dir, epoch_path, stats.epoch); !w) return w.error();
  lock_ = std::move(*lock);
  return stats;
}

Result<void> File::append(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto err = ioError("write");
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        // The torn bytes are rejected by the checksum on the next open anyway.
      }
      return err;
    }
    done += static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return {};
}

namespace {
// Writes all of `bytes` at fd's position and syncs: 0, or the errno. Synced every 8 MiB: a
// snapshot of hundreds of MB left dirty and flushed at once would hold every fdatasync of the
// journal on the same file system behind it (ext4 commits them together) for seconds.
int writeAllSynced(int fd, std::string_view bytes) {
  constexpr size_t kSyncEvery = 8u << 20;
  size_t done = 0, synced = 0;
  while (done < bytes.size()) {
    const size_t chunk = std::min(bytes.size() - done, synced + kSyncEvery - done);
    ssize_t n = ::write(fd, bytes.data() + done, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<size_t>(n);
    if (done - synced >= kSyncEvery) {
      if (::fdatasync(fd) != 0) return errno;
      synced = done;
    }
  }
  return ::fdatasync(fd) == 0 ? 0 : errno;
}
}  // namespace

std::string File::snapshotPath() const { return path_ + ".compact." + std::to_string(::getpid()); }

int File::writeSnapshot(const std::string& tmp, std::string_view bytes) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  const int err = writeAllSynced(fd, bytes);
  ::close(fd);
  if (err != 0) ::unlink(tmp.c_str());
  return err;
}

int File::appendToSnapshot(const std::string& tmp, std::string_view bytes) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return errno;
  const int err = writeAllSynced(fd, bytes);
  ::close(fd);
  if (err != 0) ::unlink(tmp.c_str());
  return err;
}

Result<void> File::install(const std::string& tmp, std::string_view tail, bool& replaced) {
  replaced = false;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ioError("open " + tmp);
  const int err = writeAllSynced(fd, tail);
  struct stat st {};
  const bool sized = err == 0 && ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!sized) {
    errno = err != 0 ? err : errno;
    auto e = ioError("write " + tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    auto e = ioError("rename " + tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  replaced = true;
  if (auto d = syncDir(std::filesystem::path(path_).parent_path().string()); !d) return d.error();
  int nfd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC, 0644);
  if (nfd < 0) return ioError("open " + path_);
  ::close(fd_);
  fd_ = nfd;
  size_ = static_cast<uint64_t>(st.st_size);
  return {};
}

Result<void> File::sync() {
  if (::fdatasync(fd_) != 0) return ioError("fdatasync");
  return {};
}

}  // namespace sc::ledger::journal
