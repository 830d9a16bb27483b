// CantonJsonLedger against the sandbox over HTTP, in process: the sandbox's server listens on a
// free port, the adapter talks JSON Ledger API v2 to it. Set SC_CONTRACT_TRAFFIC=<file> to record
// every request and response (scripts/validate-openapi checks them against the reference).
// Over 500 lines: one fixture, and the contract tests need the traffic of every case in one run.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ledger/canton/canton_json_ledger.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger/sandbox/jwt.h"
#include "ledger/sandbox/sandbox.h"
#include "ledger/sandbox/server.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

using canton::CantonJsonLedger;
using canton::CantonOptions;
using sandbox::HttpReply;
using sandbox::HttpRequest;
using sandbox::Sandbox;
using sandbox::SandboxServer;

constexpr const char* kSecret = "test-secret-0123456789";

// Records traffic for the contract tests (one JSON object per line).
void record(const HttpRequest& req, const HttpReply& rep) {
  static std::mutex mu;
  const char* path = std::getenv("SC_CONTRACT_TRAFFIC");
  if (!path || !*path) return;
  std::lock_guard l(mu);
  std::ofstream out(path, std::ios::app);
  daml::Json j{{"method", req.method},
               {"target", req.target},
               {"request", req.body},
               {"status", rep.status},
               {"response", rep.body}};
  out << j.dump() << "\n";
}

class CantonLedger : public ::testing::Test {
 protected:
  void SetUp() override { start(); }

  void start() {
    Sandbox::Options so;
    so.data_dir = dir_.path();
    so.hs256_secret = kSecret;
    so.durable = durable_;
    auto s = Sandbox::open(so);
    ASSERT_TRUE(s) << s.error().message;
    sandbox_ = std::move(*s);
    server_ = std::make_unique<SandboxServer>(*sandbox_, "127.0.0.1", 0);
    server_->setObserver(record);
    server_->start();
    token_file_ = dir_.path() + "/token";
    writeToken(sandbox_->makeToken("settlement-coordinator", 3600));
    ledger_ = std::make_unique<CantonJsonLedger>(options());
  }
  void stop() {
    ledger_.reset();
    server_.reset();
    sandbox_.reset();
  }

  CantonOptions options() {
    CantonOptions o;
    o.http.host = "127.0.0.1";
    o.http.port = server_->port();
    o.http.timeout = std::chrono::milliseconds(5000);
    o.token_file = token_file_;
    o.securities_issuer_party = "securities-issuer::12345";
    o.cash_provider_party = "cash-provider::67890";
    o.retry_backoff = std::chrono::milliseconds(1);
    return o;
  }
  void writeToken(const std::string& t) {
    std::ofstream(token_file_, std::ios::trunc) << t << "\n";
  }

  void fund() {
    buyer_ = ledger_->allocateParty("buyer").value();
    seller_ = ledger_->allocateParty("seller").value();
    ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("100"), "securities"));
    ASSERT_TRUE(ledger_->credit(buyer_, "USDC", D("20000"), "cash"));
  }
  Outcome must(const std::string& id, Command c) {
    Submission s{id, std::move(c)};
    auto r = ledger_->submit(std::span<const Submission>(&s, 1));
    EXPECT_TRUE(r.front()) << id << ": " << r.front().error().code << " "
                           << r.front().error().message;
    return r.front() ? *r.front() : Outcome{};
  }
  Result<Outcome> submit(const std::string& id, Command c) {
    Submission s{id, std::move(c)};
    return std::move(ledger_->submit(std::span<const Submission>(&s, 1)).front());
  }
  LedgerAmount holds(const std::string& party, const std::string& asset, bool locked = false) {
    LedgerAmount sum;
    const auto hs = ledger_->holdings(party).value();  // a copy: the Result would dangle
    for (const auto& h : hs) {
      if (h.asset == asset && h.locked == locked) sum = sum.add(h.amount).value();
    }
    return sum;
  }
  // A DvP with both legs locked and on the settlement synchronizer.
  std::string readyDvp(const char* qty = "100", const char* amount = "15000") {
    auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, qty, amount));
    must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D(qty)});
    must("t1:lock_cash:0", LockCash{dvp.contract_id, D(amount)});
    must("t1:reassign:0", ReassignLocks{dvp.contract_id});
    return dvp.contract_id;
  }
  HttpReply raw(const std::string& method, const std::string& target, const daml::Json& body,
                const std::string& user = "settlement-coordinator") {
    HttpRequest req{method, target, "Bearer " + sandbox_->makeToken(user, 60),
                    body.is_null() ? "" : body.dump()};
    HttpReply rep = sandbox_->handle(req);
    record(req, rep);
    return rep;
  }

  HttpReply anonymousCall(const std::string& method, const std::string& target) {
    HttpRequest req{method, target, "", ""};
    HttpReply rep = sandbox_->handle(req);
    record(req, rep);
    return rep;
  }

  TempDir dir_;
  std::unique_ptr<Sandbox> sandbox_;
  std::unique_ptr<SandboxServer> server_;
  std::unique_ptr<CantonJsonLedger> ledger_;
  std::string token_file_;
  std::string buyer_, seller_;
  bool durable_ = false;  // fdatasync the engine's journal and the sandbox's records
};

TEST_F(CantonLedger, AFullTradeSettlesThroughTheJsonApi) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  EXPECT_FALSE(dvp.contract_id.empty());
  EXPECT_EQ(dvp.synchronizer, "settlement");
  auto view = ledger_->dvp(dvp.contract_id).value();
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->active);
  EXPECT_EQ(view->buyer, buyer_);
  EXPECT_EQ(view->cash_asset, "USDC");
  EXPECT_EQ(view->quantity, D("100"));

  auto sec = must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("100")});
  EXPECT_EQ(sec.quantity, D("100"));
  EXPECT_EQ(sec.synchronizer, "securities");
  auto cash = must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  EXPECT_EQ(cash.amount, D("15000"));
  EXPECT_EQ(holds(buyer_, "USDC"), D("5000"));
  EXPECT_EQ(holds(buyer_, "USDC", true), D("15000"));

  auto moved = must("t1:reassign:0", ReassignLocks{dvp.contract_id});
  EXPECT_EQ(moved.synchronizer, "settlement");
  const auto seller_holdings = ledger_->holdings(seller_).value();
  for (const auto& h : seller_holdings) {
    if (h.locked) {
      EXPECT_EQ(h.synchronizer, "settlement");
    }
  }
  auto settled = must("t1:settle:0", Settle{dvp.contract_id});
  EXPECT_EQ(settled.quantity, D("100"));
  EXPECT_EQ(settled.amount, D("15000"));
  EXPECT_FALSE(settled.buyer_securities_contract_id.empty());
  EXPECT_FALSE(settled.seller_cash_contract_id.empty());
  EXPECT_TRUE(settled.remainder_dvp_contract_id.empty());
  EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));
  EXPECT_EQ(holds(seller_, "USDC"), D("15000"));
  EXPECT_EQ(holds(seller_, "AAPL"), D("0"));
  EXPECT_FALSE(ledger_->dvp(dvp.contract_id).value()->active);

  auto update = ledger_->updateById(settled.update_id).value();
  ASSERT_TRUE(update);
  EXPECT_EQ(update->command_id, "t1:settle:0");
  EXPECT_EQ(update->offset, settled.offset);
  std::map<std::string, std::pair<LedgerAmount, LedgerAmount>> totals;
  const auto all = ledger_->totals().value();
  for (const auto& t : all) totals[t.asset] = {t.total, t.locked};
  EXPECT_EQ(totals["AAPL"].first, D("100"));
  EXPECT_EQ(totals["USDC"].first, D("20000"));
  EXPECT_EQ(totals["USDC"].second, D("0"));
  EXPECT_TRUE(sandbox_->engine().verifyIntegrity());

  // The settled record (SettledDeliveryVsPayment) is an active contract, as on a participant.
  daml::Json filter{
      {"cumulative",
       {{{"identifierFilter",
          {{"TemplateFilter",
            {{"value",
              {{"templateId",
                daml::templateRef(daml::Template::kSettledDeliveryVsPayment)}}}}}}}}}}};
  auto acs = raw("POST", "/v2/state/active-contracts",
                 daml::Json{{"activeAtOffset", settled.offset},
                            {"eventFormat", {{"filtersByParty", {{buyer_, filter}}}}}});
  ASSERT_EQ(acs.status, 200) << acs.body;
  auto entries = daml::Json::parse(acs.body);
  ASSERT_EQ(entries.size(), 1u) << acs.body;
  const auto& arg =
      entries[0]["contractEntry"]["JsActiveContract"]["createdEvent"]["createArgument"];
  EXPECT_EQ(arg["quantity"], "100.0000000000");
  EXPECT_EQ(arg["cash_amount"], "15000.0000000000");
  EXPECT_EQ(arg["currency"], "USDC");
  EXPECT_EQ(arg["securities_transfer_id"], settled.buyer_securities_contract_id);
}

TEST_F(CantonLedger, ResubmittingACommandIdReturnsTheFirstOutcome) {
  fund();
  auto first = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  auto again = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.contract_id, first.contract_id);
  EXPECT_EQ(again.update_id, first.update_id);
  EXPECT_EQ(sandbox_->engine().activeDvps().size(), 1u);
  auto lock = must("t1:lock_securities:0", LockSecurities{first.contract_id, D("40")});
  auto lock2 = must("t1:lock_securities:0", LockSecurities{first.contract_id, D("40")});
  EXPECT_TRUE(lock2.deduplicated);
  EXPECT_EQ(lock2.contract_id, lock.contract_id);
  EXPECT_EQ(lock2.quantity, D("40"));
  EXPECT_EQ(holds(seller_, "AAPL", true), D("40"));
}

TEST_F(CantonLedger, AConnectionDroppedAfterTheCommitRecoversTheFirstOutcomeAndSettlesOnce) {
  fund();
  std::string dvp = readyDvp();
  sandbox_->dropNextCommittedResponses(1);
  auto settled = must("t1:settle:0", Settle{dvp});
  EXPECT_TRUE(settled.deduplicated);  // the answer was lost; the retry found the first outcome
  auto engine = sandbox_->engine().completion("t1:settle:0").value();
  ASSERT_TRUE(engine);
  EXPECT_EQ(settled.update_id, engine->update_id);
  EXPECT_EQ(settled.buyer_securities_contract_id, engine->buyer_securities_contract_id);
  EXPECT_EQ(settled.quantity, D("100"));
  EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));  // never a second settlement
  EXPECT_EQ(holds(seller_, "USDC"), D("15000"));
}

