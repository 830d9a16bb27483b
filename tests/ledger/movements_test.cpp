// Ledger::movementsSince, the reconciler's read of settles and credits, on both implementations:
// the embedded engine, and the Canton adapter over the sandbox (POST /v2/updates over HTTP).
// Same assertions for both.
#include <gtest/gtest.h>

#include "ledger/canton/canton_json_ledger.h"
#include "ledger/sandbox/sandbox.h"
#include "ledger/sandbox/server.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

class Movements : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "embedded") {
      engine_ = openLedger(dir_.path());
      ledger_ = engine_.get();
    } else {
      sandbox::Sandbox::Options so;
      so.data_dir = dir_.path();
      so.hs256_secret = "test-secret-0123456789";
      so.durable = false;
      auto s = sandbox::Sandbox::open(so);
      ASSERT_TRUE(s) << s.error().message;
      sandbox_ = std::move(*s);
      server_ = std::make_unique<sandbox::SandboxServer>(*sandbox_, "127.0.0.1", 0);
      server_->start();
      const std::string token = dir_.path() + "/token";
      std::ofstream(token) << sandbox_->makeToken("settlement-coordinator", 3600) << "\n";
      canton::CantonOptions o;
      o.http.host = "127.0.0.1";
      o.http.port = server_->port();
      o.token_file = token;
      o.securities_issuer_party = "securities-issuer::12345";
      o.cash_provider_party = "cash-provider::67890";
      adapter_ = std::make_unique<canton::CantonJsonLedger>(o);
      ledger_ = adapter_.get();
    }
    buyer_ = ledger_->allocateParty("buyer").value();
    seller_ = ledger_->allocateParty("seller").value();
  }
  void TearDown() override {
    adapter_.reset();
    server_.reset();
    sandbox_.reset();
    engine_.reset();
  }

  Outcome must(const std::string& id, Command c) {
    Submission s{id, std::move(c)};
    auto r = ledger_->submit(std::span<const Submission>(&s, 1));
    EXPECT_TRUE(r.front()) << id << ": " << r.front().error().message;
    return r.front() ? *r.front() : Outcome{};
  }
  // A DvP locked and reassigned, ready to settle.
  std::string ready(const std::string& name, const char* qty, const char* amount,
                    const char* locked_qty = nullptr) {
    auto dvp = must(name + ":initiate:0", dvpCommand(buyer_, seller_, qty, amount));
    must(name + ":lock_securities:0",
         LockSecurities{dvp.contract_id, D(locked_qty ? locked_qty : qty), locked_qty != nullptr});
    auto locked = locked_qty ? D(amount).mulDiv(D(locked_qty), D(qty)).value() : D(amount);
    must(name + ":lock_cash:0", LockCash{dvp.contract_id, locked});
    must(name + ":reassign:0", ReassignLocks{dvp.contract_id});
    return dvp.contract_id;
  }
  MovementPage page(int64_t after, int limit = 100) {
    auto p = ledger_->movementsSince(after, limit);
    EXPECT_TRUE(p.ok()) << p.error().message;
    return p.ok() ? *p : MovementPage{};
  }

  TempDir dir_;
  std::unique_ptr<EmbeddedLedger> engine_;
  std::unique_ptr<sandbox::Sandbox> sandbox_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::unique_ptr<canton::CantonJsonLedger> adapter_;
  Ledger* ledger_ = nullptr;
  std::string buyer_, seller_;
};

TEST_P(Movements, CreditsAndSettlesComeInOffsetOrderWithWhatMoved) {
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("100"), "securities"));
  ASSERT_TRUE(ledger_->credit(buyer_, "USDC", D("20000"), "cash"));
  std::string full = ready("t1", "10", "1500");
  auto settled = must("t1:settle:0", Settle{full});
  // A release of another DvP moves nothing between parties: not a movement.
  std::string released = ready("t2", "5", "750");
  must("t2:release:0", ReleaseLocks{released, true});

  auto p = page(0);
  ASSERT_EQ(p.movements.size(), 3u);
  EXPECT_EQ(p.movements[0].kind, MovementView::Kind::kCredit);
  EXPECT_EQ(p.movements[0].owner, seller_);
  EXPECT_EQ(p.movements[0].asset, "AAPL");
  EXPECT_EQ(p.movements[0].credited, LedgerAmount(D("100")));
  EXPECT_EQ(p.movements[1].kind, MovementView::Kind::kCredit);
  EXPECT_EQ(p.movements[1].asset, "USDC");
  const MovementView& s = p.movements[2];
  EXPECT_EQ(s.kind, MovementView::Kind::kSettle);
  EXPECT_EQ(s.update_id, settled.update_id);
  EXPECT_EQ(s.offset, settled.offset);
  EXPECT_EQ(s.command_id, "t1:settle:0");
  EXPECT_EQ(s.dvp_contract_id, full);
  EXPECT_EQ(s.buyer, buyer_);
  EXPECT_EQ(s.seller, seller_);
  EXPECT_EQ(s.security, "AAPL");
  EXPECT_EQ(s.cash_asset, "USDC");
  EXPECT_EQ(s.quantity, D("10"));
  EXPECT_EQ(s.amount, D("1500"));
  EXPECT_TRUE(s.remainder_dvp_contract_id.empty());
  EXPECT_LT(p.movements[1].offset, s.offset);
  EXPECT_GE(p.end_offset, s.offset);
  EXPECT_TRUE(p.at_end);

  // From the end: nothing more, and the end stays.
  auto rest = page(p.end_offset);
  EXPECT_TRUE(rest.movements.empty());
  EXPECT_EQ(rest.end_offset, p.end_offset);
  EXPECT_TRUE(rest.at_end);
}

