#pragma once
// A small librdkafka helper for the Kafka end-to-end tests: create topics (admin API), produce
// keyed messages with the idempotent producer and wait for every acknowledgement, and read a topic
// from the beginning (all partitions, no consumer group) until a predicate holds or a deadline
// passes. Every wait is bounded; nothing here sleeps for correctness.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace RdKafka {
class KafkaConsumer;
}

namespace sc::test {

struct KafkaRecord {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int32_t partition = -1;
  int64_t offset = -1;

  // The first header of that name, or nullptr.
  const std::string* header(const std::string& name) const;
};

// KAFKA_BOOTSTRAP_SERVERS, or empty when unset.
std::string kafkaBootstrapFromEnv();

// Creates the topics (ignoring "already exists") and waits until their metadata shows
// `partitions` partitions each. False with a message in `error` otherwise.
bool createTopics(const std::string& bootstrap, const std::vector<std::string>& topics,
                  int partitions, std::string& error,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Produces every record (key, value, headers; partition chosen by key) to `topic` in order with
// the idempotent producer (acks=all) and flushes. False with `error` if any delivery failed.
bool produceAll(const std::string& bootstrap, const std::string& topic,
                const std::vector<KafkaRecord>& records, std::string& error,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Reads one topic from the beginning of every partition. Keeps what it has read: successive
// readUntil calls continue where the last one stopped.
class TopicReader {
 public:
  TopicReader(std::string bootstrap, std::string topic);
  ~TopicReader();
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // Consumes until pred(messages()) is true (checked after each poll, and once before the first)
  // or the timeout passes. Returns whether pred held.
  bool readUntil(const std::function<bool(const std::vector<KafkaRecord>&)>& pred,
                 std::chrono::milliseconds timeout);
  // Consumes until `n` messages have been read in total.
  bool readAtLeast(size_t n, std::chrono::milliseconds timeout) {
    return readUntil([n](const std::vector<KafkaRecord>& m) { return m.size() >= n; }, timeout);
  }
  // Consumes whatever arrives within `quiet` (used to prove nothing more comes).
  void drainFor(std::chrono::milliseconds quiet);

  const std::vector<KafkaRecord>& messages() const { return messages_; }
  const std::string& error() const { return error_; }

 private:
  bool ensureAssigned(std::chrono::steady_clock::time_point deadline);
  void pollOnce(int timeout_ms);

  std::string bootstrap_, topic_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool assigned_ = false;
  std::vector<KafkaRecord> messages_;
  std::string error_;
};

}  // namespace sc::test