// Two workers whose leases overlapped run the same reassignment: the other one moves the locks
// between this adapter's look at them and its unassign, which the participant then refuses (the
// lock is no longer where it was seen). The step is done, not failed; the trade settles once.
TEST_F(CantonLedger, LocksMovedByAnotherWorkerMeanwhileAreNotAFailure) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("100")});
  must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  std::atomic<bool> armed{true};
  std::atomic<bool> rival_moved{false};
  server_->setObserver([&](const HttpRequest& req, const HttpReply& rep) {
    record(req, rep);
    // After the adapter's look at the locks, before its answer reaches the adapter.
    if (req.target.rfind("/v2/state/active-contracts", 0) == 0 &&
        req.body.find("LockedSecurities") != std::string::npos && armed.exchange(false)) {
      rival_moved =
          sandbox_->engine().submitOne("rival:reassign:0", ReassignLocks{dvp.contract_id}).ok();
    }
  });
  auto moved = submit("t1:reassign:0", ReassignLocks{dvp.contract_id});
  server_->setObserver(record);
  ASSERT_TRUE(rival_moved);
  ASSERT_TRUE(moved) << moved.error().code << " " << moved.error().message;
  must("t1:settle:0", Settle{dvp.contract_id});
  EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));
  EXPECT_EQ(holds(seller_, "AAPL"), D("0"));
  EXPECT_EQ(holds(seller_, "USDC"), D("15000"));
  EXPECT_EQ(holds(buyer_, "USDC"), D("5000"));
}

// A credit past Daml's Numeric 10 range is the ledger's range error, as in embedded mode.
// ---- a batch's commands run concurrently --------------------------------------------------

// `n` buyer/seller pairs, each funded for one trade of 10 AAPL for 1,500 USDC.
struct Pair {
  std::string buyer, seller, dvp;
};

class CantonBatch : public CantonLedger {
 protected:
  std::vector<Pair> pairs(int n) {
    std::vector<Pair> out;
    for (int i = 0; i < n; ++i) {
      Pair p;
      p.buyer = ledger_->allocateParty("buyer" + std::to_string(i)).value();
      p.seller = ledger_->allocateParty("seller" + std::to_string(i)).value();
      EXPECT_TRUE(ledger_->credit(p.seller, "AAPL", D("10"), "securities"));
      EXPECT_TRUE(ledger_->credit(p.buyer, "USDC", D("1500"), "cash"));
      out.push_back(p);
    }
    return out;
  }
  std::vector<Result<Outcome>> run(const std::vector<Submission>& batch) {
    return ledger_->submit(std::span<const Submission>(batch.data(), batch.size()));
  }
  // Every command of the batch succeeded; returns the outcomes.
  std::vector<Outcome> all(const std::vector<Submission>& batch) {
    auto rs = run(batch);
    std::vector<Outcome> out;
    for (size_t i = 0; i < rs.size(); ++i) {
      EXPECT_TRUE(rs[i]) << batch[i].command_id << ": " << rs[i].error().code << " "
                         << rs[i].error().message;
      out.push_back(rs[i] ? *rs[i] : Outcome{});
    }
    return out;
  }
  // One step of the trade for every pair, in one batch.
  template <class Make>
  std::vector<Outcome> step(std::vector<Pair>& ps, const char* name, Make make) {
    std::vector<Submission> batch;
    for (size_t i = 0; i < ps.size(); ++i)
      batch.push_back({"t" + std::to_string(i) + ":" + name + ":0", make(ps[i])});
    return all(batch);
  }
  void settleAll(std::vector<Pair>& ps) {
    auto created =
        step(ps, "initiate", [](Pair& p) { return dvpCommand(p.buyer, p.seller, "10", "1500"); });
    for (size_t i = 0; i < ps.size(); ++i) ps[i].dvp = created[i].contract_id;
    step(ps, "lock_securities", [](Pair& p) { return LockSecurities{p.dvp, D("10")}; });
    step(ps, "lock_cash", [](Pair& p) { return LockCash{p.dvp, D("1500")}; });
    step(ps, "reassign", [](Pair& p) { return ReassignLocks{p.dvp}; });
    auto settled = step(ps, "settle", [](Pair& p) { return Settle{p.dvp}; });
    for (const auto& o : settled) EXPECT_EQ(o.quantity, D("10"));
  }
  // Each pair traded exactly once: per party, not just per asset.
  void expectEachSettledOnce(const std::vector<Pair>& ps) {
    for (size_t i = 0; i < ps.size(); ++i) {
      SCOPED_TRACE("pair " + std::to_string(i));
      EXPECT_EQ(holds(ps[i].buyer, "AAPL"), D("10"));
      EXPECT_EQ(holds(ps[i].buyer, "USDC"), D("0"));
      EXPECT_EQ(holds(ps[i].seller, "AAPL"), D("0"));
      EXPECT_EQ(holds(ps[i].seller, "USDC"), D("1500"));
      auto done = sandbox_->engine().completion("t" + std::to_string(i) + ":settle:0").value();
      EXPECT_TRUE(done);
    }
    EXPECT_TRUE(sandbox_->engine().verifyIntegrity());
    EXPECT_TRUE(sandbox_->engine().activeDvps().empty());
  }
};

TEST_F(CantonBatch, EveryCommandOfAConcurrentBatchCompletesExactlyOnce) {
  auto ps = pairs(12);
  settleAll(ps);
  expectEachSettledOnce(ps);
  // Each step of each trade is one transaction on the ledger (no command ran twice).
  std::set<std::string> ids;
  for (const auto& rec : daml::Json::parse(raw("POST", "/v2/commands/completions",
                                               daml::Json{{"userId", "settlement-coordinator"},
                                                          {"parties", {ps[0].buyer}},
                                                          {"beginExclusive", 0}})
                                               .body)) {
    ids.insert(rec["completionResponse"]["Completion"]["value"]["commandId"].get<std::string>());
  }
  EXPECT_EQ(ids.count("t0:settle:0"), 1u);
}

// Commands of one party in one batch run in batch order: a seller with enough for two of three
// trades locks the first two, and the third (not partial) is insufficient.
TEST_F(CantonBatch, CommandsSharingAPartyRunInBatchOrder) {
  fund();  // the seller holds 100 AAPL
  std::vector<Submission> create;
  for (int i = 0; i < 3; ++i)
    create.push_back(
        {"s" + std::to_string(i) + ":initiate:0", dvpCommand(buyer_, seller_, "40", "10")});
  auto dvps = all(create);
  std::vector<Submission> lock;
  for (int i = 0; i < 3; ++i)
    lock.push_back({"s" + std::to_string(i) + ":lock_securities:0",
                    LockSecurities{dvps[i].contract_id, D("40")}});
  auto rs = run(lock);
  ASSERT_TRUE(rs[0]) << rs[0].error().message;
  ASSERT_TRUE(rs[1]) << rs[1].error().message;
  ASSERT_FALSE(rs[2]);
  EXPECT_EQ(rs[2].error().code, kInsufficientSecurities);
  EXPECT_EQ(holds(seller_, "AAPL", true), D("80"));
  EXPECT_EQ(holds(seller_, "AAPL"), D("20"));
}

// One command failing does not touch the others of its batch.
TEST_F(CantonBatch, AFailedCommandDoesNotAffectTheOthers) {
  auto ps = pairs(6);
  auto created =
      step(ps, "initiate", [](Pair& p) { return dvpCommand(p.buyer, p.seller, "10", "1500"); });
  for (size_t i = 0; i < ps.size(); ++i) ps[i].dvp = created[i].contract_id;
  step(ps, "lock_securities", [](Pair& p) { return LockSecurities{p.dvp, D("10")}; });
  std::vector<Submission> batch;
  for (size_t i = 0; i < ps.size(); ++i) {
    // Pair 3 asks for more cash than its buyer has; pair 4 names a DvP that does not exist.
    Command c = LockCash{ps[i].dvp, D(i == 3 ? "1500.01" : "1500")};
    if (i == 4) c = LockCash{"00nosuchdvp", D("1500")};
    batch.push_back({"t" + std::to_string(i) + ":lock_cash:0", c});
  }
  auto rs = run(batch);
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i == 3) {
      ASSERT_FALSE(rs[i]);
      EXPECT_EQ(rs[i].error().code, kInsufficientCash);
      EXPECT_FALSE(rs[i].error().retryable);
    } else if (i == 4) {
      ASSERT_FALSE(rs[i]);
      EXPECT_EQ(rs[i].error().code, kContractNotActive);
    } else {
      ASSERT_TRUE(rs[i]) << i << ": " << rs[i].error().message;
      EXPECT_EQ(rs[i]->amount, D("1500"));
    }
  }
  EXPECT_EQ(holds(ps[3].buyer, "USDC"), D("1500"));  // nothing locked for the failed one
  EXPECT_EQ(holds(ps[4].buyer, "USDC"), D("1500"));
  EXPECT_EQ(holds(ps[0].buyer, "USDC", true), D("1500"));
  EXPECT_EQ(holds(ps[5].buyer, "USDC", true), D("1500"));
}

// Answers lost after the commit, in a concurrent batch: the retries under the same command ids
// find the first outcomes, and two workers submitting the same batch at once (overlapping
// leases) settle each trade once.
TEST_F(CantonBatch, DeduplicationHoldsWhenConcurrentSubmissionsAreRetried) {
  auto ps = pairs(8);
  auto created =
      step(ps, "initiate", [](Pair& p) { return dvpCommand(p.buyer, p.seller, "10", "1500"); });
  for (size_t i = 0; i < ps.size(); ++i) ps[i].dvp = created[i].contract_id;
  sandbox_->dropNextCommittedResponses(3);
  auto locked = step(ps, "lock_securities", [](Pair& p) { return LockSecurities{p.dvp, D("10")}; });
  int deduplicated = 0;
  for (const auto& o : locked) {
    EXPECT_EQ(o.quantity, D("10"));
    deduplicated += o.deduplicated;
  }
  EXPECT_EQ(deduplicated, 3);
  // The same command id twice in one batch: the second is the first's outcome.
  std::vector<Submission> twice{{"t0:lock_cash:0", LockCash{ps[0].dvp, D("1500")}},
                                {"t0:lock_cash:0", LockCash{ps[0].dvp, D("1500")}}};
  auto both = all(twice);
  EXPECT_TRUE(both[1].deduplicated);
  EXPECT_EQ(both[0].contract_id, both[1].contract_id);
  step(ps, "lock_cash", [](Pair& p) { return LockCash{p.dvp, D("1500")}; });
  step(ps, "reassign", [](Pair& p) { return ReassignLocks{p.dvp}; });
  std::vector<Submission> settle;
  for (size_t i = 0; i < ps.size(); ++i)
    settle.push_back({"t" + std::to_string(i) + ":settle:0", Settle{ps[i].dvp}});
  auto rival_ledger = std::make_unique<CantonJsonLedger>(options());
  std::vector<Result<Outcome>> rival;
  std::thread other([&] {
    rival = rival_ledger->submit(std::span<const Submission>(settle.data(), settle.size()));
  });
  auto mine = run(settle);
  other.join();
  for (size_t i = 0; i < ps.size(); ++i) {
    ASSERT_TRUE(mine[i]) << mine[i].error().message;
    ASSERT_TRUE(rival[i]) << rival[i].error().message;
    EXPECT_EQ(mine[i]->update_id, rival[i]->update_id);  // one transaction, seen by both
    EXPECT_NE(mine[i]->deduplicated, rival[i]->deduplicated);
  }
  expectEachSettledOnce(ps);
}

