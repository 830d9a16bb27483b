#pragma once
// The reconciler against the real stores: a fresh PostgreSQL database per test, the real embedded
// ledger (in memory), the real Intake and Workflow settling trades, all on one fake clock (row
// times, due times and the reconciler's "now" are the same clock, as the database's clock is in
// the service). Tests run workflow batches and reconciler passes themselves: no threads, no
// sleeps. A gate in front of the ledger can hold settlements at BUYER_CASH_LOCKED (their
// reassignment fails as an outage does), so a test finds a settlement resting mid-lifecycle.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "ledger/engine/embedded_ledger.h"
#include "reconciliation/reconciler.h"
#include "store/database.h"
#include "store/reconciliation_repository.h"
#include "support/fake_clock.h"
#include "support/forwarding_ledger.h"
#include "support/trade_json.h"
#include "tests/support/pg_test_db.h"
#include "workflow/intake.h"
#include "workflow/workflow.h"

namespace sc::test {

// The real ledger, but ReassignLocks fails as a synchronizer outage does while `hold` is set
// (LockCash while `hold_cash` is), and while `lose_settle` is set a Settle commits but its answer
// is lost (the caller sees a timeout). `on_holdings` runs once at the next holdings() read: what
// commits while the reconciler reads the ledger.
class GateLedger final : public ForwardingLedger {
 public:
  using ForwardingLedger::ForwardingLedger;
  std::atomic<bool> hold{false};
  std::atomic<bool> lose_settle{false};
  std::atomic<bool> hold_cash{false};
  std::function<void()> on_holdings;
  // Added to every asset's total by totals(): a ledger whose supply moved behind our back.
  std::optional<std::pair<std::string, LedgerAmount>> skew;

  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> b) override {
    if (lose_settle) {
      auto out = ForwardingLedger::submit(b);
      for (size_t i = 0; i < b.size(); ++i)
        if (std::holds_alternative<ledger::Settle>(b[i].command))
          out[i] = Error::transient(ledger::kTimeout, "injected: settle answer lost");
      return out;
    }
    if (!hold && !hold_cash) return ForwardingLedger::submit(b);
    std::vector<Result<ledger::Outcome>> out(b.size(), Error::transient(ledger::kUnavailable, ""));
    std::vector<ledger::Submission> pass;
    std::vector<size_t> where;
    for (size_t i = 0; i < b.size(); ++i) {
      if ((hold && std::holds_alternative<ledger::ReassignLocks>(b[i].command)) ||
          (hold_cash && std::holds_alternative<ledger::LockCash>(b[i].command))) {
        out[i] = Error::transient(ledger::kUnavailable, "injected: settlement synchronizer down");
      } else {
        pass.push_back(b[i]);
        where.push_back(i);
      }
    }
    auto done = ForwardingLedger::submit(pass);
    for (size_t i = 0; i < done.size(); ++i) out[where[i]] = std::move(done[i]);
    return out;
  }
  Result<std::vector<ledger::HoldingView>> holdings(const std::string& party) override {
    if (auto hook = std::exchange(on_holdings, nullptr)) hook();
    return ForwardingLedger::holdings(party);
  }
  Result<std::vector<ledger::AssetTotal>> totals() override {
    auto t = ForwardingLedger::totals();
    if (!t || !skew) return t;
    for (auto& a : *t)
      if (a.asset == skew->first) a.total = *a.total.add(skew->second);
    return t;
  }
};

class ReconcilerPgTest : public ::testing::Test {
 protected:
  // 2024-11-20 12:00 UTC: after the trades' settlement date, so CONFIRMED settles at once.
  static inline const Timestamp kNow =
      startOf(Date{std::chrono::year{2024} / 11 / 20}) + std::chrono::hours(12);

  void SetUp() override {
    ASSERT_TRUE(pg_.create()) << pg_.error();
    auto d = store::Database::open(pg_.conninfo(), 6);
    ASSERT_TRUE(d.ok()) << d.error().message;
    db_ = std::move(d).value();
    ledger::EmbeddedLedger::Options lo;
    lo.clock = &clock_;
    auto l = ledger::EmbeddedLedger::open(lo);
    ASSERT_TRUE(l.ok()) << l.error().message;
    engine_ = std::move(*l);
    ledger_ = std::make_unique<GateLedger>(*engine_);
    repo_ = std::make_unique<store::PgReconciliationRepository>(db_->pool());
    buyer_ = addAccount("acc_buyer", "buyer");
    seller_ = addAccount("acc_seller", "seller");
    credit(seller_, "AAPL", "100000", "securities");
    credit(buyer_, "USDC", "100000000", "cash");
    intake_ = std::make_unique<workflow::Intake>(db_->settlements(), clock_, TradeRules{},
                                                 std::chrono::hours(1));
    workflow::WorkflowOptions wo;
    wo.batch_size = 200;
    wo.retry_attempts = 3;
    wo.retry_delay = std::chrono::seconds(60);
    wo.timeout = std::chrono::hours(1);
    wo.jitter_seed = 7;
    workflow_ = std::make_unique<workflow::Workflow>(db_->settlements(), db_->accounts(), *ledger_,
                                                     clock_, wo);
    reconciler_ = makeReconciler({});
  }
  void TearDown() override {
    reconciler_.reset();
    db_.reset();
  }

