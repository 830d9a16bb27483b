#include "workflow_fixture.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/service_process.h"

namespace sc::test {

void WorkflowTest::SetUp() {
  const char* store = std::getenv("SC_WORKFLOW_STORE");
  const std::string which = store && *store ? store : "pg";
  if (which == "memory") {
    memory_accounts_ = std::make_unique<sc::test::MemoryAccounts>();
    memory_ = std::make_unique<sc::test::MemoryStore>(*memory_accounts_);
    repo_ = memory_.get();
    accounts_ = memory_accounts_.get();
  } else {
    ASSERT_EQ(which, "pg") << "SC_WORKFLOW_STORE must be pg or memory";
    ASSERT_TRUE(db_.create()) << db_.error();
    auto d = store::Database::open(db_.conninfo(), 4);
    ASSERT_TRUE(d.ok()) << d.error().message;
    database_ = std::move(d).value();
    fake_clock_leases_ =
        std::make_unique<FakeClockLeases>(database_->settlements(), database_->pool());
    repo_ = fake_clock_leases_.get();
    accounts_ = &database_->accounts();
  }

  ledger_dir_ = sc::test::makeTempDir("workflow-ledger");
  const char* mode = std::getenv("SC_WORKFLOW_LEDGER");
  if (mode && std::string(mode) == "sandbox") {
    ledger::sandbox::Sandbox::Options so;
    so.data_dir = ledger_dir_;
    so.clock = &clock_;
    so.hs256_secret = "workflow-test-secret";
    auto sb = ledger::sandbox::Sandbox::open(so);
    ASSERT_TRUE(sb.ok()) << sb.error().message;
    sandbox_ = std::move(sb).value();
    sandbox_server_ = std::make_unique<ledger::sandbox::SandboxServer>(*sandbox_, "127.0.0.1", 0);
    sandbox_server_->start();
    const std::string token = ledger_dir_ + "/token";
    std::ofstream(token) << sandbox_->makeToken("settlement-coordinator", 3600) << "\n";
    ledger::canton::CantonOptions co;
    co.http.host = "127.0.0.1";
    co.http.port = sandbox_server_->port();
    co.token_file = token;
    co.securities_issuer_party = "securities-issuer::12345";
    co.cash_provider_party = "cash-provider::67890";
    co.retry_backoff = std::chrono::milliseconds(1);
    canton_ = std::make_unique<ledger::canton::CantonJsonLedger>(co);
    ledger_ = &sandbox_->engine();
  } else {
    ledger::EmbeddedLedger::Options lo;
    lo.data_dir = ledger_dir_;
    lo.clock = &clock_;
    lo.securities_issuer_party = "securities-issuer::12345";  // the spec's default, a full id
    lo.cash_provider_party = "cash-provider::67890";
    auto l = ledger::EmbeddedLedger::open(lo);
    ASSERT_TRUE(l.ok()) << l.error().message;
    embedded_ = std::move(l).value();
    ledger_ = embedded_.get();
  }

  options_.batch_size = 100;
  options_.retry_attempts = 3;
  options_.retry_delay = std::chrono::seconds(30);
  options_.timeout = std::chrono::seconds(300);
  options_.lease = std::chrono::seconds(15);
  options_.jitter_seed = 42;
  workflow_ = makeWorkflow();

  addAccount("acc_buyer");
  addAccount("acc_seller");
}

void WorkflowTest::TearDown() {
  workflow_.reset();
  canton_.reset();
  sandbox_server_.reset();
  sandbox_.reset();
  embedded_.reset();
  ledger_ = nullptr;
  database_.reset();
  memory_.reset();
  memory_accounts_.reset();
  if (!ledger_dir_.empty() && !HasFailure()) std::filesystem::remove_all(ledger_dir_);
}

std::unique_ptr<workflow::Workflow> WorkflowTest::makeWorkflow(store::SettlementRepository* repo,
                                                               ledger::Ledger* ledger,
                                                               const MonotonicClock* elapsed) {
  return std::make_unique<workflow::Workflow>(repo ? *repo : *repo_, *accounts_,
                                              ledger ? *ledger : workflowLedger(), clock_, options_,
                                              elapsed ? *elapsed : elapsed_);
}

std::string WorkflowTest::addAccount(const std::string& account_id) {
  auto party = workflowLedger().allocateParty(account_id);
  EXPECT_TRUE(party.ok()) << party.error().message;
  if (!party.ok()) return {};
  Account a{account_id, *party, AccountStatus::kActive, clock_.now()};
  auto r = accounts().create(a);
  EXPECT_TRUE(r.ok()) << r.error().message;
  party_[account_id] = *party;
  return *party;
}

void WorkflowTest::pruneParticipant() {
  const int64_t upto = ledger_->ledgerEnd() - 1;
  if (!sandbox_) {
    ASSERT_TRUE(ledger_->prune(upto + 1));  // the engine prunes below its argument
  } else {
    ledger::sandbox::HttpRequest req{"POST", "/sandbox/prune",
                                     "Bearer " + sandbox_->makeToken("settlement-coordinator", 60),
                                     nlohmann::json{{"pruneUpTo", upto}}.dump()};
    auto rep = sandbox_->handle(req);
    ASSERT_EQ(rep.status, 200) << rep.body;
  }
  auto pruned = workflowLedger().prunedUpTo();
  ASSERT_TRUE(pruned) << pruned.error().message;
  ASSERT_EQ(*pruned, upto);
}

void WorkflowTest::credit(const std::string& account_id, const std::string& asset,
                          const char* amount, const std::string& synchronizer) {
  auto h = workflowLedger().credit(party_.at(account_id), asset, D(amount), synchronizer);
  ASSERT_TRUE(h.ok()) << h.error().message;
  credited_[asset] = credited_[asset].add(D(amount)).value();
  auto& mine = credited_to_[{account_id, asset}];
  mine = mine.add(D(amount)).value();
}

Trade WorkflowTest::trade(const std::string& trade_id, const char* quantity, const char* amount,
                          bool allow_partial, Date settlement_date) {
  Trade t;
  t.event_id = "evt_" + trade_id;
  t.trade_id = trade_id;
  t.buyer_account_id = "acc_buyer";
  t.seller_account_id = "acc_seller";
  t.symbol = "AAPL/USDC";
  t.quantity = D(quantity);
  t.amount = D(amount);
  t.settlement_date = settlement_date;
  t.executed_at = kT0 - std::chrono::minutes(1);
  t.allow_partial = allow_partial;
  return t;
}

Settlement WorkflowTest::submit(const std::string& trade_id, const char* quantity,
                                const char* amount, bool allow_partial, Date settlement_date) {
  Trade t = trade(trade_id, quantity, amount, allow_partial, settlement_date);
  auto r = repo().intake(std::span<const Trade>(&t, 1), clock_.now(), options_.timeout);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  EXPECT_EQ(r->at(0).kind, store::IntakeKind::kCreated);
  return r->at(0).settlement;
}

int WorkflowTest::drain(workflow::Workflow* w) {
  workflow::Workflow& flow = w ? *w : *workflow_;
  int batches = 0;
  for (int i = 0; i < 20; ++i) {
    auto n = flow.runOnce();
    EXPECT_TRUE(n.ok()) << n.error().message;
    if (!n.ok() || *n == 0) return batches;
    ++batches;
  }
  ADD_FAILURE() << "work still due after 20 batches at the same instant";
  return batches;
}

Settlement WorkflowTest::driveToRest(const Settlement& s, workflow::Workflow* w, int max_steps) {
  Settlement now = load(s);
  for (int i = 0; i < max_steps && isActive(now.status) && now.status != Status::kConfirmed; ++i) {
    clock_.set(std::max(clock_.now(), now.next_attempt_at));
    drain(w);
    now = load(s);
  }
  return now;
}

Settlement WorkflowTest::load(const Settlement& s) {
  auto f = repo().find(s.id);
  EXPECT_TRUE(f.ok() && f->has_value());
  if (!f.ok() || !f->has_value()) return s;
  return **f;
}

std::vector<SettlementEvent> WorkflowTest::events(const Settlement& s) {
  auto e = repo().events(s.id);
  EXPECT_TRUE(e.ok()) << e.error().message;
  return e.ok() ? *e : std::vector<SettlementEvent>{};
}

std::vector<Status> WorkflowTest::eventStatuses(const Settlement& s) {
  std::vector<Status> out;
  for (const auto& e : events(s)) out.push_back(e.status);
  return out;
}

LedgerAmount WorkflowTest::free(const std::string& account_id, const std::string& asset) {
  LedgerAmount sum;
  auto hs = ledger_->holdings(party_.at(account_id));
  EXPECT_TRUE(hs.ok());
  for (const auto& h : *hs)
    if (h.asset == asset && !h.locked) sum = sum.add(h.amount).value();
  return sum;
}

LedgerAmount WorkflowTest::lockedOf(const std::string& account_id, const std::string& asset) {
  LedgerAmount sum;
  auto hs = ledger_->holdings(party_.at(account_id));
  EXPECT_TRUE(hs.ok());
  for (const auto& h : *hs)
    if (h.asset == asset && h.locked) sum = sum.add(h.amount).value();
  return sum;
}

std::map<std::string, std::pair<LedgerAmount, LedgerAmount>> WorkflowTest::totals() {
  std::map<std::string, std::pair<LedgerAmount, LedgerAmount>> out;
  auto t = ledger_->totals();
  EXPECT_TRUE(t.ok());
  for (const auto& a : *t) out[a.asset] = {a.total, a.locked};
  return out;
}

void WorkflowTest::expectLedgerConserved(bool expect_no_locks) {
  auto t = totals();
  for (const auto& [asset, amount] : credited_) {
    EXPECT_EQ(t[asset].first, amount) << asset << " total changed";
    if (expect_no_locks) {
      EXPECT_EQ(t[asset].second, Decimal()) << asset << " still locked";
    }
  }
  for (const auto& [asset, tl] : t) {
    EXPECT_TRUE(credited_.count(asset) || tl.first.isZero()) << asset << " appeared from nowhere";
  }
  // Per party (DESIGN §7.2): what each holds is what it was credited plus what its settlements
  // say settled — a double settlement conserves every total, but not this.
  std::map<std::pair<std::string, std::string>, Decimal> expected = credited_to_;
  store::ListQuery all;
  all.limit = 1000000;
  auto page = repo().list(all);
  ASSERT_TRUE(page.ok()) << page.error().message;
  for (const Settlement& st : page->settlements) {
    const Trade& t = st.trade;
    auto move = [&](const std::string& account, const std::string& asset, Decimal d, bool in) {
      auto& e = expected[{account, asset}];
      e = (in ? e.add(d) : e.sub(d)).value();
    };
    move(t.buyer_account_id, t.securityAsset(), st.settled_quantity, true);
    move(t.seller_account_id, t.securityAsset(), st.settled_quantity, false);
    move(t.buyer_account_id, t.cashAsset(), st.settled_amount, false);
    move(t.seller_account_id, t.cashAsset(), st.settled_amount, true);
  }
  for (const auto& [who, amount] : expected) {
    LedgerAmount held = free(who.first, who.second).add(lockedOf(who.first, who.second)).value();
    EXPECT_EQ(held, amount) << who.first << " holds " << held.toString() << " " << who.second
                            << ", its credits and settled trades say " << amount.toString();
  }
  auto integrity = ledger_->verifyIntegrity();
  EXPECT_TRUE(integrity.ok()) << integrity.error().message;
}

}  // namespace sc::test