// A party's active contracts include the locks it observes (its counterparty's, for its DvPs).
TEST_F(CantonBatch, ABuyerSeesTheSellersLockOfItsDvp) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("100")});
  daml::Json filter{
      {"cumulative",
       {{{"identifierFilter",
          {{"TemplateFilter",
            {{"value", {{"templateId", daml::templateRef(daml::Template::kLockedSecurities)}}}}}}}},
        {{"identifierFilter",
          {{"TemplateFilter",
            {{"value",
              {{"templateId", daml::templateRef(daml::Template::kDeliveryVsPayment)}}}}}}}}}}};
  auto acs = raw(
      "POST", "/v2/state/active-contracts",
      daml::Json{{"activeAtOffset", 0}, {"eventFormat", {{"filtersByParty", {{buyer_, filter}}}}}});
  ASSERT_EQ(acs.status, 200) << acs.body;
  auto entries = daml::Json::parse(acs.body);
  ASSERT_EQ(entries.size(), 2u) << acs.body;
  std::set<std::string> templates;
  for (const auto& e : entries) {
    const auto& c = e["contractEntry"]["JsActiveContract"]["createdEvent"];
    templates.insert(c["templateId"].get<std::string>());
    EXPECT_EQ(c["witnessParties"], daml::Json::array({buyer_}));
  }
  EXPECT_EQ(templates.size(), 2u);
}

TEST_F(CantonLedger, ACreditPastTheNumericRangeIsAnAmountOutOfRangeError) {
  fund();
  ASSERT_TRUE(ledger_->credit(buyer_, "USDC", LedgerAmount::max().sub(D("20000")).value(), "cash"));
  auto over = ledger_->credit(seller_, "USDC", LedgerAmount::parse("0.0000000001").value(), "cash");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, kAmountOutOfRange) << over.error().message;
  EXPECT_FALSE(over.error().retryable);
}

// A credit's first attempt commits and its answer is lost; the resend is refused with a
// transient error (the participant restarting). The credit may have run, so the adapter answers
// ledger_timeout (outcome unknown), not the resend's refusal: a caller that took that for a
// failure (the credit route, which then releases the Idempotency-Key) could credit twice.
TEST_F(CantonLedger, ACreditWhoseResendIsRefusedAfterALostAnswerIsOutcomeUnknown) {
  fund();
  auto o = options();
  o.submit_attempts = 2;
  CantonJsonLedger once_more(o);
  sandbox_->dropNextCommittedResponses(1);
  sandbox_->failNextRequests(1, 503, "/v2/commands/submit-and-wait-for-transaction", /*skip=*/1);
  auto r = once_more.credit(buyer_, "USDC", D("5"), "cash");
  ASSERT_FALSE(r) << "answered although both attempts failed";
  EXPECT_EQ(r.error().code, kTimeout) << r.error().message;
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(holds(buyer_, "USDC"), D("20005")) << "the first attempt ran";
  // The resend is deduplicated and the completion found, but reading its update fails: it ran,
  // so that failure is no refusal either.
  sandbox_->dropNextCommittedResponses(1);
  sandbox_->failNextRequests(1, 503, "/v2/updates/update-by-id");
  auto unread = once_more.credit(buyer_, "USDC", D("7"), "cash");
  ASSERT_FALSE(unread) << "answered although its update could not be read";
  EXPECT_EQ(unread.error().code, kTimeout) << unread.error().message;
  EXPECT_EQ(holds(buyer_, "USDC"), D("20012")) << "the first attempt ran";
}

// A server error without the participant's error body (a gateway's 502 or 504) says nothing of
// whether the command reached the participant: outcome unknown, resent under the same id. So is
// any refusal that is not the participant's after an attempt that may have run (a gateway's 401):
// only the participant checks a resend against the earlier run.
TEST_F(CantonLedger, AGatewaysAnswerToACommandIsNoAnswerAtAll) {
  fund();
  server_->setObserver(nullptr);  // a gateway's answers are outside the API: not contract traffic
  auto o = options();
  o.submit_attempts = 1;
  CantonJsonLedger once(o);
  const std::string path = "/v2/commands/submit-and-wait-for-transaction";
  sandbox_->failNextRequests(1, 502, path, 0, /*gateway=*/true);
  auto lost = once.credit(buyer_, "USDC", D("5"), "cash");
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, kTimeout) << lost.error().message;
  EXPECT_EQ(holds(buyer_, "USDC"), D("20000"));
  // Resent: the gateway's 504 first, then the participant runs it, once.
  o.submit_attempts = 2;
  CantonJsonLedger twice(o);
  sandbox_->failNextRequests(1, 504, path, 0, /*gateway=*/true);
  ASSERT_TRUE(twice.credit(buyer_, "USDC", D("5"), "cash"));
  EXPECT_EQ(holds(buyer_, "USDC"), D("20005"));
  // The first attempt commits and its answer is lost; the gateway refuses the resend (401).
  sandbox_->dropNextCommittedResponses(1);
  sandbox_->failNextRequests(1, 401, path, /*skip=*/1, /*gateway=*/true);
  auto refused = twice.credit(buyer_, "USDC", D("7"), "cash");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, kTimeout) << refused.error().message;
  EXPECT_EQ(holds(buyer_, "USDC"), D("20012")) << "the first attempt ran";
  server_->setObserver(record);
}

TEST_F(CantonLedger, ASlowLedgerTimesOutAndTheSameCommandIdRecoversTheOutcome) {
  fund();
  std::string dvp = readyDvp();
  // The ledger answers after 600 ms, the adapter waits 150 ms: outcome unknown, resent with the
  // same command id (which waits for the first), DUPLICATE_COMMAND, the first outcome.
  auto o = options();
  o.http.timeout = std::chrono::milliseconds(150);
  o.submit_attempts = 20;
  o.retry_backoff = std::chrono::milliseconds(20);
  CantonJsonLedger impatient(o);
  sandbox_->engine().setLatency("settlement", std::chrono::milliseconds(600));
  Submission s{"t1:settle:0", Settle{dvp}};
  auto r = impatient.submit(std::span<const Submission>(&s, 1));
  sandbox_->engine().setLatency("settlement", std::chrono::milliseconds(0));
  ASSERT_TRUE(r.front()) << r.front().error().message;
  EXPECT_TRUE(r.front()->deduplicated);
  EXPECT_EQ(r.front()->update_id, sandbox_->engine().completion("t1:settle:0").value()->update_id);
  EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));
}

// Every submission carries its step's floor as its deduplication period's start
// (DeduplicationOffset): a resend after the participant pruned past the floor is refused, since
// its earlier run may no longer be found, and not run a second time. The adapter answers it as
// the engine does: ledger_pruned.
TEST_F(CantonLedger, AResendWhoseDeduplicationPeriodWasPrunedIsRefusedNotRun) {
  fund();
  const int64_t floor = sandbox_->engine().ledgerEnd();
  Submission first{"t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"), floor};
  auto created = std::move(ledger_->submit(std::span<const Submission>(&first, 1)).front());
  ASSERT_TRUE(created) << created.error().message;
  // Resent with its floor before any pruning: deduplicated, the first outcome.
  auto again = std::move(ledger_->submit(std::span<const Submission>(&first, 1)).front());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->contract_id, created->contract_id);
  // The participant pruned past the floor.
  ASSERT_TRUE(sandbox_->engine().prune(sandbox_->engine().ledgerEnd()));
  auto refused = std::move(ledger_->submit(std::span<const Submission>(&first, 1)).front());
  ASSERT_FALSE(refused) << "a resend whose deduplication was pruned was answered";
  EXPECT_EQ(refused.error().code, kLedgerPruned) << refused.error().message;
  EXPECT_FALSE(refused.error().retryable);
  EXPECT_NE(refused.error().message.find(daml::kInvalidDeduplicationPeriod), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(sandbox_->engine().activeDvps().size(), 1u) << "nothing ran twice";
  // A credit is a fresh id, deduplicated from the ledger end it reads first: a fresh adapter
  // (which has seen no offset yet) credits a pruned participant.
  CantonJsonLedger fresh(options());
  auto credited = fresh.credit(buyer_, "USDC", D("1"), "cash");
  ASSERT_TRUE(credited) << credited.error().message;
  // A new command with a floor at the ledger end runs.
  Submission next{"t2:initiate:0", dvpCommand(buyer_, seller_, "1", "150"),
                  sandbox_->engine().ledgerEnd()};
  auto ran = std::move(ledger_->submit(std::span<const Submission>(&next, 1)).front());
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_FALSE(ran->deduplicated);
}

