#include "sim/simulator.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "domain/command_ids.h"
#include "ledger/engine/embedded_ledger.h"
#include "messaging/outbox_relay.h"
#include "sim/checker.h"
#include "support/fake_clock.h"
#include "support/forwarding_ledger.h"
#include "support/memory_store.h"
#include "workflow/intake.h"
#include "workflow/workflow.h"

namespace sc::test::sim {
namespace {

using namespace std::chrono_literals;
namespace L = sc::ledger;

const Date kDay0 = Date{std::chrono::year{2024} / 11 / 18};
const Timestamp kT0 = startOf(kDay0) + 9h;
const std::vector<std::string> kSyncs = {"securities", "cash", "settlement"};
const std::vector<std::string> kSecurities = {"AAPL", "MSFT"};

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(g_) < p; }
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g_); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(between(0, static_cast<int>(v.size()) - 1))];
  }
  uint64_t next() { return g_(); }

 private:
  std::mt19937_64 g_;
};

// "12.34" style amounts: integer part in [lo, hi], `decimals` random decimals.
Decimal amount(Rng& rng, int lo, int hi, int decimals) {
  std::string s = std::to_string(rng.between(lo, hi));
  if (decimals > 0) {
    s += '.';
    for (int i = 0; i < decimals; ++i) s += static_cast<char>('0' + rng.between(0, 9));
  }
  auto d = Decimal::parse(s);
  return d ? *d : Decimal();
}

// The ledger as every worker shares it, reopened from its journal on a crash.
struct LedgerCore {
  std::string dir;
  const Clock* clock = nullptr;
  std::unique_ptr<L::EmbeddedLedger> real;
  bool faults = true;
  double p_error = 0, p_lost = 0;
  Rng* rng = nullptr;
  int lost = 0;

  Result<void> open() {
    real.reset();
    L::EmbeddedLedger::Options o;
    o.data_dir = dir;
    o.durable = false;  // a crash here drops the process, not the page cache
    o.clock = clock;
    o.securities_issuer_party = "securities-issuer::sim";
    o.cash_provider_party = "cash-provider::sim";
    auto l = L::EmbeddedLedger::open(o);
    if (!l) return l.error();
    real = std::move(l).value();
    return {};
  }
};

// One worker's view of the ledger: requests that fail before reaching it, answers lost after it
// committed (the outcome is unknown to the caller), and a stall hook that runs once just before
// the worker's next submission.
class WorkerLedger final : public sc::test::ForwardingLedger {
 public:
  explicit WorkerLedger(LedgerCore& core) : c_(core) {}
  std::function<void()> stall;

  std::vector<Result<L::Outcome>> submit(std::span<const L::Submission> batch) override {
    if (stall) {
      auto hook = std::move(stall);
      stall = nullptr;
      hook();
    }
    if (c_.faults && c_.rng->chance(c_.p_error)) {
      return std::vector<Result<L::Outcome>>(
          batch.size(), Error::transient(L::kTimeout, "sim: request timed out before the ledger"));
    }
    auto r = c_.real->submit(batch);
    if (c_.faults && c_.rng->chance(c_.p_lost)) {
      ++c_.lost;
      return std::vector<Result<L::Outcome>>(
          batch.size(), Error::transient(L::kTimeout, "sim: the ledger's answer was lost"));
    }
    return r;
  }
  Result<std::optional<L::Outcome>> completionAfter(const std::string& id, int64_t after) override {
    if (c_.faults && c_.rng->chance(c_.p_error / 2))
      return Error::transient(L::kUnavailable, "sim: completion query failed");
    return c_.real->completionAfter(id, after);
  }