TEST_P(Movements, PartialSettleNamesItsRemainder) {
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("4"), "securities"));
  ASSERT_TRUE(ledger_->credit(buyer_, "USDC", D("20000"), "cash"));
  std::string dvp = ready("p1", "10", "1500", "4");
  auto settled = must("p1:settle:0", Settle{dvp});
  ASSERT_FALSE(settled.remainder_dvp_contract_id.empty());
  auto p = page(0);
  ASSERT_EQ(p.movements.size(), 3u);
  const MovementView& s = p.movements[2];
  EXPECT_EQ(s.kind, MovementView::Kind::kSettle);
  EXPECT_EQ(s.quantity, D("4"));
  EXPECT_EQ(s.amount, D("600"));
  EXPECT_EQ(s.remainder_dvp_contract_id, settled.remainder_dvp_contract_id);
}

TEST_P(Movements, ALimitCutsThePageAndTheNextCallGoesOn) {
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("1"), "securities"));
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("2"), "securities"));
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("3"), "securities"));
  auto first = page(0, 2);
  ASSERT_EQ(first.movements.size(), 2u);
  EXPECT_EQ(first.end_offset, first.movements.back().offset);
  EXPECT_FALSE(first.at_end) << "a cut page does not claim the end";
  auto second = page(first.end_offset, 2);
  ASSERT_EQ(second.movements.size(), 1u);
  EXPECT_TRUE(second.at_end);
  EXPECT_EQ(second.movements[0].credited, LedgerAmount(D("3")));
  EXPECT_FALSE(ledger_->movementsSince(0, 0).ok()) << "a limit must be positive";
}

// prunedUpTo() is where a reader that met ledger_pruned may start again (the reconciler): the
// movements after it are all there, and a read from before it is refused. The sandbox answers
// /v2/state/latest-pruned-offsets, 0 until its operator prunes it (POST /sandbox/prune, up to
// the same offset the engine reports).
TEST_P(Movements, AReadFromThePrunedOffsetOnIsServedAndOneFromBeforeItIsRefused) {
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("1"), "securities"));
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("2"), "securities"));
  ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("3"), "securities"));
  auto nothing = ledger_->prunedUpTo();
  ASSERT_TRUE(nothing) << nothing.error().message;
  EXPECT_EQ(*nothing, 0);
  const auto all = page(0);
  ASSERT_EQ(all.movements.size(), 3u);
  if (engine_) {
    ASSERT_TRUE(engine_->prune(all.movements[2].offset));
  } else {
    sandbox::HttpRequest req{"POST", "/sandbox/prune",
                             "Bearer " + sandbox_->makeToken("settlement-coordinator", 60),
                             daml::Json{{"pruneUpTo", all.movements[2].offset - 1}}.dump()};
    auto rep = sandbox_->handle(req);
    ASSERT_EQ(rep.status, 200) << rep.body;
  }
  auto upto = ledger_->prunedUpTo();
  ASSERT_TRUE(upto) << upto.error().message;
  EXPECT_EQ(*upto, all.movements[2].offset - 1);
  auto from = page(*upto);
  ASSERT_EQ(from.movements.size(), 1u);
  EXPECT_EQ(from.movements[0].credited, LedgerAmount(D("3")));
  auto before = ledger_->movementsSince(*upto - 1, 100);
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, kLedgerPruned);
}

INSTANTIATE_TEST_SUITE_P(Ledgers, Movements, ::testing::Values("embedded", "canton"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sc::test