// The sandbox reads the period as Canton does: an offset (a number or a string of digits, >= 0),
// exclusive; a duration or none deduplicates against every completion it keeps; anything else
// is a named INVALID_ARGUMENT, and a start below the pruned offset INVALID_DEDUPLICATION_PERIOD
// with the earliest start it accepts.
TEST_F(CantonLedger, TheSandboxReadsTheDeduplicationPeriodAsCantonDoes) {
  fund();
  auto body = [&](const daml::Json& period) {  // a round's fence, signed by the cash provider
    daml::Json cmds{
        {"commands",
         daml::Json::array({{{"CreateCommand",
                              {{"templateId", daml::templateRef(daml::Template::kRoundFence)},
                               {"createArguments",
                                daml::encode(daml::FenceArgs{"cash-provider::67890", "f:1"})}}}}})},
        {"commandId", "f:1"},
        {"actAs", daml::Json::array({"cash-provider::67890"})},
        {"userId", "settlement-coordinator"}};
    if (!period.is_null()) cmds["deduplicationPeriod"] = period;
    return daml::Json{{"commands", cmds}};
  };
  auto code = [](const HttpReply& r) { return daml::Json::parse(r.body).value("code", ""); };
  // Requests the OpenAPI does not allow, on purpose: not recorded for the contract test.
  auto offSchema = [&](const daml::Json& b) {
    HttpRequest req{"POST", "/v2/commands/submit-and-wait-for-transaction",
                    "Bearer " + sandbox_->makeToken("settlement-coordinator", 60), b.dump()};
    return sandbox_->handle(req);
  };
  for (const auto& bad : {daml::Json{{"DeduplicationOffset", {{"value", -1}}}},
                          daml::Json{{"DeduplicationOffset", {{"value", "12x"}}}},
                          daml::Json{{"DeduplicationOffset", daml::Json::object()}},
                          daml::Json{{"Later", 1}}, daml::Json::array()}) {
    auto r = offSchema(body(bad));
    EXPECT_EQ(r.status, 400) << bad.dump() << ": " << r.body;
    EXPECT_EQ(code(r), daml::kInvalidArgument) << r.body;
    EXPECT_NE(r.body.find("deduplicationPeriod"), std::string::npos) << r.body;
  }
  const int64_t end = sandbox_->engine().ledgerEnd();
  // The offset as a string of digits, as a lenient JSON reader takes it.
  auto fenced =
      offSchema(body(daml::Json{{"DeduplicationOffset", {{"value", std::to_string(end)}}}}));
  ASSERT_EQ(fenced.status, 200) << fenced.body;
  // Resent with a period that starts before its completion: a duplicate, whatever the form.
  for (const auto& period :
       {daml::Json{{"DeduplicationOffset", {{"value", end}}}},
        daml::Json{{"DeduplicationDuration", {{"value", {{"seconds", 30}, {"nanos", 0}}}}}},
        daml::Json()}) {
    auto r = raw("POST", "/v2/commands/submit-and-wait-for-transaction", body(period));
    EXPECT_EQ(r.status, 409) << period.dump() << ": " << r.body;
    EXPECT_EQ(code(r), daml::kDuplicateCommand) << r.body;
  }
  ASSERT_TRUE(sandbox_->engine().prune(sandbox_->engine().ledgerEnd()));
  const int64_t pruned = sandbox_->engine().prunedBefore();
  ASSERT_GT(pruned, end - 1);
  // Below the pruned offset (here: the offset before the fence's period start, and 0, the
  // participant's beginning): refused, before the duplicate is even looked for.
  for (int64_t start : {end - 1, int64_t{0}}) {
    auto below = raw("POST", "/v2/commands/submit-and-wait-for-transaction",
                     body(daml::Json{{"DeduplicationOffset", {{"value", start}}}}));
    EXPECT_EQ(code(below), daml::kInvalidDeduplicationPeriod) << start << ": " << below.body;
  }
  // A duration is no offset: nothing to refuse, the duplicate is still found.
  auto by_duration = raw(
      "POST", "/v2/commands/submit-and-wait-for-transaction",
      body(daml::Json{{"DeduplicationDuration", {{"value", {{"seconds", 30}, {"nanos", 0}}}}}}));
  EXPECT_EQ(code(by_duration), daml::kDuplicateCommand) << by_duration.body;
  auto refused = raw("POST", "/v2/commands/submit-and-wait-for-transaction",
                     body(daml::Json{{"DeduplicationOffset", {{"value", end - 1}}}}));
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(code(refused), daml::kInvalidDeduplicationPeriod) << refused.body;
  auto e = daml::parseCantonError(daml::Json::parse(refused.body));
  ASSERT_TRUE(e) << refused.body;
  EXPECT_EQ(e->context["earliest_offset"], std::to_string(pruned)) << refused.body;
  EXPECT_EQ(e->category(), daml::Category::kInvalidGivenCurrentSystemStateOther);
}

// POST /sandbox/prune, as a participant's operator prunes: what is at or below the offset is gone
// and reads that begin below it are refused, a resend that could only be deduplicated against it
// is refused rather than run, what is above it is served and deduplicated as before, and all of
// it holds after a restart, from files that no longer hold what was pruned.
TEST_F(CantonLedger, ASandboxPrunedLikeAParticipantServesOnlyWhatItKept) {
  fund();
  const std::string dvp = readyDvp();
  const auto initiated = ledger_->completionAfter("t1:initiate:0", 0).value().value();
  must("t1:settle:0", Settle{dvp});
  // A live settlement after it: its floor is the ledger end before its first command. The
  // coordinator's watermark is that floor, and what it publishes for the operator one less
  // (prune_up_to): the adapter reads completions from one offset before a floor.
  const int64_t floor = sandbox_->engine().ledgerEnd();
  const int64_t upto = floor - 1;
  Submission live{"t2:initiate:0", dvpCommand(buyer_, seller_, "1", "150"), floor};
  auto t2 = std::move(ledger_->submit(std::span<const Submission>(&live, 1)).front());
  ASSERT_TRUE(t2) << t2.error().message;
  const auto file = std::filesystem::path(dir_.path()) / "sandbox.jsonl";
  const auto size_before = std::filesystem::file_size(file);
  ASSERT_EQ(ledger_->prunedUpTo().value(), 0);

  auto code = [](const HttpReply& r) { return daml::Json::parse(r.body).value("code", ""); };
  auto pruned = raw("POST", "/sandbox/prune", daml::Json{{"pruneUpTo", upto}});
  ASSERT_EQ(pruned.status, 200) << pruned.body;
  EXPECT_GT(daml::Json::parse(pruned.body).value("completions", 0), 0) << pruned.body;
  for (const auto& bad :
       {daml::Json{{"pruneUpTo", 0}}, daml::Json{{"pruneUpTo", "7"}}, daml::Json::object()}) {
    auto r = raw("POST", "/sandbox/prune", bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << ": " << r.body;
    EXPECT_NE(r.body.find("pruneUpTo"), std::string::npos) << r.body;
  }
  auto past_end =
      raw("POST", "/sandbox/prune", daml::Json{{"pruneUpTo", sandbox_->engine().ledgerEnd() + 1}});
  EXPECT_EQ(code(past_end), daml::kOffsetAfterLedgerEnd) << past_end.body;

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    EXPECT_EQ(ledger_->prunedUpTo().value(), upto);
    // Reads from below the pruning: refused, as the reconciler and the lookups expect.
    auto movements = ledger_->movementsSince(0, 100);
    ASSERT_FALSE(movements);
    EXPECT_EQ(movements.error().code, kLedgerPruned) << movements.error().message;
    auto below = raw("POST", "/v2/commands/completions",
                     daml::Json{{"userId", "settlement-coordinator"},
                                {"parties", daml::Json::array({"cash-provider::67890"})},
                                {"beginExclusive", upto - 1}});
    EXPECT_EQ(code(below), daml::kParticipantPrunedDataAccessed) << below.body;
    EXPECT_NE(below.body.find("earliest_offset"), std::string::npos) << below.body;
    // From the pruning on: served.
    auto found = ledger_->completionAfter("t2:initiate:0", floor);
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->contract_id, t2->contract_id);
    ASSERT_TRUE(ledger_->movementsSince(upto, 100)) << "a read from the pruned offset";
    // The DvP's creation is gone; the contracts still active are not.
    const daml::Json format{{"filtersByParty", {{buyer_, daml::Json::object()}}},
                            {"verbose", false}};
    auto update = raw(
        "POST", "/v2/updates/update-by-id",
        daml::Json{
            {"updateId", initiated.update_id},
            {"updateFormat",
             {{"includeTransactions",
               {{"eventFormat", format}, {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}}}}});
    EXPECT_EQ(code(update), "UPDATE_NOT_FOUND") << update.body;
    auto holdings = ledger_->holdings(buyer_);
    ASSERT_TRUE(holdings);
    ASSERT_FALSE(holdings->empty());
    for (const auto& h : *holdings) {
      auto ev = raw("POST", "/v2/events/events-by-contract-id",
                    daml::Json{{"contractId", h.contract_id}, {"eventFormat", format}});
      EXPECT_EQ(ev.status, 200) << "an active contract keeps its events: " << ev.body;
    }
    EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));
    // The DvP's creation resent, with its floor (below the pruning) or without a period:
    // refused, not run (it would create a second DvP); the live settlement's command, with its
    // floor, deduplicated as before.
    for (int64_t resend_floor : {int64_t{1}, int64_t{0}}) {
      Submission again{"t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"), resend_floor};
      auto r = std::move(ledger_->submit(std::span<const Submission>(&again, 1)).front());
      ASSERT_FALSE(r) << "floor " << resend_floor << ": a pruned command was answered";
      EXPECT_EQ(r.error().code, kLedgerPruned) << r.error().message;
      EXPECT_NE(r.error().message.find(daml::kInvalidDeduplicationPeriod), std::string::npos)
          << r.error().message;
    }
    EXPECT_EQ(sandbox_->engine().activeDvps().size(), 1u) << "nothing ran twice (t2's DvP only)";
    EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));
    auto dup = std::move(ledger_->submit(std::span<const Submission>(&live, 1)).front());
    ASSERT_TRUE(dup) << dup.error().message;
    EXPECT_TRUE(dup->deduplicated);
    EXPECT_EQ(dup->contract_id, t2->contract_id);
  };
  check("after pruning");
  EXPECT_LT(std::filesystem::file_size(file), size_before) << "sandbox.jsonl was compacted";
  {
    // A user is rewritten whole at every grant: the compacted file keeps only its latest record
    // (the restart below shows it has every right: the credit acts as the parties).
    std::ifstream in(file);
    std::map<std::string, int> records;
    for (std::string line; std::getline(in, line);) {
      auto rec = daml::Json::parse(line, nullptr, false);
      if (rec.is_object() && rec.value("t", "") == "user") ++records[rec["user"].value("id", "")];
    }
    ASSERT_FALSE(records.empty());
    for (const auto& [id, n] : records) EXPECT_EQ(n, 1) << "records of user " << id;
  }
  // Pruning again at or below the pruned offset changes nothing.
  auto again = raw("POST", "/sandbox/prune", daml::Json{{"pruneUpTo", upto - 1}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(daml::Json::parse(again.body)["prunedUpTo"], upto) << again.body;
  stop();
  start();
  check("after a restart");
  // A credit: the adapter's deduplicates from the ledger end it reads, and runs; one without a
  // period, whose earlier run the sandbox could no longer find, is refused.
  ASSERT_TRUE(ledger_->credit(buyer_, "USDC", D("1"), "cash"));
  daml::HoldingArgs cash;
  cash.kind = daml::Template::kCashHolding;
  cash.issuer = "cash-provider::67890";
  cash.owner = buyer_;
  cash.asset = "USDC";
  cash.amount = D("1");
  auto periodless = raw(
      "POST", "/v2/commands/submit-and-wait-for-transaction",
      daml::Json{{"commands",
                  {{"commands", daml::Json::array({{{"CreateCommand",
                                                     {{"templateId", daml::templateRef(cash.kind)},
                                                      {"createArguments", daml::encode(cash)}}}}})},
                   {"commandId", "credit-without-period"},
                   {"actAs", daml::Json::array({"cash-provider::67890", buyer_})},
                   {"userId", "settlement-coordinator"}}}});
  EXPECT_EQ(code(periodless), daml::kInvalidDeduplicationPeriod) << periodless.body;
  EXPECT_EQ(holds(buyer_, "USDC"), D("5001"));
  // The live settlement goes on.
  Submission lock{"t2:lock_cash:0", LockCash{t2->contract_id, D("150")}, floor};
  auto locked = std::move(ledger_->submit(std::span<const Submission>(&lock, 1)).front());
  ASSERT_TRUE(locked) << locked.error().message;
}

// A record torn by a crash mid-write is cut when the sandbox opens, so the records written after
// it are not glued to it (the file would be corrupt before its last line at the next start).
TEST_F(CantonLedger, ATornLastRecordIsCutSoTheNextOneIsReadable) {
  fund();
  stop();
  std::ofstream(std::filesystem::path(dir_.path()) / "sandbox.jsonl", std::ios::app)
      << R"({"t":"user","user":{"id":"torn)";
  start();
  ASSERT_TRUE(ledger_->allocateParty("after-the-tear"));
  stop();
  start();
  auto parties = ledger_->holdings(seller_);
  ASSERT_TRUE(parties) << parties.error().message;
  EXPECT_EQ(holds(seller_, "AAPL"), D("100"));
}