  std::unique_ptr<reconciliation::Reconciler> makeReconciler(
      reconciliation::Reconciler::TapFactory tap) {
    reconciliation::ReconcilerOptions o;
    o.quiet = std::chrono::seconds(1);
    o.event_grace = std::chrono::milliseconds(0);
    o.catch_up = std::chrono::seconds(20);
    return std::make_unique<reconciliation::Reconciler>(*repo_, db_->accounts(), *ledger_, clock_,
                                                        o, std::move(tap));
  }

  std::string addAccount(const std::string& id, const std::string& hint) {
    auto party = engine_->allocateParty(hint);
    EXPECT_TRUE(party.ok()) << party.error().message;
    auto a = db_->accounts().create(Account{id, *party, AccountStatus::kActive, {}});
    EXPECT_TRUE(a.ok()) << a.error().message;
    return *party;
  }
  void credit(const std::string& party, const std::string& asset, const char* amount,
              const char* sync) {
    auto r = engine_->credit(party, asset, LedgerAmount::parse(amount).value(), sync);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  // Submits a trade and returns its settlement.
  Settlement submit(TradeEvent t) {
    auto d = intake_->submitOne(t.text());
    EXPECT_TRUE(d.ok() && d->settlement) << (d.ok() ? "rejected" : d.error().message);
    return d.ok() && d->settlement ? *d->settlement : Settlement{};
  }
  std::vector<Settlement> submitMany(int n, const std::string& prefix = "trd_") {
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i) {
      TradeEvent t;
      t.trade_id = prefix + std::to_string(i);
      t.quantity = "1";
      t.price = "";
      t.amount = std::to_string(100 + i) + ".25";
      texts.push_back(t.text());
    }
    std::vector<std::string_view> views(texts.begin(), texts.end());
    auto d = intake_->submit(views);
    EXPECT_TRUE(d.ok()) << d.error().message;
    std::vector<Settlement> out;
    if (d.ok())
      for (auto& x : *d) out.push_back(*x.settlement);
    return out;
  }
  // Submits a trade and runs the workflow while `gate` (a GateLedger flag) is set; the row.
  Settlement submitWhile(std::atomic<bool>& gate, const std::string& trade_id) {
    gate = true;
    TradeEvent t;
    t.trade_id = trade_id;
    Settlement s = submit(t);
    work();
    gate = false;
    return find(s.id);
  }
  // Past the row's backoff: the workflow resends, learns the outcome and settles it, and the
  // reconciler then reaches the end of the audit trail with nothing found.
  void catchUpAndSettle(const Settlement& s) {
    clock_.advance(std::chrono::seconds(120));
    work();
    ASSERT_EQ(find(s.id).status, Status::kSettled);
    auto report = reconcile();
    EXPECT_EQ(report.watermark, maxPosition());
    EXPECT_EQ(kindsOf(findings()), std::vector<std::string>{});
  }
  // Runs workflow batches until nothing is due now.
  void work() {
    for (int i = 0; i < 200; ++i) {
      auto n = workflow_->runOnce();
      ASSERT_TRUE(n.ok()) << n.error().message;
      if (*n == 0) return;
    }
    FAIL() << "the workflow never ran out of due work";
  }
  Settlement find(const Uuid& id) {
    auto s = db_->settlements().find(id);
    EXPECT_TRUE(s.ok() && *s);
    return s.ok() && *s ? **s : Settlement{};
  }
  void sql(const std::string& statement) {
    auto c = db_->pool().lease();
    ASSERT_TRUE(c.ok());
    auto r = (*c)->exec(statement);
    ASSERT_TRUE(r.ok()) << statement << ": " << r.error().message;
  }
  int64_t maxPosition() {
    auto h = repo_->eventHorizon();
    EXPECT_TRUE(h.ok());
    return h.ok() ? h->max_position : -1;
  }
  // Passes until the watermark stops moving (at most `max`); the last report.
  reconciliation::PassReport reconcile(int max = 10) {
    reconciliation::PassReport last;
    int64_t before = -1;
    for (int i = 0; i < max; ++i) {
      auto r = reconciler_->runPass();
      EXPECT_TRUE(r.ok()) << r.error().message;
      if (!r.ok()) return last;
      last = *r;
      if (last.watermark == before) break;
      before = last.watermark;
    }
    return last;
  }
  std::vector<store::Finding> findings(std::optional<std::string> status = std::nullopt) {
    store::FindingQuery q;
    q.status = std::move(status);
    q.limit = 1000;
    auto f = repo_->findings(q);
    EXPECT_TRUE(f.ok()) << f.error().message;
    return f.ok() ? *f : std::vector<store::Finding>{};
  }
  static std::vector<std::string> kindsOf(const std::vector<store::Finding>& fs) {
    std::vector<std::string> out;
    for (const auto& f : fs) out.push_back(f.kind);
    return out;
  }

  FakeClock clock_{kNow};
  PgTestDb pg_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<ledger::EmbeddedLedger> engine_;
  std::unique_ptr<GateLedger> ledger_;
  std::unique_ptr<store::PgReconciliationRepository> repo_;
  std::unique_ptr<workflow::Intake> intake_;
  std::unique_ptr<workflow::Workflow> workflow_;
  std::unique_ptr<reconciliation::Reconciler> reconciler_;
  std::string buyer_, seller_;
};

}  // namespace sc::test
