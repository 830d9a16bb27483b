#pragma once
// Fixture for the workflow tests: the real Workflow and the real EmbeddedLedger (journal in a fresh
// folder), driven by a fake clock, on one of two stores chosen by SC_WORKFLOW_STORE: `pg` (the
// real PostgreSQL store, a fresh database per test) or `memory` (tests/support/memory_store.h,
// the same guarded-write and lease semantics, for unit and sanitizer runs). ctest runs every test
// on both. Tests call runOnce() directly: no threads, no sleeps; time moves only when a test
// moves it.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "ledger/canton/canton_json_ledger.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger/sandbox/sandbox.h"
#include "ledger/sandbox/server.h"
#include "store/database.h"
#include "support/fake_clock.h"
#include "support/forwarding_ledger.h"
#include "support/memory_store.h"
#include "tests/support/pg_test_db.h"
#include "workflow/workflow.h"

namespace sc {
// Readable gtest output for statuses and decimals.
inline void PrintTo(Status s, std::ostream* os) { *os << toString(s); }
inline void PrintTo(const Decimal& d, std::ostream* os) { *os << d.toString(); }
}  // namespace sc

namespace sc::test {

// Every consecutive pair of the audit trail is a legal transition, starting with pending.
inline void expectLegalPath(const std::vector<Status>& path) {
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(path.front(), Status::kPending);
  for (size_t i = 1; i < path.size(); ++i)
    EXPECT_TRUE(isAllowedTransition(path[i - 1], path[i]))
        << toString(path[i - 1]) << " -> " << toString(path[i]) << " at " << i;
}

// The audit trail of a settlement that goes all the way.
inline const std::vector<Status> kHappyPath = {
    Status::kPending,         Status::kInitiated, Status::kSellerSecuritiesLocked,
    Status::kBuyerCashLocked, Status::kExecuting, Status::kConfirmed,
    Status::kSettled};

inline Decimal D(const char* s) { return Decimal::parse(s).value(); }

// Forwards every call to a real repository; the wrappers below change one or two of them.
class ForwardingSettlementRepository : public store::SettlementRepository {
 public:
  explicit ForwardingSettlementRepository(store::SettlementRepository& real) : real_(real) {}
  Result<std::vector<store::IntakeOutcome>> intake(std::span<const Trade> t, Timestamp now,
                                                   Duration d) override {
    return real_.intake(t, now, d);
  }
  Result<std::optional<Settlement>> find(const Uuid& id) override { return real_.find(id); }
  Result<std::optional<Settlement>> findByTradeId(const std::string& id) override {
    return real_.findByTradeId(id);
  }
  Result<store::SettlementPage> list(const store::ListQuery& q) override { return real_.list(q); }
  Result<std::vector<SettlementEvent>> events(const Uuid& id) override { return real_.events(id); }
  Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                           int64_t ledger_offset) override {
    return real_.leaseDue(now, limit, lease, ledger_offset);
  }
  Result<std::vector<bool>> write(std::span<const store::StateWrite> writes) override {
    return real_.write(writes);
  }
  Result<std::optional<int64_t>> leastActiveLedgerFloor() override {
    return real_.leastActiveLedgerFloor();
  }
  Result<std::vector<std::pair<Status, int64_t>>> countByStatus() override {
    return real_.countByStatus();
  }

 protected:
  store::SettlementRepository& real_;
};