TEST_F(CantonLedger, CompletionFindsAnEarlierCommandAndNothingForAnUnknownOne) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  // A fresh adapter (another instance, or after a restart) knows nothing in memory.
  CantonJsonLedger other(options());
  auto done = other.completion("t1:initiate:0").value();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->contract_id, dvp.contract_id);
  EXPECT_EQ(done->update_id, dvp.update_id);
  EXPECT_FALSE(other.completion("t1:settle:0").value());
  // Every step of a trade, the reassignment included, is found again by its command id.
  must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("100")});
  must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  auto moved = must("t1:reassign:0", ReassignLocks{dvp.contract_id});
  auto settled = must("t1:settle:0", Settle{dvp.contract_id});
  CantonJsonLedger third(options());
  for (const char* id : {"t1:initiate:0", "t1:lock_securities:0", "t1:lock_cash:0", "t1:reassign:0",
                         "t1:settle:0"}) {
    auto c = third.completion(id);
    ASSERT_TRUE(c) << id << ": " << c.error().message;
    ASSERT_TRUE(*c) << id;
  }
  EXPECT_EQ(third.completion("t1:reassign:0").value()->update_id, moved.update_id);
  EXPECT_EQ(third.completion("t1:reassign:0").value()->synchronizer, "settlement");
  EXPECT_EQ(third.completion("t1:settle:0").value()->buyer_securities_contract_id,
            settled.buyer_securities_contract_id);
}

// A restarted instance recovering its leases asks about recent commands: it must read the
// completions after the settlement's floor (read before its first lease), not the ledger's whole
// history each time (which, restarted every few seconds under load, starved the participant).
TEST_F(CantonLedger, AFreshAdapterReadsOnlyTheCompletionsAfterTheCommandsFloor) {
  fund();
  for (int i = 0; i < 30; ++i)
    must("old" + std::to_string(i) + ":initiate:0", dvpCommand(buyer_, seller_, "1", "150"));
  const int64_t floor = ledger_->knownLedgerEnd().value();
  auto dvp = must("t9:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  std::atomic<size_t> served{0};
  server_->setObserver([&](const HttpRequest& req, const HttpReply& rep) {
    record(req, rep);
    if (req.target.rfind("/v2/commands/completions", 0) == 0 && rep.status == 200)
      served += daml::Json::parse(rep.body).size();
  });

  CantonJsonLedger fresh(options());
  auto done = fresh.completionAfter("t9:initiate:0", floor).value();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->contract_id, dvp.contract_id);
  // t9's, and the one before it (a read starts one offset back: see completedUpdateId).
  EXPECT_LE(served.load(), 2u);

  // A resend under the id (DUPLICATE_COMMAND) by another fresh instance reads from the floor too.
  served = 0;
  CantonJsonLedger other(options());
  Submission again{"t9:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"), floor};
  auto r = other.submit(std::span<const Submission>(&again, 1));
  ASSERT_TRUE(r.front()) << r.front().error().message;
  EXPECT_TRUE(r.front()->deduplicated);
  EXPECT_EQ(r.front()->contract_id, dvp.contract_id);
  EXPECT_LE(served.load(), 2u);

  // Without a floor too: DUPLICATE_COMMAND names the first completion's offset.
  served = 0;
  CantonJsonLedger unfloored(options());
  Submission bare{"t9:initiate:0", dvpCommand(buyer_, seller_, "100", "15000")};
  auto b = unfloored.submit(std::span<const Submission>(&bare, 1));
  ASSERT_TRUE(b.front()) << b.front().error().message;
  EXPECT_EQ(b.front()->contract_id, dvp.contract_id);
  EXPECT_LE(served.load(), 2u);

  // A lookup without a floor reads the whole history: the two credits, the 30 creates and t9's.
  served = 0;
  CantonJsonLedger third(options());
  ASSERT_TRUE(third.completion("t9:initiate:0").value());
  EXPECT_EQ(served.load(), 33u);
  server_->setObserver(record);
}

// The reconciler reads the ledger's movements from where its last pass stopped. A backlog whose
// updates answer more than the client takes (64 MiB by default) used to fail every pass with
// "body limit exceeded", read again from the same offset each time: the reconciler never caught
// up, and each attempt made the participant render the whole answer again. Now it is read in
// pages that fit, and the settles' DvPs come from the stream, not one request each.
TEST_F(CantonLedger, AMovementBacklogLargerThanOneAnswerIsReadInPagesThatFit) {
  fund();
  constexpr int kTrades = 12;
  for (int i = 0; i < kTrades; ++i) {
    const std::string t = "b" + std::to_string(i);
    auto dvp = must(t + ":initiate:0", dvpCommand(buyer_, seller_, "1", "150"));
    must(t + ":lock_securities:0", LockSecurities{dvp.contract_id, D("1")});
    must(t + ":lock_cash:0", LockCash{dvp.contract_id, D("150")});
    must(t + ":reassign:0", ReassignLocks{dvp.contract_id});
    must(t + ":settle:0", Settle{dvp.contract_id});
  }
  // The size of the whole backlog in one answer, as a participant renders it.
  daml::Json filters{{"securities-issuer::12345", daml::Json::object()},
                     {"cash-provider::67890", daml::Json::object()}};
  daml::Json req{{"beginExclusive", 0},
                 {"updateFormat",
                  {{"includeTransactions",
                    {{"eventFormat", {{"filtersByParty", filters}, {"verbose", true}}},
                     {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}}}}};
  auto whole = raw("POST", "/v2/updates", req);
  ASSERT_EQ(whole.status, 200) << whole.body;

  std::atomic<int> update_reads{0}, dvp_reads{0};
  server_->setObserver([&](const HttpRequest& r, const HttpReply& rep) {
    record(r, rep);
    if (r.target.rfind("/v2/updates?", 0) == 0) ++update_reads;
    if (r.target == "/v2/events/events-by-contract-id") ++dvp_reads;
  });
  CantonOptions o = options();
  o.http.max_response_bytes = whole.body.size() / 3;  // no answer of the backlog fits whole
  CantonJsonLedger fresh(o);
  auto page = fresh.movementsSince(0, 5000);
  ASSERT_TRUE(page) << page.error().code << ": " << page.error().message;
  EXPECT_TRUE(page->at_end);
  EXPECT_EQ(page->end_offset, ledger_->knownLedgerEnd().value());
  int settles = 0, credits = 0;
  std::set<std::string> commands;
  for (const auto& m : page->movements) {
    if (m.kind == MovementView::Kind::kSettle) {
      ++settles;
      EXPECT_EQ(m.quantity, D("1"));
      EXPECT_EQ(m.amount, D("150"));
      EXPECT_EQ(m.buyer, buyer_);
      commands.insert(m.command_id);
    }
    if (m.kind == MovementView::Kind::kCredit) ++credits;
  }
  EXPECT_EQ(settles, kTrades);
  EXPECT_EQ(commands.size(), static_cast<size_t>(kTrades));  // each settle once
  EXPECT_EQ(credits, 2);
  EXPECT_GE(update_reads.load(), 3);  // at least three pages
  EXPECT_EQ(dvp_reads.load(), 0);     // every DvP was created in the stream read

  // The next read starts where this one ended, with the smaller page: one request, nothing new.
  update_reads = 0;
  auto next = fresh.movementsSince(page->end_offset, 5000);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_TRUE(next->movements.empty());
  EXPECT_TRUE(next->at_end);
  server_->setObserver(record);
}

TEST_F(CantonLedger, PartialLockTakesWhatThereIsAndSettlesTheRemainderAsANewDvp) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "200", "30000"));
  auto r = submit("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("200")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInsufficientSecurities);
  auto part = must("t1:lock_securities:1", LockSecurities{dvp.contract_id, D("200"), true});
  EXPECT_EQ(part.quantity, D("100"));
  must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  must("t1:reassign:0", ReassignLocks{dvp.contract_id});
  auto s = must("t1:settle:0", Settle{dvp.contract_id});
  EXPECT_EQ(s.quantity, D("100"));
  EXPECT_EQ(s.amount, D("15000"));
  ASSERT_FALSE(s.remainder_dvp_contract_id.empty());
  auto rest = ledger_->dvp(s.remainder_dvp_contract_id).value();
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->quantity, D("100"));
  EXPECT_EQ(rest->amount, D("15000"));
}

TEST_F(CantonLedger, InsufficientCashIsPermanentAndChangesNothing) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "25000"));
  auto r = submit("t1:lock_cash:0", LockCash{dvp.contract_id, D("25000")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInsufficientCash);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(holds(buyer_, "USDC"), D("20000"));
}

TEST_F(CantonLedger, ReleaseGivesTheLocksBackAndFencesTheDvp) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("60")});
  must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  auto rel = must("t1:release:0", ReleaseLocks{dvp.contract_id, true});
  EXPECT_EQ(rel.quantity, D("60"));
  EXPECT_EQ(rel.amount, D("15000"));
  EXPECT_EQ(holds(seller_, "AAPL"), D("100"));
  EXPECT_EQ(holds(buyer_, "USDC"), D("20000"));
  EXPECT_FALSE(ledger_->dvp(dvp.contract_id).value()->active);
  auto late = submit("t1:lock_cash:1", LockCash{dvp.contract_id, D("1")});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, kContractNotActive);
  // Releasing again is a no-op; archiving the archived DvP too.
  must("t1:release:1", ReleaseLocks{dvp.contract_id, true});
  must("t1:archive:0", ArchiveDvp{dvp.contract_id});
}

// The release's command id names its DvP (workflow: "<sid>:release:<round>:<dvp>"): accepted as
// is, deduplicated as any other.
TEST_F(CantonLedger, AReleaseUnderACommandIdNamingItsDvpIsDeduplicated) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  const std::string id = "t1:release:0:" + dvp.contract_id;
  auto rel = must(id, ReleaseLocks{dvp.contract_id, true});
  EXPECT_FALSE(rel.deduplicated);
  EXPECT_EQ(rel.amount, D("15000"));
  auto again = must(id, ReleaseLocks{dvp.contract_id, true});
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.update_id, rel.update_id);
  EXPECT_EQ(holds(buyer_, "USDC"), D("20000"));
}

