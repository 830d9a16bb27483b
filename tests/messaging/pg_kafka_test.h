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

namespace sc::test {

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
  }
  return true;
}

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
