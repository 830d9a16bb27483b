// The Canton adapter's decisions, tested directly: which commands of a batch run one after
// another (commandGroups), what a participant's answers mean to the workflow (errorOf), and the
// fan-out that runs a batch on plain threads (runConcurrently). Against the sandbox:
// canton_ledger_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

#include "ledger/canton/canton_json_ledger.h"
#include "ledger/canton/run_concurrently.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;
using canton::CantonJsonLedger;

canton::PartiesOf knownParties(std::map<std::string, std::pair<std::string, std::string>> m) {
  return [m](const std::string& dvp) -> std::optional<std::pair<std::string, std::string>> {
    auto it = m.find(dvp);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

TEST(CantonCommandGroups, CommandsOfOneSellerRunTogetherAndUnrelatedOnesApart) {
  std::vector<Submission> batch{{"a:lock_securities:0", LockSecurities{"dvp-a", D("1")}},
                                {"b:lock_securities:0", LockSecurities{"dvp-b", D("1")}},
                                {"c:lock_securities:0", LockSecurities{"dvp-c", D("1")}}};
  auto groups = canton::commandGroups(batch, knownParties({{"dvp-a", {"buyer-a", "seller"}},
                                                           {"dvp-b", {"buyer-b", "seller"}},
                                                           {"dvp-c", {"buyer-c", "seller-c"}}}));
  EXPECT_EQ(groups[0], groups[1]);  // one seller's holdings
  EXPECT_NE(groups[0], groups[2]);
}

// A DvP that could not be read (a failed pre-read, a cleared cache) hides whose holdings its
// command takes: every such command runs in one group, in batch order, rather than racing
// another command of the same party for its holdings.
TEST(CantonCommandGroups, CommandsWhoseDvpPartiesAreUnknownRunOneAfterAnother) {
  std::vector<Submission> batch{{"a:lock_securities:0", LockSecurities{"dvp-a", D("1")}},
                                {"b:lock_cash:0", LockCash{"dvp-b", D("1")}},
                                {"c:settle:0", Settle{"dvp-c"}},
                                {"d:lock_securities:0", LockSecurities{"dvp-d", D("1")}},
                                {"e:initiate:0", dvpCommand("buyer-e", "seller-e", "1", "1")}};
  auto groups = canton::commandGroups(batch, knownParties({{"dvp-d", {"buyer-d", "seller-d"}}}));
  EXPECT_EQ(groups[0], groups[1]);
  EXPECT_EQ(groups[0], groups[2]);
  EXPECT_NE(groups[0], groups[3]);  // known and unrelated: apart
  EXPECT_NE(groups[0], groups[4]);
  EXPECT_NE(groups[3], groups[4]);
}

// A holding consumed by another transaction is answered in more than one way; each is "not
// active" (contention for a lock, which chooses again), never a permanent invalid command.
TEST(CantonErrors, EveryAnswerThatAContractIsInactiveIsContractNotActive) {
  using daml::Category;
  const std::pair<const char*, Category> answers[] = {
      {daml::kContractNotFound, Category::kInvalidGivenCurrentSystemStateResourceMissing},
      {daml::kLocalVerdictInactiveContracts,
       Category::kInvalidGivenCurrentSystemStateResourceMissing},
      {daml::kInterpreterContractNotActive,
       Category::kInvalidGivenCurrentSystemStateResourceMissing}};
  for (const auto& [code, category] : answers) {
    Error e = CantonJsonLedger::errorOf(daml::makeError(code, category, "contract 00ab"));
    EXPECT_EQ(e.code, kContractNotActive) << code;
    EXPECT_FALSE(e.retryable) << code;
    EXPECT_TRUE(e.field.empty()) << code;  // not the DvP's: the caller decides
    EXPECT_NE(e.message.find(code), std::string::npos) << e.message;
  }
  // Other missing resources keep their meaning.
  EXPECT_EQ(CantonJsonLedger::errorOf(
                daml::makeError(daml::kPartyNotKnownOnLedger,
                                Category::kInvalidGivenCurrentSystemStateResourceMissing, "p"))
                .code,
            kUnknownParty);
  EXPECT_EQ(CantonJsonLedger::errorOf(
                daml::makeError(daml::kUserNotFound,
                                Category::kInvalidGivenCurrentSystemStateResourceMissing, "u"))
                .code,
            kInvalidCommand);
}

// A contract whose synchronizer the participant cannot tell (unassigned, its reassignment not
// complete; or the participant not connected to the synchronizer it is on) is in flight, not
// gone: retried, never a trade's permanent failure.
TEST(CantonErrors, AContractOnAnUnknownSynchronizerIsInFlight) {
  Error e = CantonJsonLedger::errorOf(
      daml::makeError(daml::kUnknownContractSynchronizers,
                      daml::Category::kInvalidGivenCurrentSystemStateOther, "contract 00ab"));
  EXPECT_EQ(e.code, kContractInFlight);
  EXPECT_TRUE(e.retryable);
  EXPECT_NE(e.message.find(daml::kUnknownContractSynchronizers), std::string::npos) << e.message;
}

// A participant not connected to a synchronizer answers in a category that is not retryable;
// it is an outage all the same: retried, never a trade's permanent failure.
TEST(CantonErrors, ASynchronizerThatIsNotConnectedIsAnOutage) {
  for (const char* code : {daml::kNotConnectedToSynchronizer, daml::kNotConnectedToOneSynchronizer,
                           daml::kNoSynchronizerForSubmission, daml::kSynchronizerNotAvailable}) {
    Error e = CantonJsonLedger::errorOf(daml::makeError(
        code, daml::Category::kInvalidGivenCurrentSystemStateOther, "synchronizer settlement"));
    EXPECT_EQ(e.code, kUnavailable) << code;
    EXPECT_TRUE(e.retryable) << code;
  }
}

// An offset past the participant's ledger end is not a bad command: its end went back (a
// restore) or is catching up; retried, never a trade's permanent failure.
TEST(CantonErrors, AReadBelowThePruningOffsetIsLedgerPruned) {
  Error e = CantonJsonLedger::errorOf(daml::makeError(
      daml::kParticipantPrunedDataAccessed, daml::Category::kInvalidGivenCurrentSystemStateOther,
      "Command completions up to offset 40 are pruned"));
  EXPECT_EQ(e.code, kLedgerPruned);
  EXPECT_FALSE(e.retryable) << "the data is gone: asking again cannot help";
}

TEST(CantonErrors, AnOffsetAfterTheLedgerEndIsRetryable) {
  Error e = CantonJsonLedger::errorOf(daml::makeError(
      daml::kOffsetAfterLedgerEnd, daml::Category::kInvalidGivenCurrentSystemStateSeekAfterEnd,
      "activeAtOffset 40 is after the ledger end 12"));
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.code, kUnavailable);
}

// Exceptions out of the work, on any thread (the caller's among them): each becomes its index's
// error, every index still runs once, and every thread is joined (before, a throw on a worker
// thread was std::terminate, and one on the caller's left the workers unjoined).
TEST(RunConcurrently, AnExceptionOnAnyThreadBecomesThatIndexsErrorAndEveryIndexRuns) {
  constexpr size_t kN = 64;
  std::mutex mu;
  std::multiset<size_t> ran;
  std::map<size_t, std::string> errors;
  canton::runConcurrently(
      kN, 8,
      [&](size_t i) {
        {
          std::lock_guard l(mu);
          ran.insert(i);
        }
        if (i % 3 == 0) {
          // What an answer of unexpected types does: nlohmann's type_error.
          daml::Json answer{{"templateId", 42}};
          (void)answer.value("templateId", std::string());
        }
        if (i == 7) throw 7;  // not even a std::exception
      },
      [&](size_t i, const std::string& what) {
        std::lock_guard l(mu);
        EXPECT_TRUE(errors.emplace(i, what).second) << "reported twice: " << i;
      });
  EXPECT_EQ(ran.size(), kN);
  for (size_t i = 0; i < kN; ++i) EXPECT_EQ(ran.count(i), 1u) << i;
  EXPECT_EQ(errors.size(), kN / 3 + 1 + 1);  // 0, 3, …, 63, and 7
  EXPECT_NE(errors[3].find("type_error"), std::string::npos) << errors[3];
  EXPECT_FALSE(errors[7].empty());
}

TEST(RunConcurrently, WorkThatAlwaysThrowsReturnsWithEveryIndexReported) {
  for (int width : {1, 2, 16}) {
    std::atomic<int> reported{0};
    canton::runConcurrently(
        5, width, [](size_t) { throw std::runtime_error("unexpected answer"); },
        [&](size_t, const std::string& what) {
          EXPECT_EQ(what, "unexpected answer");
          ++reported;
        });
    EXPECT_EQ(reported.load(), 5) << "width " << width;
  }
  // A failing report does not end the process either.
  canton::runConcurrently(
      3, 3, [](size_t) { throw std::runtime_error("x"); },
      [](size_t, const std::string&) { throw std::logic_error("report failed"); });
}

}  // namespace
}  // namespace sc::test