// A fence takes the round's create command id: the create can never run afterwards (permanent
// command_fenced), and fencing again answers fenced. The fence is a RoundFence contract of the
// cash provider, as a participant would show it.
TEST_F(CantonLedger, AFenceTakesTheCreateCommandIdForGood) {
  fund();
  auto f = must("t1:initiate:0", FenceCommand{buyer_, seller_});
  EXPECT_TRUE(f.fenced);
  EXPECT_FALSE(f.deduplicated);
  EXPECT_TRUE(f.contract_id.empty());
  auto late = submit("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, kCommandFenced);
  EXPECT_FALSE(late.error().retryable);
  EXPECT_TRUE(sandbox_->engine().activeDvps().empty());
  auto again = must("t1:initiate:0", FenceCommand{buyer_, seller_});
  EXPECT_TRUE(again.fenced);
  EXPECT_TRUE(again.deduplicated);
  // Nothing succeeded under the id.
  EXPECT_FALSE(ledger_->completion("t1:initiate:0").value().has_value());
  auto acs = raw("POST", "/v2/state/active-contracts",
                 {{"activeAtOffset", sandbox_->engine().ledgerEnd()},
                  {"eventFormat",
                   {{"filtersByParty", {{"cash-provider::67890", daml::Json::object()}}},
                    {"verbose", true}}}});
  ASSERT_EQ(acs.status, 200) << acs.body;
  int fences = 0;
  for (const auto& item : daml::Json::parse(acs.body)) {
    const auto& entry = item["contractEntry"];
    if (!entry.contains("JsActiveContract")) continue;
    const auto& ev = entry["JsActiveContract"]["createdEvent"];
    if (daml::parseTemplateId(ev.value("templateId", "")).value() != daml::Template::kRoundFence)
      continue;
    ++fences;
    EXPECT_EQ(ev["createArgument"]["round_command_id"], "t1:initiate:0");
    EXPECT_EQ(ev["signatories"], daml::Json::array({"cash-provider::67890"}));
  }
  EXPECT_EQ(fences, 1);
}

// A fence under the id of a create that already ran answers the create's outcome, deduplicated:
// the DvP exists, and the workflow releases and archives it.
TEST_F(CantonLedger, AFenceAfterTheCreateReturnsTheDvpDeduplicated) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  auto f = must("t1:initiate:0", FenceCommand{buyer_, seller_});
  EXPECT_FALSE(f.fenced);
  EXPECT_TRUE(f.deduplicated);
  EXPECT_EQ(f.contract_id, dvp.contract_id);
  EXPECT_EQ(f.update_id, dvp.update_id);
  EXPECT_EQ(f.quantity, D("100"));
  EXPECT_EQ(f.amount, D("15000"));
  auto same = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  EXPECT_EQ(same.contract_id, dvp.contract_id);
}

// The fence needs the cash provider's authority, as RoundFence's signatory.
TEST_F(CantonLedger, TheSandboxRefusesAFenceWithoutTheCashProvider) {
  fund();
  daml::Json body{
      {"commands",
       {{"commands",
         daml::Json::array({{{"CreateCommand",
                              {{"templateId", daml::templateRef(daml::Template::kRoundFence)},
                               {"createArguments",
                                daml::encode(daml::FenceArgs{"cash-provider::67890", "x:1"})}}}}})},
        {"commandId", "x:1"},
        {"actAs", daml::Json::array({buyer_})},
        {"userId", "settlement-coordinator"}}}};
  auto rep = raw("POST", "/v2/commands/submit-and-wait-for-transaction", body);
  EXPECT_EQ(rep.status, 400) << rep.body;
  EXPECT_EQ(daml::Json::parse(rep.body)["code"], daml::kDamlAuthorizationError);
  auto f = must("x:1", FenceCommand{buyer_, seller_});  // the id is still free
  EXPECT_FALSE(f.deduplicated);
}

// The engine's command_fenced is Canton's DUPLICATE_COMMAND (the id is taken), never a failure
// of the command itself.
TEST_F(CantonLedger, TheSandboxRendersAFencedCommandIdAsADuplicate) {
  fund();
  ASSERT_TRUE(sandbox_->engine().submitOne("y:1", FenceCommand{}));
  daml::DvpArgs a{
      buyer_,   seller_, "securities-issuer::12345", "cash-provider::67890", "AAPL", "USDC", D("1"),
      D("150"), Date{}};
  auto signatories = daml::signatories(a);
  daml::Json body{
      {"commands",
       {{"commands", daml::Json::array(
                         {{{"CreateCommand",
                            {{"templateId", daml::templateRef(daml::Template::kDeliveryVsPayment)},
                             {"createArguments", daml::encode(a)}}}}})},
        {"commandId", "y:1"},
        {"actAs", signatories},
        {"userId", "settlement-coordinator"}}}};
  auto rep = raw("POST", "/v2/commands/submit-and-wait-for-transaction", body);
  EXPECT_EQ(rep.status, 409) << rep.body;
  EXPECT_EQ(daml::Json::parse(rep.body)["code"], daml::kDuplicateCommand);
  EXPECT_TRUE(sandbox_->engine().activeDvps().empty());
}

TEST_F(CantonLedger, ArchiveDvpArchivesAnUnlockedDvp) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:archive:0", ArchiveDvp{dvp.contract_id});
  EXPECT_FALSE(ledger_->dvp(dvp.contract_id).value()->active);
  EXPECT_FALSE(ledger_->dvp("00unknown").value());
}

TEST_F(CantonLedger, PartiesAreAllocatedOnceAndCheckedByTheParticipant) {
  auto a = ledger_->allocateParty("alice").value();
  EXPECT_EQ(a.rfind("alice::", 0), 0u);
  EXPECT_EQ(ledger_->allocateParty("alice").value(), a);
  EXPECT_TRUE(ledger_->partyExists(a).value());
  EXPECT_FALSE(ledger_->partyExists("nobody::1220ab").value());
  EXPECT_TRUE(ledger_->partyExists("securities-issuer::12345").value());
  auto syncs = ledger_->synchronizers();
  EXPECT_EQ(syncs, (std::vector<std::string>{"securities", "cash", "settlement"}));
}

TEST_F(CantonLedger, AWrongTokenFailsPingWithAClearErrorAndARefreshedOneWorks) {
  EXPECT_TRUE(ledger_->ping());
  sandbox::TokenClaims c{"settlement-coordinator", sandbox_->audience(), 0};
  writeToken(sandbox::signHs256("another-secret", c));
  auto p = ledger_->ping();
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().retryable);
  EXPECT_NE(p.error().message.find("UNAUTHENTICATED"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("signature"), std::string::npos) << p.error().message;
  // An expired token, then a good one: the file is re-read when it changes.
  c.expires_at = 1000;
  writeToken(sandbox::signHs256(kSecret, c));
  auto expired = ledger_->ping();
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos) << expired.error().message;
  writeToken(sandbox_->makeToken("settlement-coordinator", 3600) + " ");
  EXPECT_TRUE(ledger_->ping());
}

TEST_F(CantonLedger, AnOAuth2ClientGetsItsTokenAndRefreshesItBeforeItExpires) {
  stop();
  Sandbox::Options so;
  so.data_dir = dir_.path();
  so.hs256_secret = kSecret;
  so.durable = false;
  so.oauth_client_id = "coordinator";
  so.oauth_client_secret = "s3cret";
  so.oauth_token_ttl_seconds = 1;  // refreshed at 80 %: every call after 0.8 s
  sandbox_ = std::move(Sandbox::open(so)).value();
  server_ = std::make_unique<SandboxServer>(*sandbox_, "127.0.0.1", 0);
  server_->setObserver(record);
  server_->start();
  std::ofstream(dir_.path() + "/client-secret") << "s3cret\n";
  auto o = options();
  o.token_file.clear();
  o.oauth.token_url =
      "http://127.0.0.1:" + std::to_string(server_->port()) + "/sandbox/oauth/token";
  o.oauth.client_id = "coordinator";
  o.oauth.client_secret_file = dir_.path() + "/client-secret";
  CantonJsonLedger oauth(o);
  ASSERT_TRUE(oauth.ping());
  ASSERT_TRUE(oauth.ping());
  EXPECT_EQ(sandbox_->oauthTokensIssued(), 1);                  // cached while valid
  std::this_thread::sleep_for(std::chrono::milliseconds(900));  // past 80 % of its lifetime
  ASSERT_TRUE(oauth.ping());
  EXPECT_EQ(sandbox_->oauthTokensIssued(), 2);
  std::ofstream(dir_.path() + "/client-secret", std::ios::trunc) << "wrong\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  auto bad = oauth.ping();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("invalid_client"), std::string::npos) << bad.error().message;
}

TEST_F(CantonLedger, ServerErrorsAndASandboxThatIsDownAreRetryable) {
  fund();
  sandbox_->failNextRequests(100, 503);
  auto r = submit("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().retryable);
  sandbox_->failNextRequests(0, 503);
  must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  const uint16_t port = server_->port();
  server_->stop();
  auto down = ledger_->ping();
  ASSERT_FALSE(down);
  EXPECT_TRUE(down.error().retryable);
  EXPECT_EQ(down.error().code, kUnavailable) << port;
}

TEST_F(CantonLedger, TheSandboxIsDurableAcrossARestart) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  stop();
  start();
  EXPECT_EQ(holds(seller_, "AAPL"), D("100"));
  auto again = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.contract_id, dvp.contract_id);
  EXPECT_TRUE(ledger_->dvp(dvp.contract_id).value()->active);
}

