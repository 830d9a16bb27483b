#pragma once
// Shared by the messaging tests that need the real PostgreSQL and Kafka broker
// (relay_leadership_test, consumer_group_test): a fresh migrated database (StoreTest) plus the
// broker from KAFKA_BOOTSTRAP_SERVERS, and a bounded wait for an observable condition.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "e2e/kafka_test_client.h"
#include "store_fixture.h"
#include "support/wait_for.h"

namespace sc::test {

class PgKafkaTest : public StoreTest {
 protected:
  void SetUp() override {
    bootstrap_ = sc::test::kafkaBootstrapFromEnv();
    ASSERT_FALSE(bootstrap_.empty())
        << "KAFKA_BOOTSTRAP_SERVERS is not set: this test needs a Kafka broker (./scripts/test, "
           "or export the output of `./scripts/kafka start`).";
    StoreTest::SetUp();
  }
  std::string bootstrap_;
};

}  // namespace sc::test
