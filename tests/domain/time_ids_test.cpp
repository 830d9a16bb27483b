#include <gtest/gtest.h>

#include <set>

#include "domain/ids.h"
#include "domain/time.h"

namespace sc::test {
namespace {

TEST(Time, FormatsAndParsesRfc3339Utc) {
  auto t = parseTimestamp("2024-11-17T16:30:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(formatTimestamp(*t), "2024-11-17T16:30:00Z");
  auto f = parseTimestamp("2024-11-17T16:30:00.123456Z");
  ASSERT_TRUE(f);
  EXPECT_EQ(formatTimestamp(*f), "2024-11-17T16:30:00.123456Z");
  auto off = parseTimestamp("2024-11-17T18:30:00+02:00");
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, *t);
}

TEST(Time, RejectsMalformedOrImpossibleTimestamps) {
  for (const char* s : {"2024-11-17", "2024-11-17T16:30:00", "2024-13-01T00:00:00Z",
                        "2024-02-30T00:00:00Z", "2024-11-17T24:00:00Z", "2024-11-17T16:30Z",
                        "2024-11-17T16:30:00.Z", "2024-11-17T16:30:00Zjunk"}) {
    EXPECT_FALSE(parseTimestamp(s)) << s;
  }
}

TEST(Time, DatesRoundTripAndRejectInvalid) {
  auto d = parseDate("2024-02-29");
  ASSERT_TRUE(d);
  EXPECT_EQ(formatDate(*d), "2024-02-29");
  EXPECT_FALSE(parseDate("2023-02-29"));
  EXPECT_FALSE(parseDate("2024-1-01"));
  EXPECT_EQ(formatDateAsTimestamp(*d), "2024-02-29T00:00:00Z");
  EXPECT_EQ(dateOf(*parseTimestamp("2024-02-29T23:59:59Z")), *d);
}

// PostgreSQL stores neither year 0 nor BC dates as ISO text, and formatDate/formatTimestamp print
// four-digit years: the parsers accept 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z only.
TEST(Time, DatesOutsideYears0001To9999AreRefused) {
  EXPECT_FALSE(parseDate("0000-01-01"));
  EXPECT_FALSE(parseDate("0000-12-31"));
  EXPECT_FALSE(parseDate("0000-02-29"));
  auto first = parseDate("0001-01-01");
  ASSERT_TRUE(first);
  EXPECT_EQ(formatDate(*first), "0001-01-01");
  auto last = parseDate("9999-12-31");
  ASSERT_TRUE(last);
  EXPECT_EQ(formatDate(*last), "9999-12-31");
}

TEST(Time, TimestampsWhoseUtcInstantIsOutsideTheSupportedRangeAreRefused) {
  for (const char* s :
       {"0000-01-01T00:00:00Z", "0000-12-31T23:00:00Z", "0000-12-31T23:59:59.999999Z",
        "0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00.999999+00:01",
        "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:59-00:01"}) {
    EXPECT_FALSE(parseTimestamp(s)) << s;
  }
  auto first = parseTimestamp("0001-01-01T00:00:00Z");
  ASSERT_TRUE(first);
  EXPECT_EQ(formatTimestamp(*first), "0001-01-01T00:00:00Z");
  auto shifted = parseTimestamp("0001-01-01T01:00:00+01:00");
  ASSERT_TRUE(shifted);
  EXPECT_EQ(*shifted, *first);
  auto west = parseTimestamp("0000-12-31T23:30:00-00:30");
  EXPECT_FALSE(west);  // the local date is year 0, even though the instant is in range
  auto last = parseTimestamp("9999-12-31T23:59:59.999999Z");
  ASSERT_TRUE(last);
  EXPECT_EQ(formatTimestamp(*last), "9999-12-31T23:59:59.999999Z");
  auto east = parseTimestamp("10000-01-01T00:30:00+01:00");
  EXPECT_FALSE(east);
}

TEST(Uuid, V7IdsAreUniqueVersionedAndTimeOrdered) {
  std::set<Uuid> seen;
  Uuid prev;
  for (int i = 0; i < 10000; ++i) {
    Uuid u = Uuid::generateV7();
    EXPECT_EQ(u.bytes()[6] >> 4, 7);
    EXPECT_EQ(u.bytes()[8] >> 6, 2);
    EXPECT_TRUE(seen.insert(u).second);
    if (i > 0) {
      EXPECT_LT(prev, u);
    }
    prev = u;
  }
}

TEST(Uuid, ParsesPrefixedAndCanonicalForms) {
  Uuid u = Uuid::generateV7();
  EXPECT_EQ(*Uuid::parsePrefixed(u.prefixed("set_"), "set_"), u);
  EXPECT_EQ(*Uuid::parsePrefixed(u.canonical(), "set_"), u);
  EXPECT_FALSE(Uuid::parsePrefixed("set_xyz", "set_"));
  EXPECT_FALSE(Uuid::parsePrefixed("evt_" + u.hex(), "set_"));
  EXPECT_FALSE(Uuid::parseCanonical("not-a-uuid"));
}

TEST(ExternalIds, AcceptOnlyOpaqueSafeStrings) {
  EXPECT_TRUE(isValidExternalId("trd_1234567890abcdef"));
  EXPECT_TRUE(isValidExternalId("acc:buyer-1.x"));
  EXPECT_FALSE(isValidExternalId(""));
  EXPECT_FALSE(isValidExternalId(std::string(65, 'a')));
  EXPECT_FALSE(isValidExternalId("has space"));
  EXPECT_FALSE(isValidExternalId("slash/no"));
}

}  // namespace
}  // namespace sc::test