// The participant killed after its engine wrote a command's transaction and before the sandbox
// recorded its update and completion (the engine is written through directly, as the request did
// before the kill). Nobody was answered; before the fix, the command id was deduplicated for ever
// while no completion of it was ever in the stream ("deduplicated but its completion is not
// visible yet" until the settlement's deadline). After a restart the command runs afresh, once.
TEST_F(CantonLedger,
       AKillBetweenTheEnginesJournalAndTheSandboxsRecordLosesOnlyTheUnansweredCommand) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  stop();
  {
    Sandbox::Options defaults;
    EmbeddedLedger::Options eo;
    eo.data_dir = dir_.path() + "/engine";
    eo.synchronizers = defaults.synchronizers;
    eo.securities_issuer_party = defaults.securities_issuer_party;
    eo.cash_provider_party = defaults.cash_provider_party;
    auto engine = EmbeddedLedger::open(eo);
    ASSERT_TRUE(engine) << engine.error().message;
    Submission lock{"t1:lock_securities:0", LockSecurities{dvp.contract_id, D("40")}};
    auto r = (*engine)->submit(std::span<const Submission>(&lock, 1));
    ASSERT_TRUE(r.front()) << r.front().error().message;
  }
  start();
  // 40 of the 100: without the fix the resubmission is deduplicated by the engine and its
  // completion never found (with all 100 it would fail on the free holdings instead).
  auto lock = submit("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("40")});
  ASSERT_TRUE(lock) << lock.error().message;
  EXPECT_FALSE(lock->deduplicated);
  EXPECT_EQ(holds(seller_, "AAPL", /*locked=*/true), D("40"));
  EXPECT_EQ(holds(seller_, "AAPL"), D("60"));
  auto again = submit("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("40")});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->update_id, lock->update_id);
  EXPECT_EQ(holds(seller_, "AAPL", /*locked=*/true), D("40"));
}

// A reassignment whose target synchronizer is down commits the unassign, then is answered with an
// error: the sandbox records nothing, but the unassign is durable and was readable (the ledger
// end, the lock in flight). A restart must keep it: only a complete, unanswered request is cut.
TEST_F(CantonLedger, AReassignmentAnsweredWithAnErrorKeepsWhatItCommittedAcrossARestart) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("40")});
  must("t1:lock_cash:0", LockCash{dvp.contract_id, D("6000")});
  auto syncs = daml::Json::parse(raw("GET", "/v2/state/connected-synchronizers", nullptr).body);
  std::string settlement;
  for (const auto& s : syncs["connectedSynchronizers"])
    if (s.value("synchronizerAlias", "") == "settlement")
      settlement = s.value("synchronizerId", "");
  ASSERT_FALSE(settlement.empty());
  auto down = raw("POST", "/sandbox/faults",
                  daml::Json{{"outage", {{"synchronizer", settlement}, {"down", true}}}},
                  "participant_admin");
  ASSERT_EQ(down.status, 200) << down.body;
  auto moved = submit("t1:reassign:0", ReassignLocks{dvp.contract_id});
  ASSERT_FALSE(moved);
  EXPECT_TRUE(moved.error().retryable) << moved.error().message;
  auto ledgerEnd = [&] {
    return daml::Json::parse(raw("GET", "/v2/state/ledger-end", nullptr).body).value("offset", 0);
  };
  const int64_t end = ledgerEnd();
  stop();
  start();
  EXPECT_EQ(ledgerEnd(), end);
}

// What the sandbox's file does not know is cut only when it is the last request's, as a kill
// leaves: with sandbox.jsonl gone, the engine's answered history is not cut but the open refused.
TEST_F(CantonLedger, ASandboxWhoseRecordsAreGoneRefusesToOpenAndCutsNothing) {
  fund();
  auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("40")});
  stop();
  const std::string journal = dir_.path() + "/engine/journal.log";
  const auto size = std::filesystem::file_size(journal);
  std::filesystem::remove(dir_.path() + "/sandbox.jsonl");
  Sandbox::Options so;
  so.data_dir = dir_.path();
  so.hs256_secret = kSecret;
  auto opened = Sandbox::open(so);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("sandbox.jsonl does not know"), std::string::npos)
      << opened.error().message;
  EXPECT_EQ(std::filesystem::file_size(journal), size);
}

// A durable sandbox: concurrent commands share the fdatasyncs of the engine's journal and of the
// sandbox's records, and what was answered is there after a restart.
TEST_F(CantonBatch, ADurableSandboxKeepsWhatItAnsweredAcrossARestart) {
  stop();
  durable_ = true;
  start();
  auto ps = pairs(6);
  settleAll(ps);
  stop();
  start();
  expectEachSettledOnce(ps);
  auto again = submit("t0:settle:0", Settle{ps[0].dvp});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->deduplicated);
  auto ready = anonymousCall("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
}

TEST_F(CantonLedger, TheSandboxChecksRightsAuthorizationAndContracts) {
  fund();
  daml::DvpArgs a{buyer_,
                  seller_,
                  "securities-issuer::12345",
                  "cash-provider::67890",
                  "AAPL",
                  "USDC",
                  D("1"),
                  D("1"),
                  std::chrono::sys_days{std::chrono::year{2024} / 11 / 19}};
  auto create = [&](std::vector<std::string> act_as) {
    return daml::Json{
        {"commands",
         {{"commandId", "x:" + std::to_string(act_as.size())},
          {"actAs", act_as},
          {"commands",
           daml::Json::array(
               {{{"CreateCommand",
                  {{"templateId", daml::templateRef(daml::Template::kDeliveryVsPayment)},
                   {"createArguments", daml::encode(a)}}}}})}}}};
  };
  auto r = raw("POST", "/v2/commands/submit-and-wait-for-transaction", create({buyer_, seller_}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("DAML_AUTHORIZATION_ERROR"), std::string::npos) << r.body;
  auto nf = raw(
      "POST", "/v2/commands/submit-and-wait-for-transaction",
      daml::Json{{"commands",
                  {{"commandId", "y"},
                   {"actAs", {seller_}},
                   {"commands",
                    daml::Json::array(
                        {{{"ExerciseCommand",
                           {{"templateId", daml::templateRef(daml::Template::kSecuritiesHolding)},
                            {"contractId", "00deadbeef"},
                            {"choice", "LockSecurities"},
                            {"choiceArgument",
                             {{"take", "1"}, {"dvp_ref", "x"}, {"buyer", buyer_}}}}}}})}}}});
  EXPECT_EQ(nf.status, 404) << nf.body;
  EXPECT_NE(nf.body.find("CONTRACT_NOT_FOUND"), std::string::npos) << nf.body;
  auto denied = raw("POST", "/v2/commands/submit-and-wait-for-transaction", create({buyer_}),
                    "participant_admin");
  EXPECT_EQ(denied.status, 403) << denied.body;
  auto unknown = raw("GET", "/v2/nothing-here", nullptr);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("errorCategory"), std::string::npos);
  auto unsupported = raw("GET", "/v2/packages", nullptr);
  EXPECT_EQ(unsupported.status, 501) << unsupported.body;
  auto anonymous = anonymousCall("GET", "/v2/state/ledger-end");
  EXPECT_EQ(anonymous.status, 401);
  auto version = anonymousCall("GET", "/v2/version");
  EXPECT_EQ(version.status, 200);
  auto ok = raw("POST", "/v2/commands/submit-and-wait",
                daml::Json::parse(create({buyer_, seller_, "securities-issuer::12345",
                                          "cash-provider::67890"})["commands"]
                                      .dump()));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("completionOffset"), std::string::npos);
  auto dup = raw("POST", "/v2/commands/submit-and-wait",
                 daml::Json::parse(create({buyer_, seller_, "securities-issuer::12345",
                                           "cash-provider::67890"})["commands"]
                                       .dump()));
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_NE(dup.body.find("DUPLICATE_COMMAND"), std::string::npos);
}

TEST_F(CantonLedger, UsersAndRightsAreManagedThroughTheApi) {
  auto created =
      raw("POST", "/v2/users",
          daml::Json{
              {"user", {{"id", "reader"}}},
              {"rights",
               {{{"kind", {{"CanReadAs", {{"value", {{"party", "cash-provider::67890"}}}}}}}}}}});
  EXPECT_EQ(created.status, 200) << created.body;
  auto rights = raw("GET", "/v2/users/reader/rights", nullptr);
  EXPECT_NE(rights.body.find("CanReadAs"), std::string::npos) << rights.body;
  auto me = raw("GET", "/v2/authenticated-user", nullptr, "reader");
  EXPECT_NE(me.body.find("\"reader\""), std::string::npos) << me.body;
  auto grant =
      raw("POST", "/v2/users/reader/rights",
          daml::Json{
              {"userId", "reader"},
              {"rights", {{{"kind", {{"ParticipantAdmin", {{"value", daml::Json::object()}}}}}}}}});
  EXPECT_NE(grant.body.find("ParticipantAdmin"), std::string::npos) << grant.body;
  EXPECT_EQ(raw("POST", "/v2/users", daml::Json{{"user", {{"id", "reader"}}}}).status, 409);
  EXPECT_EQ(raw("GET", "/v2/users", nullptr).status, 200);
  EXPECT_EQ(raw("GET", "/v2/parties", nullptr).status, 200);
  EXPECT_EQ(raw("GET", "/v2/state/connected-synchronizers", nullptr).status, 200);
}

// ---- review fixes: contention, outages, unexpected answers, a ledger that went back ---------

// Another instance's lock consumes the seller's holding between this adapter's read and its
// exercise, and the participant says so at confirmation (LOCAL_VERDICT_INACTIVE_CONTRACTS, not
// CONTRACT_NOT_FOUND): contention, so the adapter chooses again at the ledger end and the lock
// succeeds, never a permanent failure of the trade.
TEST_F(CantonLedger, AHoldingConsumedAtConfirmationIsContentionAndChosenAgain) {
  fund();  // the seller holds one holding of 100 AAPL
  auto mine = must("t1:initiate:0", dvpCommand(buyer_, seller_, "40", "6000"));
  auto theirs = must("t2:initiate:0", dvpCommand(buyer_, seller_, "40", "6000"));
  std::atomic<bool> armed{true}, rival_locked{false}, verdict_seen{false};
  server_->setObserver([&](const HttpRequest& req, const HttpReply& rep) {
    record(req, rep);
    if (rep.body.find(daml::kLocalVerdictInactiveContracts) != std::string::npos)
      verdict_seen = true;
    // After the adapter read the seller's holdings, before its answer reaches the adapter.
    if (req.target.rfind("/v2/state/active-contracts", 0) == 0 && armed.exchange(false)) {
      rival_locked =
          sandbox_->engine()
              .submitOne("t2:lock_securities:0", LockSecurities{theirs.contract_id, D("40")})
              .ok();
      sandbox_->inactiveContractVerdicts(1);
    }
  });
  auto locked = submit("t1:lock_securities:0", LockSecurities{mine.contract_id, D("40")});
  server_->setObserver(record);
  ASSERT_TRUE(rival_locked);
  EXPECT_TRUE(verdict_seen);
  ASSERT_TRUE(locked) << locked.error().code << " " << locked.error().message;
  EXPECT_EQ(locked->quantity, D("40"));
  EXPECT_EQ(holds(seller_, "AAPL", true), D("80"));
  EXPECT_EQ(holds(seller_, "AAPL"), D("20"));
}

// Whose holdings a lock takes is known from its DvP; when no DvP of the batch could be read
// first (the pre-read failed), the commands of one seller still run in batch order: the first two
// lock, the third finds too little (not a race that any one of them may lose).
TEST_F(CantonBatch, CommandsWhoseDvpsCouldNotBeReadFirstRunInBatchOrder) {
  fund();  // the seller holds 100 AAPL
  std::vector<Submission> create;
  for (int i = 0; i < 3; ++i)
    create.push_back(
        {"s" + std::to_string(i) + ":initiate:0", dvpCommand(buyer_, seller_, "40", "10")});
  auto dvps = all(create);
  CantonJsonLedger fresh(options());  // another instance: no DvP cached
  std::vector<Submission> lock;
  for (int i = 0; i < 3; ++i)
    lock.push_back({"s" + std::to_string(i) + ":lock_securities:0",
                    LockSecurities{dvps[i].contract_id, D("40")}});
  sandbox_->failNextRequests(3, 503, "/v2/events/events-by-contract-id");  // the pre-reads
  auto rs = fresh.submit(std::span<const Submission>(lock.data(), lock.size()));
  ASSERT_TRUE(rs[0]) << rs[0].error().message;
  ASSERT_TRUE(rs[1]) << rs[1].error().message;
  ASSERT_FALSE(rs[2]);
  EXPECT_EQ(rs[2].error().code, kInsufficientSecurities);
  EXPECT_EQ(holds(seller_, "AAPL", true), D("80"));
}

