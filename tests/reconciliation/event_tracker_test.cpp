// settlement.events against the audit trail (EventTracker), pure: forged and reordered events are
// exactly their findings; duplicates and rows before the tracker started are not judged.
#include "reconciliation/event_tracker.h"

#include <gtest/gtest.h>

#include "messaging/event_payload.h"

namespace sc::reconciliation {
namespace {

using Json = nlohmann::json;

SettlementEvent audit(const Uuid& settlement, Status status, int64_t position) {
  SettlementEvent e;
  e.id = Uuid::generateV7();
  e.settlement_id = settlement;
  e.status = status;
  e.details = R"({"trade_id":"trd_1"})";
  e.created_at = Timestamp(std::chrono::seconds(1731861000));
  e.position = position;
  return e;
}

// The message the relay produces for an audit row.
TapMessage relayed(const SettlementEvent& e, int64_t offset) {
  return TapMessage{messaging::eventKey(e), messaging::buildEventPayload(e), 0, offset};
}

TEST(EventTracker, EventMatchingItsAuditRowIsSeenAndJudgesNothing) {
  EventTracker t(/*floor=*/0);
  Uuid s = Uuid::generateV7();
  auto e = audit(s, Status::kPending, 1);
  auto obs = t.observe(relayed(e, 0), e, /*watermark=*/0);
  EXPECT_TRUE(obs.drafts.empty());
  EXPECT_FALSE(obs.late);
  EXPECT_TRUE(t.seen(e.id));
  t.passed(e.id);
  EXPECT_FALSE(t.seen(e.id));
}

TEST(EventTracker, EventIdIsReadFromThePayload) {
  auto e = audit(Uuid::generateV7(), Status::kPending, 1);
  EXPECT_EQ(EventTracker::eventIdOf(messaging::buildEventPayload(e)), e.id);
  EXPECT_FALSE(EventTracker::eventIdOf("not json"));
  EXPECT_FALSE(EventTracker::eventIdOf(R"({"event_id":42})"));
}

TEST(EventTracker, EventWithoutAuditRowIsForgedForTheSettlementItNames) {
  EventTracker t(0);
  Uuid s = Uuid::generateV7();
  auto fake = audit(s, Status::kSettled, 99);
  auto obs = t.observe(relayed(fake, 5), std::nullopt, 0);
  ASSERT_EQ(obs.drafts.size(), 1u);
  const Draft& d = obs.drafts[0];
  EXPECT_EQ(d.kind, "event_forged");
  EXPECT_EQ(d.settlement_id, s);
  EXPECT_EQ(d.subject, "");
  EXPECT_EQ(d.evidence["event_id"], fake.id.prefixed(kEventPrefix));
  EXPECT_EQ(d.evidence["offset"], 5);
  EXPECT_FALSE(t.seen(fake.id));
}

TEST(EventTracker, MessageThatIsNotJsonIsForgedByItsCoordinates) {
  EventTracker t(0);
  auto obs = t.observe(TapMessage{"junk", "not json", 2, 17}, std::nullopt, 0);
  ASSERT_EQ(obs.drafts.size(), 1u);
  EXPECT_EQ(obs.drafts[0].kind, "event_forged");
  EXPECT_FALSE(obs.drafts[0].settlement_id);
  EXPECT_EQ(obs.drafts[0].subject, "p2@17");
}

TEST(EventTracker, EventWhoseContentDiffersFromItsAuditRowIsForged) {
  EventTracker t(0);
  Uuid s = Uuid::generateV7();
  auto e = audit(s, Status::kConfirmed, 3);
  auto payload = Json::parse(messaging::buildEventPayload(e));
  payload["trade_id"] = "trd_other";
  payload["extra"] = true;
  auto obs = t.observe(TapMessage{messaging::eventKey(e), payload.dump(), 0, 1}, e, 0);
  ASSERT_EQ(obs.drafts.size(), 1u);
  const Draft& d = obs.drafts[0];
  EXPECT_EQ(d.kind, "event_forged");
  EXPECT_EQ(d.settlement_id, s);
  EXPECT_EQ(d.evidence["fields"]["trade_id"]["audit"], "trd_1");
  EXPECT_EQ(d.evidence["fields"]["trade_id"]["topic"], "trd_other");
  EXPECT_TRUE(d.evidence["fields"].contains("extra"));
  EXPECT_FALSE(t.seen(e.id)) << "a forged copy does not count as the event seen";
}

TEST(EventTracker, EventUnderAnotherSettlementsKeyIsForged) {
  EventTracker t(0);
  auto e = audit(Uuid::generateV7(), Status::kInitiated, 3);
  TapMessage m = relayed(e, 0);
  m.key = Uuid::generateV7().prefixed(kSettlementPrefix);
  auto obs = t.observe(m, e, 0);
  ASSERT_EQ(obs.drafts.size(), 1u);
  EXPECT_EQ(obs.drafts[0].kind, "event_forged");
}

TEST(EventTracker, EventFirstSeenAfterALaterOneOfItsSettlementIsOutOfOrder) {
  EventTracker t(0);
  Uuid s = Uuid::generateV7();
  auto first = audit(s, Status::kPending, 10);
  auto second = audit(s, Status::kInitiated, 11);
  EXPECT_TRUE(t.observe(relayed(second, 0), second, 0).drafts.empty());
  auto obs = t.observe(relayed(first, 1), first, 0);
  ASSERT_EQ(obs.drafts.size(), 1u);
  EXPECT_EQ(obs.drafts[0].kind, "event_out_of_order");
  EXPECT_EQ(obs.drafts[0].settlement_id, s);
  EXPECT_EQ(obs.drafts[0].evidence["position"], 10);
  EXPECT_EQ(obs.drafts[0].evidence["seen_after_position"], 11);
  EXPECT_TRUE(t.seen(first.id));
}

TEST(EventTracker, OtherSettlementsInterleaveFreely) {
  EventTracker t(0);
  auto a2 = audit(Uuid::generateV7(), Status::kInitiated, 12);
  auto b1 = audit(Uuid::generateV7(), Status::kPending, 11);
  EXPECT_TRUE(t.observe(relayed(a2, 0), a2, 0).drafts.empty());
  EXPECT_TRUE(t.observe(relayed(b1, 1), b1, 0).drafts.empty());
}

TEST(EventTracker, ARepeatedEventIsADuplicateNotAReordering) {
  EventTracker t(0);
  Uuid s = Uuid::generateV7();
  auto first = audit(s, Status::kPending, 10);
  auto second = audit(s, Status::kInitiated, 11);
  EXPECT_TRUE(t.observe(relayed(first, 0), first, 0).drafts.empty());
  EXPECT_TRUE(t.observe(relayed(second, 1), second, 0).drafts.empty());
  // The relay re-sends after a takeover: same event id, same content.
  EXPECT_TRUE(t.observe(relayed(first, 2), first, 0).drafts.empty());
}

TEST(EventTracker, RowsUpToTheFloorAreNotJudged) {
  EventTracker t(/*floor=*/20);
  Uuid s = Uuid::generateV7();
  auto old_first = audit(s, Status::kPending, 19);
  auto later = audit(s, Status::kInitiated, 21);
  EXPECT_TRUE(t.observe(relayed(later, 0), later, 0).drafts.empty());
  EXPECT_TRUE(t.observe(relayed(old_first, 1), old_first, 0).drafts.empty());
  EXPECT_FALSE(t.seen(old_first.id));
  EXPECT_TRUE(t.seen(later.id));
}

TEST(EventTracker, EventSeenAfterTheWatermarkPassedItsRowIsLate) {
  EventTracker t(0);
  auto e = audit(Uuid::generateV7(), Status::kSettled, 5);
  auto obs = t.observe(relayed(e, 0), e, /*watermark=*/8);
  EXPECT_TRUE(obs.drafts.empty());
  ASSERT_TRUE(obs.late);
  EXPECT_EQ(obs.late->id, e.id);
  EXPECT_FALSE(t.seen(e.id));
}

TEST(EventTracker, EvictionForgetsOrderOnlyBelowTheWatermark) {
  EventTracker t(0);
  Uuid s = Uuid::generateV7();
  auto first = audit(s, Status::kPending, 10);
  auto second = audit(s, Status::kInitiated, 11);
  EXPECT_TRUE(t.observe(relayed(second, 0), second, 0).drafts.empty());
  t.evict(10);  // the settlement has a sighting above 10: kept
  auto obs = t.observe(relayed(first, 1), first, 0);
  ASSERT_EQ(obs.drafts.size(), 1u);
  EXPECT_EQ(obs.drafts[0].kind, "event_out_of_order");
}

}  // namespace
}  // namespace sc::reconciliation
