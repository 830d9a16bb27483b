// The journal's record codec: CRC-32, the payload encoding of a Record, and the format versions
// it reads (journal.h describes the framing; journal.cpp the file, its scan and its folder).
//
// Version 2 (written): ledger amounts (CreateHoldingOp::units) are 16-byte counts of 10^-10
// units, Numeric 10 (domain/ledger_amount.h). Version 1 (read, converted): the same layout with
// 8-byte counts of 10^-8 units, DECIMAL(18,8); decoding multiplies them by 100, which is exact.
// Any other version is refused by name (decodeProblem), never guessed at.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <string>

#include "ledger/engine/journal.h"

namespace sc::ledger::journal {
namespace {

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
  void i128(__int128 v) {
    const auto u = static_cast<unsigned __int128>(v);
    u64(static_cast<uint64_t>(u));
    u64(static_cast<uint64_t>(u >> 64));
  }
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
  __int128 i128() {
    const uint64_t lo = u64();
    const uint64_t hi = u64();
    return static_cast<__int128>((static_cast<unsigned __int128>(hi) << 64) | lo);
  }
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
  kPrune = 9,
  kLedgerEnd = 10,
  kKeptCommand = 11,
  kKeptUpdate = 12,
  kKeptMovement = 13,
};

void encodeOutcome(Writer& w, const Outcome& o);
std::optional<Outcome> decodeOutcome(Reader& r);

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
    w.i128(o.units);  // version 2: ledger units (10^-10)
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
  void operator()(const PruneOp& o) {
    w.u8(kPrune);
    w.i64(o.before);
  }
  void operator()(const LedgerEndOp& o) {
    w.u8(kLedgerEnd);
    w.i64(o.ledger_end);
  }
  void operator()(const KeptCommandOp& o) {
    w.u8(kKeptCommand);
    w.str(o.command_id);
    w.i64(o.at);
    w.u8(o.completion ? 1 : 0);
    if (o.completion) encodeOutcome(w, *o.completion);
  }
  void operator()(const KeptUpdateOp& o) {
    w.u8(kKeptUpdate);
    w.str(o.update_id);
    w.i64(o.offset);
    w.i64(o.recorded_at_us);
    w.str(o.command_id);
  }
  void operator()(const KeptMovementOp& o) {
    w.u8(kKeptMovement);
    w.i64(o.offset);
    w.str(o.update_id);
    w.str(o.command_id);
    w.i64(o.recorded_at_us);
    w.u8(o.credit ? 1 : 0);
    w.str(o.contract_id);
    w.str(o.remainder_dvp);
    w.i64(o.quantity_units);
    w.i64(o.amount_units);
    w.str(o.owner);
    w.str(o.asset);
    w.i128(o.credited);
  }
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

// An outcome's figures are trade figures, DECIMAL(18,8): a count of 10^-8 units beyond 18 digits
// is no Decimal (Decimal::fromUnits does not check), and the encoder never writes one.
bool isDecimalUnits(int64_t units) {
  return units >= -Decimal::kMaxUnits && units <= Decimal::kMaxUnits;
}

std::optional<Outcome> decodeOutcome(Reader& r) {
  Outcome o;
  o.update_id = r.str();
  o.offset = r.i64();
  o.contract_id = r.str();
  o.synchronizer = r.str();
  const int64_t quantity = r.i64(), amount = r.i64();
  if (!isDecimalUnits(quantity) || !isDecimalUnits(amount)) return std::nullopt;
  o.quantity = Decimal::fromUnits(quantity);
  o.amount = Decimal::fromUnits(amount);
  o.buyer_securities_contract_id = r.str();
  o.seller_cash_contract_id = r.str();
  o.remainder_dvp_contract_id = r.str();
  return o;
}

std::optional<Op> decodeOp(Reader& r, uint8_t version) {
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
      // Version 1 stored DECIMAL(18,8) units (10^-8): converted exactly to ledger units.
      o.units = version == kFormatV1 ? static_cast<__int128>(r.i64()) * 100 : r.i128();
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
      const uint8_t dvp = r.u8();
      if (dvp > 1) return std::nullopt;  // one encoding per record, as for the other flags
      o.dvp = dvp == 1;
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
    case kPrune:
      return PruneOp{r.i64()};
    case kLedgerEnd:
      return LedgerEndOp{r.i64()};
    case kKeptCommand: {
      KeptCommandOp o;
      o.command_id = r.str();
      o.at = r.i64();
      const uint8_t has = r.u8();
      if (has > 1) return std::nullopt;
      if (has) {
        o.completion = decodeOutcome(r);
        if (!o.completion) return std::nullopt;
      }
      return o;
    }
    case kKeptUpdate: {
      KeptUpdateOp o;
      o.update_id = r.str();
      o.offset = r.i64();
      o.recorded_at_us = r.i64();
      o.command_id = r.str();
      return o;
    }
    case kKeptMovement: {
      KeptMovementOp o;
      o.offset = r.i64();
      o.update_id = r.str();
      o.command_id = r.str();
      o.recorded_at_us = r.i64();
      const uint8_t credit = r.u8();
      if (credit > 1) return std::nullopt;
      o.credit = credit == 1;
      o.contract_id = r.str();
      o.remainder_dvp = r.str();
      o.quantity_units = r.i64();
      o.amount_units = r.i64();
      if (!isDecimalUnits(o.quantity_units) || !isDecimalUnits(o.amount_units)) return std::nullopt;
      o.owner = r.str();
      o.asset = r.str();
      o.credited = r.i128();
      return o;
    }
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
  // zlib's: the same CRC-32 (IEEE 802.3, reflected, as gzip and PNG use), computed several bytes
  // at a time. A compaction checksums its whole snapshot under the engine's lock.
  return static_cast<uint32_t>(::crc32_z(0, static_cast<const Bytef*>(data), size));
}

void encode(const Record& record, std::string& out) {
  size_t frame = out.size();
  out.append(8, '\0');
  Writer w(out);
  w.u8(kFormatVersion);  // always the current version
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
  const uint8_t version = r.u8();
  if (version != kFormatV1 && version != kFormatVersion) return std::nullopt;
  Record rec;
  rec.offset = r.i64();
  rec.update_id = r.str();
  rec.recorded_at_us = r.i64();
  rec.command_id = r.str();
  uint32_t n = r.u32();
  if (!r.ok() || n > payload.size()) return std::nullopt;
  // The count is only a claim until its ops decode: reserve a bounded amount (a forged count in a
  // small record must not allocate n ops up front), grow with what actually decodes.
  rec.ops.reserve(std::min<uint32_t>(n, 64));
  for (uint32_t i = 0; i < n; ++i) {
    auto op = decodeOp(r, version);
    if (!op || !r.ok()) return std::nullopt;
    rec.ops.push_back(std::move(*op));
  }
  uint8_t has = r.u8();
  if (has > 1) return std::nullopt;
  if (has) {
    rec.completion = decodeOutcome(r);
    if (!rec.completion) return std::nullopt;
  }
  if (!r.ok() || !r.atEnd()) return std::nullopt;
  return rec;
}

std::string decodeProblem(std::string_view payload) {
  if (payload.empty()) return "the record is empty";
  const auto version = static_cast<uint8_t>(payload[0]);
  if (version != kFormatV1 && version != kFormatVersion) {
    return "record format version " + std::to_string(version) +
           " is not one this build reads (versions " + std::to_string(kFormatV1) + " and " +
           std::to_string(kFormatVersion) +
           "): written by a newer or a foreign program; open it with the build that wrote it";
  }
  return "a version " + std::to_string(version) +
         " record that does not decode (unknown operation or malformed field)";
}

}  // namespace sc::ledger::journal