// Whether a command already ran is asked of the completions; when that lookup fails (a brief
// outage), the answer is the lookup's retryable error, never a definite insufficient_* or
// contract_not_active that would fail the trade.
TEST_F(CantonLedger, AFailedCompletionLookupIsRetryableNotADefiniteAnswer) {
  fund();  // the buyer holds 20,000 USDC
  auto big = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "25000"));
  sandbox_->failNextRequests(1, 503, "/v2/commands/completions");
  auto during = submit("t1:lock_cash:0", LockCash{big.contract_id, D("25000")});
  ASSERT_FALSE(during);
  EXPECT_TRUE(during.error().retryable) << during.error().code << " " << during.error().message;
  EXPECT_NE(during.error().code, kInsufficientCash);
  auto after = submit("t1:lock_cash:0", LockCash{big.contract_id, D("25000")});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, kInsufficientCash);  // the lookup answered: nothing ran
  EXPECT_FALSE(after.error().retryable);

  auto gone = must("t2:initiate:0", dvpCommand(buyer_, seller_, "1", "1"));
  must("t2:archive:0", ArchiveDvp{gone.contract_id});
  sandbox_->failNextRequests(1, 503, "/v2/commands/completions");
  auto inactive = submit("t2:lock_cash:0", LockCash{gone.contract_id, D("1")});
  ASSERT_FALSE(inactive);
  EXPECT_TRUE(inactive.error().retryable) << inactive.error().message;
  auto definite = submit("t2:lock_cash:0", LockCash{gone.contract_id, D("1")});
  ASSERT_FALSE(definite);
  EXPECT_EQ(definite.error().code, kContractNotActive);
  EXPECT_EQ(holds(buyer_, "USDC"), D("20000"));
}

// Answers of unexpected types (every string a number) to the DvP reads a batch starts with, on
// several threads at once: each command gets a retryable error naming the answer, the process
// lives on, and the same batch succeeds once the answers are right again.
TEST_F(CantonBatch, AnAnswerOfUnexpectedTypesIsAnErrorNotACrash) {
  fund();
  std::vector<Submission> create;
  for (int i = 0; i < 3; ++i)
    create.push_back(
        {"m" + std::to_string(i) + ":initiate:0", dvpCommand(buyer_, seller_, "10", "10")});
  auto dvps = all(create);
  std::vector<Submission> lock;
  for (int i = 0; i < 3; ++i)
    lock.push_back({"m" + std::to_string(i) + ":lock_securities:0",
                    LockSecurities{dvps[i].contract_id, D("10")}});
  server_->setObserver(nullptr);  // these answers are outside the API: not contract traffic
  sandbox_->mistypeNextResponses("/v2/events/events-by-contract-id", 1000);
  CantonJsonLedger fresh(options());  // nothing cached: every DvP is read
  auto rs = fresh.submit(std::span<const Submission>(lock.data(), lock.size()));
  sandbox_->mistypeNextResponses("", 0);
  server_->setObserver(record);
  for (const auto& r : rs) {
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().retryable);
    EXPECT_NE(r.error().message.find("unexpected answer"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(holds(seller_, "AAPL", true), D("0"));
  auto again = fresh.submit(std::span<const Submission>(lock.data(), lock.size()));
  for (const auto& r : again) ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(holds(seller_, "AAPL", true), D("30"));
}

// The participant's ledger goes back (restored from a backup; here a wiped sandbox at the same
// address) under a running adapter: its reads start over at the new ledger end instead of
// failing every lock for good with OFFSET_AFTER_LEDGER_END, a trade settles there, and what the
// old ledger answered is not served from memory (the old settle is not found, nor completed).
TEST_F(CantonLedger, AParticipantWhoseLedgerWentBackIsReadAtItsNewEnd) {
  fund();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ledger_->credit(seller_, "AAPL", D("1"), "securities"));
  const std::string old_dvp = readyDvp();
  auto old_settle = must("t1:settle:0", Settle{old_dvp});
  const int64_t old_end = sandbox_->engine().ledgerEnd();
  const uint16_t port = server_->port();
  server_.reset();
  sandbox_.reset();
  TempDir wiped;
  Sandbox::Options so;
  so.data_dir = wiped.path();
  so.hs256_secret = kSecret;
  so.durable = false;
  sandbox_ = std::move(Sandbox::open(so)).value();
  server_ = std::make_unique<SandboxServer>(*sandbox_, "127.0.0.1", port);
  server_->setObserver(record);
  server_->start();
  ASSERT_EQ(server_->port(), port);
  ASSERT_TRUE(ledger_->ping());  // its pooled connection to the old server is replaced

  fund();                                                  // the same adapter, on the new ledger
  ASSERT_LT(sandbox_->engine().ledgerEnd() + 6, old_end);  // its reads would be past the end
  auto dvp = must("t9:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  must("t9:lock_securities:0", LockSecurities{dvp.contract_id, D("100")});
  must("t9:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  must("t9:reassign:0", ReassignLocks{dvp.contract_id});
  auto settled = must("t9:settle:0", Settle{dvp.contract_id});
  EXPECT_EQ(settled.quantity, D("100"));
  EXPECT_EQ(holds(buyer_, "AAPL"), D("100"));
  auto old_update = ledger_->updateById(old_settle.update_id);
  ASSERT_TRUE(old_update) << old_update.error().message;
  EXPECT_FALSE(*old_update);
  auto old_completion = ledger_->completion("t1:settle:0");
  ASSERT_TRUE(old_completion) << old_completion.error().message;
  EXPECT_FALSE(*old_completion);
  stop();  // before `wiped` goes
}

// SETTLED is "finality verified on the ledger": updateById asks the ledger even for a settle
// this adapter submitted and was answered (an outage is an error, not a remembered answer).
TEST_F(CantonLedger, UpdateByIdAsksTheLedgerEvenForASettleThisAdapterSubmitted) {
  fund();
  auto settled = must("t1:settle:0", Settle{readyDvp()});
  sandbox_->failNextRequests(1, 503, "/v2/updates/update-by-id");
  auto during = ledger_->updateById(settled.update_id);
  ASSERT_FALSE(during);
  EXPECT_TRUE(during.error().retryable);
  auto after = ledger_->updateById(settled.update_id);
  ASSERT_TRUE(after) << after.error().message;
  ASSERT_TRUE(*after);
  EXPECT_EQ((*after)->offset, settled.offset);
}

// A durable sandbox syncs the engine's journal through the engine (its group commit, its
// durable-bytes figure, its halt): what a request wrote is durable when it is answered.
TEST_F(CantonLedger, TheSandboxMakesTheEnginesJournalDurableThroughTheEngine) {
  stop();
  durable_ = true;
  start();
  fund();
  must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
  const auto stats = sandbox_->engine().stats();
  EXPECT_GT(stats.fsyncs, 0u);
  EXPECT_EQ(stats.durable_bytes, std::filesystem::file_size(dir_.path() + "/engine/journal.log"));
}

// Once a sync failed (the engine's journal or the sandbox's own records), the sandbox refuses
// every command before it can take effect, with a retryable SERVICE_NOT_RUNNING (503), as the
// engine halts on its first failed sync; /readyz says why. A restart replays what is durable.
class CantonSyncFailure : public CantonLedger {
 protected:
  void SetUp() override {
    durable_ = true;
    start();
  }
  void refusesCommandsAfterAFailedSync(bool engine_journal) {
    fund();
    auto dvp = must("t1:initiate:0", dvpCommand(buyer_, seller_, "100", "15000"));
    if (engine_journal)
      sandbox_->engine().failNextSyncs(1, EIO);
    else
      sandbox_->failNextStoreSyncs(1);
    auto failed = submit("t1:lock_securities:0", LockSecurities{dvp.contract_id, D("100")});
    ASSERT_FALSE(failed);
    // It ran on the engine, but may not be there after a restart: outcome unknown.
    EXPECT_EQ(failed.error().code, kTimeout) << failed.error().message;
    auto refused = submit("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().retryable);
    EXPECT_NE(refused.error().message.find("SERVICE_NOT_RUNNING"), std::string::npos)
        << refused.error().message;
    if (!engine_journal) {
      // The engine is up: the refused command never reached it.
      auto ran = sandbox_->engine().completion("t1:lock_cash:0");
      ASSERT_TRUE(ran) << ran.error().message;
      EXPECT_FALSE(*ran);
    }
    auto ready = anonymousCall("GET", "/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    stop();
    start();  // replays what is durable: the buyer's cash was never locked
    EXPECT_EQ(holds(buyer_, "USDC"), D("20000"));
    EXPECT_EQ(holds(buyer_, "USDC", true), D("0"));
    must("t1:lock_cash:0", LockCash{dvp.contract_id, D("15000")});
  }
};

TEST_F(CantonSyncFailure, AFailedSyncOfTheEnginesJournalRefusesLaterCommands) {
  refusesCommandsAfterAFailedSync(true);
}

TEST_F(CantonSyncFailure, AFailedSyncOfTheSandboxsRecordsRefusesLaterCommands) {
  refusesCommandsAfterAFailedSync(false);
}

// The sandbox's tokens are checked by the verifier it is given (the swap point for RS256/ES256/
// JWKS): a token signed with the signing secret but not accepted by the verifier is refused.
TEST(SandboxTokens, TheConfiguredVerifierDecides) {
  TempDir dir;
  Sandbox::Options so;
  so.data_dir = dir.path();
  so.durable = false;
  so.hs256_secret = kSecret;
  const std::string other = "another-secret-0123456789";
  so.verifier = std::make_shared<sandbox::Hs256Verifier>(other);
  auto opened = Sandbox::open(so);
  ASSERT_TRUE(opened) << opened.error().message;
  std::unique_ptr<Sandbox> s = std::move(*opened);
  auto call = [&](const std::string& token) {
    return s->handle(HttpRequest{"GET", "/v2/authenticated-user", "Bearer " + token, ""});
  };
  EXPECT_EQ(call(s->makeToken("settlement-coordinator", 60)).status, 401);
  sandbox::TokenClaims c;
  c.user_id = "settlement-coordinator";
  c.audience = s->audience();
  c.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count() +
                 60;
  auto ok = call(sandbox::signHs256(other, c));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

}  // namespace
}  // namespace sc::test
