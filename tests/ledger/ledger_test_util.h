#pragma once
// Shared helpers for the embedded ledger tests: a temp dir, a ledger with two parties, decimal
// literals and snapshots of everything observable, so a test can assert "nothing changed".
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "ledger/engine/embedded_ledger.h"

namespace sc::test {

using namespace sc::ledger;

inline Decimal D(const char* s) { return Decimal::parse(s).value(); }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ledger_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline EmbeddedLedger::Options options(const std::string& dir) {
  EmbeddedLedger::Options o;
  o.data_dir = dir;
  o.synchronizers = {"securities", "cash", "settlement"};
  return o;
}

inline std::unique_ptr<EmbeddedLedger> openLedger(const std::string& dir) {
  auto r = EmbeddedLedger::open(options(dir));
  if (!r) ADD_FAILURE() << r.error().message;
  return std::move(r).value();
}

// Copies (a range-for over `x().value()` would dangle: the Result temporary dies first).
inline std::vector<AssetTotal> totalsOf(Ledger& l) { return l.totals().value(); }
inline std::vector<HoldingView> holdingsOf(Ledger& l, const std::string& party) {
  return l.holdings(party).value();
}

// Everything a test can observe, to compare before/after.
struct Snapshot {
  std::vector<HoldingView> holdings;
  std::map<std::string, std::pair<LedgerAmount, LedgerAmount>> totals;
  int64_t ledger_end = 0;

  bool operator==(const Snapshot& o) const {
    if (holdings.size() != o.holdings.size() || totals != o.totals || ledger_end != o.ledger_end) {
      return false;
    }
    for (size_t i = 0; i < holdings.size(); ++i) {
      const auto& a = holdings[i];
      const auto& b = o.holdings[i];
      if (a.contract_id != b.contract_id || a.owner != b.owner || a.asset != b.asset ||
          a.amount != b.amount || a.locked != b.locked ||
          a.lock_dvp_contract_id != b.lock_dvp_contract_id || a.synchronizer != b.synchronizer ||
          a.in_flight != b.in_flight) {
        return false;
      }
    }
    return true;
  }
};

inline Snapshot snapshot(EmbeddedLedger& l) {
  Snapshot s;
  s.holdings = l.allHoldings();
  for (const auto& t : totalsOf(l)) {
    s.totals[t.asset] = {t.total, t.locked};
  }
  s.ledger_end = l.ledgerEnd();
  return s;
}

inline LedgerAmount total(EmbeddedLedger& l, const std::string& asset) {
  for (const auto& t : totalsOf(l)) {
    if (t.asset == asset) return t.total;
  }
  return LedgerAmount{};
}
inline LedgerAmount locked(EmbeddedLedger& l, const std::string& asset) {
  for (const auto& t : totalsOf(l)) {
    if (t.asset == asset) return t.locked;
  }
  return LedgerAmount{};
}

// Free (unlocked, not in flight) amount of an asset a party holds.
inline LedgerAmount freeOf(EmbeddedLedger& l, const std::string& party, const std::string& asset) {
  LedgerAmount sum;
  for (const auto& h : holdingsOf(l, party)) {
    if (h.asset == asset && !h.locked && !h.in_flight) sum = sum.add(h.amount).value();
  }
  return sum;
}

inline LedgerAmount lockedTo(EmbeddedLedger& l, const std::string& party, const std::string& asset,
                             const std::string& dvp) {
  LedgerAmount sum;
  for (const auto& h : holdingsOf(l, party)) {
    if (h.asset == asset && h.locked && h.lock_dvp_contract_id == dvp)
      sum = sum.add(h.amount).value();
  }
  return sum;
}

inline CreateDvp dvpCommand(const std::string& buyer, const std::string& seller,
                            const char* quantity, const char* amount) {
  CreateDvp c;
  c.buyer = buyer;
  c.seller = seller;
  c.security = "AAPL";
  c.cash_asset = "USDC";
  c.quantity = D(quantity);
  c.amount = D(amount);
  c.settlement_date = std::chrono::sys_days{std::chrono::year{2024} / 11 / 19};
  return c;
}

}  // namespace sc::test

namespace sc::test {

inline std::string readBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
inline void writeBytes(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Power-loss simulation: what a disk holds after the machine loses power is the journal up to
// its length at the last successful fdatasync (`durable_bytes`, EmbeddedLedger::Stats); whatever
// write() put in the page cache after it is gone. Writes that image into `to_dir`.
inline void powerLossImage(const std::string& from_dir, uint64_t durable_bytes,
                           const std::string& to_dir) {
  std::string bytes = readBytes(from_dir + "/journal.log");
  ASSERT_GE(bytes.size(), durable_bytes);
  bytes.resize(durable_bytes);
  writeBytes(to_dir + "/journal.log", bytes);
}

}  // namespace sc::test