 private:
  // The ledger of the moment (reopened after each simulated crash).
  L::Ledger& target() const override { return *c_.real; }
  LedgerCore& c_;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const SimOptions& opt) : seed_(seed), opt_(opt), rng_(seed) {}

  SimResult run() {
    dir_ = makeDir();
    core_.dir = dir_;
    core_.clock = &clock_;
    core_.rng = &rng_;
    core_.p_error = rng_.chance(0.3) ? 0 : rng_.between(1, 12) / 100.0;
    core_.p_lost = rng_.chance(0.3) ? 0 : rng_.between(1, 12) / 100.0;
    if (auto r = core_.open(); !r) return fail("ledger open: " + r.error().message);

    options_.batch_size = rng_.between(1, 8);
    options_.retry_attempts = rng_.between(0, 3);
    options_.retry_delay = std::chrono::seconds(rng_.between(1, 30));
    options_.timeout = std::chrono::seconds(rng_.between(60, 900));
    options_.lease = 15s;
    options_.jitter_seed = rng_.next() | 1;
    workers_.clear();
    for (int i = 0; i < 2; ++i) workers_.push_back(std::make_unique<WorkerLedger>(core_));
    recreateWorkflows();
    intake_ = std::make_unique<workflow::Intake>(store_, clock_, TradeRules{}, options_.timeout);

    const int accounts = rng_.between(2, 5);
    for (int i = 0; i < accounts; ++i) {
      std::string id = "acc_" + std::to_string(i);
      auto party = core_.real->allocateParty(id);
      if (!party) return fail("allocateParty: " + party.error().message);
      if (!accounts_.create(Account{id, *party, AccountStatus::kActive, clock_.now()}))
        return fail("account create");
      checker_.account(id, *party);
      account_ids_.push_back(id);
      parties_.push_back(*party);
      for (const auto& sec : kSecurities) credit(i, sec, amount(rng_, 0, 60, rng_.between(0, 2)));
      credit(i, "USDC", amount(rng_, 0, 40000, 2));
    }

    for (step_ = 1; step_ <= opt_.steps; ++step_) {
      if (!act()) return result_;
      if (auto e = checkStep(); !e.empty()) return fail(e);
    }
    return quiesce();
  }

 private:
  // ---- set-up and helpers ----
  std::string makeDir() {
    std::string base = std::filesystem::temp_directory_path() / "sc-sim-XXXXXX";
    std::vector<char> buf(base.begin(), base.end());
    buf.push_back('\0');
    char* d = ::mkdtemp(buf.data());
    return d ? std::string(d) : std::string();
  }

  void recreateWorkflows() {
    flows_.clear();
    for (auto& w : workers_)
      flows_.push_back(
          std::make_unique<workflow::Workflow>(store_, accounts_, *w, clock_, options_, elapsed_));
  }

  void say(const std::string& what) {
    if (opt_.verbose)
      std::printf("seed %llu step %d t=%s: %s\n", static_cast<unsigned long long>(seed_), step_,
                  formatTimestamp(clock_.now()).c_str(), what.c_str());
  }

  SimResult& fail(const std::string& why) {
    if (opt_.verbose) {  // the audit trail of every settlement the failure names
      for (const auto& row : store_.rows()) {
        if (why.find(row.settlementId()) == std::string::npos) continue;
        std::printf("audit trail of %s (%s):\n", row.settlementId().c_str(),
                    row.trade.trade_id.c_str());
        auto ev = store_.events(row.id);
        for (const auto& e : ev ? *ev : std::vector<SettlementEvent>{})
          std::printf("  %s %s %s\n", formatTimestamp(e.created_at).c_str(),
                      std::string(toString(e.status)).c_str(), e.details.c_str());
      }
    }
    result_.ok = false;
    result_.failure = "step " + std::to_string(step_) + ": " + why;
    result_.step = step_;
    return result_;
  }

  void credit(int account, const std::string& asset, Decimal d) {
    if (!d.isPositive()) return;
    auto h =
        core_.real->credit(parties_[static_cast<size_t>(account)], asset, d, rng_.pick(kSyncs));
    if (h) checker_.credited(account_ids_[static_cast<size_t>(account)], asset, d);
  }

  std::string tradeJson(const std::string& trade_id, int buyer, int seller, const std::string& sec,
                        Decimal qty, Decimal amt, bool partial, Date settle) {
    nlohmann::json j{{"event_id", "evt_" + trade_id + "_" + std::to_string(rng_.between(0, 999))},
                     {"event_type", "trade_executed"},
                     {"trade_id", trade_id},
                     {"buyer_account_id", account_ids_[static_cast<size_t>(buyer)]},
                     {"seller_account_id", account_ids_[static_cast<size_t>(seller)]},
                     {"symbol", sec + "/USDC"},
                     {"quantity", qty.toString()},
                     {"amount", amt.toString()},
                     {"settlement_date", formatDate(settle)},
                     {"executed_at", formatTimestamp(clock_.now() - 1min)},
                     {"allow_partial", partial}};
    return j.dump();
  }

  void submitTrades() {
    std::vector<std::string> raw;
    int n = rng_.between(1, 3);
    for (int i = 0; i < n; ++i) {
      if (!sent_.empty() && rng_.chance(0.1)) {  // a redelivered message: same bytes
        raw.push_back(rng_.pick(sent_));
        continue;
      }
      std::string trade_id = "trd_" + std::to_string(next_trade_++);
      if (!sent_ids_.empty() && rng_.chance(0.04)) trade_id = rng_.pick(sent_ids_);  // conflict
      int buyer = rng_.between(0, static_cast<int>(account_ids_.size()) - 1);
      int seller = rng_.between(0, static_cast<int>(account_ids_.size()) - 1);
      if (seller == buyer && !rng_.chance(0.05))
        seller = (buyer + 1) % static_cast<int>(account_ids_.size());
      Decimal qty = amount(rng_, 1, 40, rng_.between(0, 3));
      if (!qty.isPositive()) qty = Decimal::fromInteger(1).value();
      Decimal amt = amount(rng_, 1, 5000, rng_.between(0, 8));
      if (rng_.chance(0.05)) amt = Decimal::parse("0.00000003").value();  // tiny pro-rata parts
      if (!amt.isPositive()) amt = Decimal::fromInteger(1).value();
      Date settle = dateOf(clock_.now()) + std::chrono::days(rng_.chance(0.7) ? 0 : 1);
      raw.push_back(tradeJson(trade_id, buyer, seller, rng_.pick(kSecurities), qty, amt,
                              rng_.chance(0.4), settle));
      sent_.push_back(raw.back());
      sent_ids_.push_back(trade_id);
    }
    std::vector<std::string_view> views(raw.begin(), raw.end());
    auto r = intake_->submit(views);
    if (!r) return;  // the store refused the batch as a unit: nothing recorded
    for (const auto& d : *r) {
      if (d.kind == store::IntakeKind::kCreated && d.settlement) {
        checker_.accepted(d.trade_id, d.settlement->id);
        ++result_.trades;
      } else if (d.kind == store::IntakeKind::kRejected) {
        checker_.rejected(d.trade_id, d.rejection ? d.rejection->code : "");
        ++result_.rejected;
      }
    }
    say("submitted " + std::to_string(raw.size()) + " trade event(s)");
  }

  void runWorker(size_t i) {
    auto r = flows_[i]->runOnce();
    say("worker " + std::to_string(i) +
        (r ? " ran " + std::to_string(*r) : " failed: " + r.error().message));
  }

  // Worker i stalls before its next ledger call; meanwhile its lease runs out and the other
  // worker (and maybe an operator) acts; then it carries on with what it leased.
  void stallWorker(size_t i) {
    ++result_.stalls;
    size_t other = (i + 1) % flows_.size();
    workers_[i]->stall = [this, other] {
      say("worker stalled; its lease runs out");
      clock_.advance(options_.lease + std::chrono::seconds(rng_.between(1, 600)));
      elapsed_.advance(options_.lease);
      for (int k = rng_.between(1, 4); k > 0; --k) runWorker(other);
      if (rng_.chance(0.3)) manualRetry();
    };
    runWorker(i);
    workers_[i]->stall = nullptr;  // not reached a ledger call: disarm
  }

  void manualRetry() {
    std::vector<Settlement> candidates;
    for (auto& s : store_.rows())
      if (s.status == Status::kFailed || s.status == Status::kPartiallySettled)
        candidates.push_back(s);
    if (candidates.empty()) return;
    const Settlement& s = rng_.pick(candidates);
    auto r = flows_[0]->retry(s.id, "sim operator");
    if (r) ++result_.retries;
    say("operator retry of " + s.trade.trade_id + (r ? " ok" : ": " + r.error().message));
  }

  void crash() {
    ++result_.crashes;
    say("crash: coordinator memory dropped, ledger reopened from its journal");
    flows_.clear();
    core_.real.reset();
    auto r = core_.open();
    if (!r) {
      fail("ledger reopen after crash: " + r.error().message);
      return;
    }
    recreateWorkflows();
  }

  void relayPass(bool faults) {
    auto batch = store_.pending(rng_.between(1, 40));
    if (!batch || batch->empty()) return;
    std::vector<messaging::Delivery> state;
    std::vector<std::string> keys;
    std::set<std::string> refused;
    for (const auto& e : *batch) {
      keys.push_back(e.settlement_id.prefixed(kSettlementPrefix));
      if (refused.count(keys.back())) {
        state.push_back(messaging::Delivery::kSkipped);
      } else if (faults && rng_.chance(0.1)) {
        state.push_back(messaging::Delivery::kFailed);
        refused.insert(keys.back());
      } else {
        state.push_back(messaging::Delivery::kDelivered);
        published_.push_back(PublishedEvent{e.id, e.settlement_id});
      }
    }
    if (faults && rng_.chance(0.1)) return;  // delivered, then the relay died before recording
    std::vector<int64_t> positions;
    for (size_t i : messaging::markableEvents(state, keys))
      positions.push_back((*batch)[i].position);
    (void)store_.markPublished(positions, clock_.now());
  }

  // ---- one step of the fault phase ----
  bool act() {
    int roll = rng_.between(1, 100);
    if (roll <= 15) {
      submitTrades();
    } else if (roll <= 45) {
      runWorker(static_cast<size_t>(rng_.between(0, static_cast<int>(flows_.size()) - 1)));
    } else if (roll <= 60) {
      Duration d = rng_.chance(0.85) ? std::chrono::seconds(rng_.between(0, 40))
                                     : std::chrono::seconds(rng_.between(60, 36000));
      clock_.advance(d);
      say("clock +" + std::to_string(d.count() / 1000000) + " s");
    } else if (roll <= 68) {
      int a = rng_.between(0, static_cast<int>(account_ids_.size()) - 1);
      if (rng_.chance(0.6))
        credit(a, rng_.pick(kSecurities), amount(rng_, 0, 20, rng_.between(0, 2)));
      else
        credit(a, "USDC", amount(rng_, 0, 20000, 2));
      say("credited " + account_ids_[static_cast<size_t>(a)]);
    } else if (roll <= 73) {
      const std::string& s = rng_.pick(kSyncs);
      bool down = rng_.chance(0.5);
      core_.real->setOutage(s, down);
      say("synchronizer " + s + (down ? " down" : " up"));
    } else if (roll <= 77) {
      manualRetry();
    } else if (roll <= 80) {
      crash();
      if (!result_.ok) return false;
    } else if (roll <= 86) {
      stallWorker(static_cast<size_t>(rng_.between(0, static_cast<int>(flows_.size()) - 1)));
    } else if (roll <= 91) {
      ++result_.store_faults;
      bool after = rng_.chance(0.5);
      store_.failNextWrites(1, after);
      say(std::string("next database write fails ") + (after ? "after" : "before") + " commit");
    } else {
      relayPass(true);
    }
    return true;
  }

  // ---- the end: faults stop, everything must come to rest and agree ----
  SimResult quiesce() {
    core_.faults = false;
    for (const auto& s : kSyncs) core_.real->setOutage(s, false);
    store_.failNextWrites(0);
    for (int i = 0; i < 400; ++i) {
      bool active = false;
      Timestamp next = Timestamp::max();
      for (const auto& s : store_.rows()) {
        if (!isActive(s.status)) continue;
        active = true;
        next = std::min(next, s.next_attempt_at);
      }
      if (!active) break;
      clock_.set(std::max(clock_.now() + 1s, next));
      for (size_t w = 0; w < flows_.size(); ++w)
        for (int k = 0; k < 20; ++k) {
          auto n = flows_[w]->runOnce();
          if (!n || *n == 0) break;
        }
      if (auto e = checkStep(); !e.empty()) return fail("quiescing: " + e);
    }
    for (int i = 0; i < 10000; ++i) {
      auto b = store_.backlog();
      if (!b || *b == 0) break;
      relayPass(false);
    }
    auto rows = store_.rows();
    for (const auto& s : rows) {
      if (s.status == Status::kSettled) ++result_.settled;
      if (s.status == Status::kFailed) ++result_.failed;
      if (s.settled_quantity.isPositive() && s.settled_quantity < s.trade.quantity)
        ++result_.partial_fills;
    }
    result_.lost_answers = core_.lost;
    if (auto e = checker_.checkEnd(rows, store_.allEvents(), core_.real->allHoldings(), totals(),
                                   settles(rows), published_);
        !e.empty())
      return fail("at rest: " + e);
    if (!opt_.keep_journal) std::filesystem::remove_all(dir_);
    return result_;
  }

  std::vector<L::AssetTotal> totals() {
    auto t = core_.real->totals();
    return t ? *t : std::vector<L::AssetTotal>{};
  }

  // Every settle completion the ledger holds for any round of each settlement.
  std::map<Uuid, std::vector<L::Outcome>> settles(const std::vector<Settlement>& rows) {
    std::map<Uuid, std::vector<L::Outcome>> out;
    for (const auto& s : rows) {
      auto& list = out[s.id];
      for (int round = 0; round <= s.round + 2; ++round) {
        Settlement probe = s;
        probe.round = round;
        auto c = core_.real->completion(commandId(probe, "settle"));
        if (c && *c) list.push_back(**c);
      }
    }
    return out;
  }

  std::string checkStep() {
    auto rows = store_.rows();
    return checker_.checkStep(rows, store_.allEvents(), core_.real->allHoldings(), totals(),
                              settles(rows));
  }

  uint64_t seed_;
  SimOptions opt_;
  Rng rng_;
  int step_ = 0;
  SimResult result_;
  std::string dir_;
  FakeClock clock_{kT0};
  FakeElapsed elapsed_;
  MemoryAccounts accounts_;
  MemoryStore store_{accounts_};
  LedgerCore core_;
  workflow::WorkflowOptions options_;
  std::vector<std::unique_ptr<WorkerLedger>> workers_;
  std::vector<std::unique_ptr<workflow::Workflow>> flows_;
  std::unique_ptr<workflow::Intake> intake_;
  Checker checker_;
  std::vector<std::string> account_ids_, parties_;
  std::vector<std::string> sent_, sent_ids_;
  int next_trade_ = 0;
  std::vector<PublishedEvent> published_;
};

}  // namespace

SimResult runSeed(uint64_t seed, const SimOptions& options) {
  Simulation sim(seed, options);
  return sim.run();
}

}  // namespace sc::test::sim