// PostgreSQL times leases by its own clock, which a test cannot move; these tests move time with
// a FakeClock. This wrapper lets the fake clock stand for the database's too: it remembers when
// (fake time) each lease it handed out ends, and before each leaseDue ends in the database
// (lease_until in the past) the leases whose fake end has passed — exactly what PostgreSQL's clock
// reaching lease_until does. Used on the PostgreSQL store only (the memory store times leases by
// the caller's clock already).
class FakeClockLeases final : public ForwardingSettlementRepository {
 public:
  FakeClockLeases(store::SettlementRepository& real, store::pg::ConnectionPool& pool)
      : ForwardingSettlementRepository(real), pool_(pool) {}
  Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                           int64_t ledger_offset) override {
    std::vector<std::string> ended;
    {
      std::lock_guard l(mu_);
      for (auto it = ends_.begin(); it != ends_.end();) {
        if (it->second < now) {
          ended.push_back(it->first);
          it = ends_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (!ended.empty()) {
      auto c = pool_.lease();
      if (!c) return c.error();
      auto r = (*c)->exec(
          "UPDATE settlements SET lease_until = clock_timestamp() - interval '1 microsecond'"
          " WHERE lease_token = ANY($1::uuid[])",
          {store::pg::arrayLiteral(ended)});
      if (!r) return r.error();
    }
    auto got = real_.leaseDue(now, limit, lease, ledger_offset);
    if (got) {
      std::lock_guard l(mu_);
      for (const auto& s : *got) ends_[s.lease_token.canonical()] = now + lease;
    }
    return got;
  }

 private:
  store::pg::ConnectionPool& pool_;
  std::mutex mu_;
  std::map<std::string, Timestamp> ends_;  // lease token → its end in fake time
};

// Forwards to a real repository; write() can be made to fail (a crash between the ledger commit
// and the database commit, as the workflow sees it: nothing of the batch is written).
class FlakySettlementRepository final : public ForwardingSettlementRepository {
 public:
  using ForwardingSettlementRepository::ForwardingSettlementRepository;
  // The next write whose batch would record `status` fails (kFailed... any status).
  void failNextWriteRecording(Status status) { fail_on_ = status; }
  int failedWrites() const { return failed_; }

  Result<std::vector<bool>> write(std::span<const store::StateWrite> writes) override {
    if (fail_on_) {
      for (const auto& w : writes) {
        if (w.next.status == *fail_on_) {
          fail_on_.reset();
          ++failed_;
          return Error::transient("database_unavailable", "injected: connection lost at commit");
        }
      }
    }
    return real_.write(writes);
  }

 private:
  std::optional<Status> fail_on_;
  int failed_ = 0;
};

// Forwards to the EmbeddedLedger, optionally running a hook just before the first batch that
// holds a given command type (e.g. taking a synchronizer down at the EXECUTING step).
class ScriptedLedger final : public sc::test::ForwardingLedger {
 public:
  explicit ScriptedLedger(ledger::EmbeddedLedger& real) : ForwardingLedger(real), real_(real) {}
  // Forwards to `target` (e.g. the Canton adapter over the sandbox whose engine is `engine`).
  ScriptedLedger(ledger::Ledger& target, ledger::EmbeddedLedger& engine)
      : ForwardingLedger(target), real_(engine) {}
  // Runs `hook` once, just before the first batch that holds a command of type Cmd: the moment
  // a test wants to interleave something (an outage, another worker, the clock jumping).
  template <class Cmd>
  void beforeFirst(std::function<void()> hook) {
    matches_ = [](const ledger::Command& c) { return std::holds_alternative<Cmd>(c); };
    hook_ = std::move(hook);
  }
  void downOnSettle(std::string synchronizer) {
    beforeFirst<ledger::Settle>([this, s = std::move(synchronizer)] { real_.setOutage(s, true); });
  }

  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> batch) override {
    if (hook_) {
      for (const auto& s : batch) {
        if (matches_(s.command)) {
          auto hook = std::move(hook_);
          hook_ = nullptr;
          hook();
          break;
        }
      }
    }
    return ForwardingLedger::submit(batch);
  }

 private:
  ledger::EmbeddedLedger& real_;  // the engine, for outages
  std::function<bool(const ledger::Command&)> matches_;
  std::function<void()> hook_;
};

class WorkflowTest : public ::testing::Test {
 protected:
  // 2024-11-17T16:00:00Z, a Sunday afternoon like the spec's example; T+0 trades settle today.
  static inline const Date kTradeDate = Date{std::chrono::year{2024} / 11 / 17};
  static inline const Timestamp kT0 = startOf(kTradeDate) + std::chrono::hours(16);

  void SetUp() override;
  void TearDown() override;

  // A workflow over the fixture's store and ledger (or the given wrappers).
  std::unique_ptr<workflow::Workflow> makeWorkflow(store::SettlementRepository* repo = nullptr,
                                                   ledger::Ledger* ledger = nullptr,
                                                   const MonotonicClock* elapsed = nullptr);
  workflow::Workflow& wf() { return *workflow_; }
  // The store under test (PostgreSQL or in memory).
  store::SettlementRepository& repo() { return *repo_; }
  store::AccountRepository& accounts() { return *accounts_; }
  bool onPostgres() const { return database_ != nullptr; }

  // Account (DB) + party (ledger); returns the party id.
  std::string addAccount(const std::string& account_id);
  void credit(const std::string& account_id, const std::string& asset, const char* amount,
              const std::string& synchronizer);
  // The seller holds exactly the 50 AAPL and the buyer exactly the 7524 USDC of the standard
  // trade (submit(id, "50", "7524.00")), each on its home synchronizer.
  void creditTheStandardTrade() {
    credit("acc_seller", "AAPL", "50", "securities");
    credit("acc_buyer", "USDC", "7524", "cash");
  }
  // The participant's operator prunes it up to the offset before its ledger end, as Canton's
  // pruning service does (canton mode: POST /sandbox/prune), so a command whose floor is below
  // that is refused (ledger_pruned) and prunedUpTo() answers it.
  void pruneParticipant();
  // Accepts a trade through the store's intake at the clock's now; returns the settlement.
  Settlement submit(const std::string& trade_id, const char* quantity, const char* amount,
                    bool allow_partial = false, Date settlement_date = kTradeDate);

  // runOnce until nothing is due at the current time (bounded). Returns how many batches ran.
  int drain(workflow::Workflow* w = nullptr);
  // Moves the clock to each next attempt and drains, until the settlement rests (not active, or
  // CONFIRMED) or max_steps pass. Returns it as stored.
  Settlement driveToRest(const Settlement& s, workflow::Workflow* w = nullptr, int max_steps = 40);
  Settlement load(const Settlement& s);
  std::vector<Status> eventStatuses(const Settlement& s);
  std::vector<SettlementEvent> events(const Settlement& s);

  // Ledger views per account: free and locked amount of an asset.
  LedgerAmount free(const std::string& account_id, const std::string& asset);
  LedgerAmount lockedOf(const std::string& account_id, const std::string& asset);
  // Totals per asset (total, locked).
  std::map<std::string, std::pair<LedgerAmount, LedgerAmount>> totals();
  // Every asset's total equals what the test credited (nothing created or destroyed), nothing is
  // locked (unless allowed), and the ledger's incremental state matches a recomputation.
  void expectLedgerConserved(bool expect_no_locks = true);

  static Trade trade(const std::string& trade_id, const char* quantity, const char* amount,
                     bool allow_partial, Date settlement_date);

  FakeClock clock_{kT0};
  FakeElapsed elapsed_;
  sc::test::PgTestDb db_;
  std::unique_ptr<store::Database> database_;           // null on the memory store
  std::unique_ptr<FakeClockLeases> fake_clock_leases_;  // on PostgreSQL: wraps its settlements
  std::unique_ptr<sc::test::MemoryAccounts> memory_accounts_;
  std::unique_ptr<sc::test::MemoryStore> memory_;
  store::SettlementRepository* repo_ = nullptr;
  store::AccountRepository* accounts_ = nullptr;
  std::string ledger_dir_;
  // The engine: the fixture's own (embedded mode) or the sandbox's (canton mode, with
  // SC_WORKFLOW_LEDGER=sandbox: the workflow then talks to it through the Canton adapter over
  // HTTP, while the tests inspect and fault-inject the engine directly).
  ledger::EmbeddedLedger* ledger_ = nullptr;
  std::unique_ptr<ledger::EmbeddedLedger> embedded_;
  std::unique_ptr<ledger::sandbox::Sandbox> sandbox_;
  std::unique_ptr<ledger::sandbox::SandboxServer> sandbox_server_;
  std::unique_ptr<ledger::canton::CantonJsonLedger> canton_;
  // What the workflow uses by default: the adapter in canton mode, else the engine.
  ledger::Ledger& workflowLedger() {
    return canton_ ? static_cast<ledger::Ledger&>(*canton_) : *ledger_;
  }
  workflow::WorkflowOptions options_;
  std::unique_ptr<workflow::Workflow> workflow_;
  std::map<std::string, std::string> party_;                            // account id → party
  std::map<std::string, Decimal> credited_;                             // asset → sum of credits
  std::map<std::pair<std::string, std::string>, Decimal> credited_to_;  // (account, asset) → sum
};

}  // namespace sc::test
