#include "ledger/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sc::ledger::journal {
namespace {

constexpr uint32_t kMaxRecordBytes = 64u << 20;
constexpr uint8_t kFormatVersion = 1;

const std::array<uint32_t, 256>& crcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

Error ioError(const std::string& what) {
  return Error::transient(kUnavailable, "journal " + what + ": " + std::strerror(errno));
}

// ---- encoding ----

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool atEnd() const { return pos_ == in_.size(); }
  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string str() {
    uint32_t n = u32();
    if (!need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

enum OpTag : uint8_t {
  kGenesis = 1,
  kParty = 2,
  kCreateHolding = 3,
  kCreateDvp = 4,
  kArchive = 5,
  kUnassign = 6,
  kAssign = 7,
  kFence = 8,
};

struct OpEncoder {
  Writer& w;
  void operator()(const GenesisOp& o) {
    w.u8(kGenesis);
    w.u64(o.salt);
  }
  void operator()(const PartyOp& o) {
    w.u8(kParty);
    w.str(o.hint);
    w.str(o.party_id);
  }
  void operator()(const CreateHoldingOp& o) {
    w.u8(kCreateHolding);
    w.str(o.contract_id);
    w.str(o.owner);
    w.str(o.asset);
    w.i64(o.units);
    w.str(o.synchronizer);
    w.str(o.lock_dvp);
    w.u8(static_cast<uint8_t>(o.lock_kind));
  }
  void operator()(const CreateDvpOp& o) {
    w.u8(kCreateDvp);
    w.str(o.contract_id);
    w.str(o.buyer);
    w.str(o.seller);
    w.str(o.issuer);
    w.str(o.provider);
    w.str(o.security);
    w.str(o.cash_asset);
    w.i64(o.quantity_units);
    w.i64(o.amount_units);
    w.u32(static_cast<uint32_t>(o.settlement_date_days));
    w.str(o.synchronizer);
  }
  void operator()(const ArchiveOp& o) {
    w.u8(kArchive);
    w.str(o.contract_id);
    w.u8(o.dvp ? 1 : 0);
  }
  void operator()(const UnassignOp& o) {
    w.u8(kUnassign);
    w.str(o.contract_id);
    w.str(o.target);
  }
  void operator()(const AssignOp& o) {
    w.u8(kAssign);
    w.str(o.contract_id);
    w.str(o.target);
  }
  void operator()(const FenceOp&) { w.u8(kFence); }
};

void encodeOutcome(Writer& w, const Outcome& o) {
  w.str(o.update_id);
  w.i64(o.offset);
  w.str(o.contract_id);
  w.str(o.synchronizer);
  w.i64(o.quantity.units());
  w.i64(o.amount.units());
  w.str(o.buyer_securities_contract_id);
  w.str(o.seller_cash_contract_id);
  w.str(o.remainder_dvp_contract_id);
}

Outcome decodeOutcome(Reader& r) {
  Outcome o;
  o.update_id = r.str();
  o.offset = r.i64();
  o.contract_id = r.str();
  o.synchronizer = r.str();
  o.quantity = Decimal::fromUnits(r.i64());
  o.amount = Decimal::fromUnits(r.i64());
  o.buyer_securities_contract_id = r.str();
  o.seller_cash_contract_id = r.str();
  o.remainder_dvp_contract_id = r.str();
  return o;
}

std::optional<Op> decodeOp(Reader& r) {
  switch (r.u8()) {
    case kGenesis:
      return GenesisOp{r.u64()};
    case kParty: {
      PartyOp o;
      o.hint = r.str();
      o.party_id = r.str();
      return o;
    }
    case kCreateHolding: {
      CreateHoldingOp o;
      o.contract_id = r.str();
      o.owner = r.str();
      o.asset = r.str();
      o.units = r.i64();
      o.synchronizer = r.str();
      o.lock_dvp = r.str();
      uint8_t kind = r.u8();
      if (kind > 2) return std::nullopt;
      o.lock_kind = static_cast<LockKind>(kind);
      return o;
    }
    case kCreateDvp: {
      CreateDvpOp o;
      o.contract_id = r.str();
      o.buyer = r.str();
      o.seller = r.str();
      o.issuer = r.str();
      o.provider = r.str();
      o.security = r.str();
      o.cash_asset = r.str();
      o.quantity_units = r.i64();
      o.amount_units = r.i64();
      o.settlement_date_days = static_cast<int32_t>(r.u32());
      o.synchronizer = r.str();
      return o;
    }
    case kArchive: {
      ArchiveOp o;
      o.contract_id = r.str();
      o.dvp = r.u8() != 0;
      return o;
    }
    case kUnassign: {
      UnassignOp o;
      o.contract_id = r.str();
      o.target = r.str();
      return o;
    }
    case kFence:
      return FenceOp{};
    case kAssign: {
      AssignOp o;
      o.contract_id = r.str();
      o.target = r.str();
      return o;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

uint32_t crc32(const void* data, size_t size) {
  const auto& t = crcTable();
  auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void encode(const Record& record, std::string& out) {
  size_t frame = out.size();
  out.append(8, '\0');
  Writer w(out);
  w.u8(kFormatVersion);
  w.i64(record.offset);
  w.str(record.update_id);
  w.i64(record.recorded_at_us);
  w.str(record.command_id);
  w.u32(static_cast<uint32_t>(record.ops.size()));
  OpEncoder enc{w};
  for (const auto& op : record.ops) std::visit(enc, op);
  w.u8(record.completion ? 1 : 0);
  if (record.completion) encodeOutcome(w, *record.completion);
  size_t len = out.size() - frame - 8;
  uint32_t crc = crc32(out.data() + frame + 8, len);
  for (int i = 0; i < 4; ++i) {
    out[frame + i] = static_cast<char>((len >> (8 * i)) & 0xff);
    out[frame + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  }
}

std::optional<Record> decode(std::string_view payload) {
  Reader r(payload);
  if (r.u8() != kFormatVersion) return std::nullopt;
  Record rec;
  rec.offset = r.i64();
  rec.update_id = r.str();
  rec.recorded_at_us = r.i64();
  rec.command_id = r.str();
  uint32_t n = r.u32();
  if (!r.ok() || n > payload.size()) return std::nullopt;
  rec.ops.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto op = decodeOp(r);
    if (!op || !r.ok()) return std::nullopt;
    rec.ops.push_back(std::move(*op));
  }
  uint8_t has = r.u8();
  if (has > 1) return std::nullopt;
  if (has) rec.completion = decodeOutcome(r);
  if (!r.ok() || !r.atEnd()) return std::nullopt;
  return rec;
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
  path_ = (std::filesystem::path(dir) / "journal.log").string();
  bool existed = std::filesystem::exists(path_, ec);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return ioError("open " + path_);
  // One writer per journal: a second process appending would interleave records.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    return Error::permanent(kInvalidCommand,
                            "journal " + path_ + " is in use by another ledger instance");
  }
  if (!existed || created_dir) {
    // Make the new file's directory entry durable too.
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  ReplayStats stats;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ioError("stat");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

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
      ssize_t n = ::pread(fd_, buf.data() + have, want - have, static_cast<off_t>(buf_start + have));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        buf.resize(have);
        return false;
      }
      have += static_cast<size_t>(n);
    }
    return true;
  };
  while (pos < file_size) {
    if (!ensure(pos + 8)) break;
    const char* h = buf.data() + (pos - buf_start);
    uint32_t len = 0, crc = 0;
    for (int i = 0; i < 4; ++i) {
      len |= uint32_t(static_cast<uint8_t>(h[i])) << (8 * i);
      crc |= uint32_t(static_cast<uint8_t>(h[4 + i])) << (8 * i);
    }
    if (len == 0 || len > kMaxRecordBytes) break;
    if (!ensure(pos + 8 + len)) break;
    std::string_view payload(buf.data() + (pos - buf_start) + 8, len);
    if (crc32(payload.data(), payload.size()) != crc) break;
    auto rec = decode(payload);
    if (!rec) break;
    auto applied = apply(std::move(*rec));
    if (!applied) return applied.error();
    pos += 8 + len;
    ++stats.records;
  }
  stats.valid_bytes = pos;
  stats.truncated_bytes = file_size - pos;
  if (pos < file_size) {
    if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0) return ioError("truncate torn tail");
    if (::fdatasync(fd_) != 0) return ioError("fdatasync");
  }
  size_ = pos;
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

Result<void> File::sync() {
  if (::fdatasync(fd_) != 0) return ioError("fdatasync");
  return {};
}

}  // namespace sc::ledger::journal
