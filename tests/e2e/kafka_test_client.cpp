#include "e2e/kafka_test_client.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

namespace sc::test {
namespace {

using Clock = std::chrono::steady_clock;

int msLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::unique_ptr<RdKafka::Conf> conf(const std::map<std::string, std::string>& props,
                                    std::string& error) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [k, v] : props) {
    if (c->set(k, v, error) != RdKafka::Conf::CONF_OK) {
      error = k + "=" + v + ": " + error;
      return nullptr;
    }
  }
  return c;
}

// Partitions of `topic` according to the broker, or -1 while it is not known (yet).
int partitionCount(RdKafka::Handle& h, const std::string& topic, int timeout_ms) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&h, topic, nullptr, err));
  if (!t) return -1;
  RdKafka::Metadata* md = nullptr;
  auto rc = h.metadata(false, t.get(), &md, timeout_ms);
  std::unique_ptr<RdKafka::Metadata> guard(md);
  if (rc != RdKafka::ERR_NO_ERROR || !md) return -1;
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic || tm->err() != RdKafka::ERR_NO_ERROR) continue;
    return static_cast<int>(tm->partitions()->size());
  }
  return -1;
}

class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ++ok;
    } else {
      ++failed;
      if (first_error.empty()) first_error = m.errstr();
    }
  }
  std::atomic<size_t> ok{0}, failed{0};
  std::string first_error;
};

}  // namespace

const std::string* KafkaRecord::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

std::string kafkaBootstrapFromEnv() {
  const char* v = std::getenv("KAFKA_BOOTSTRAP_SERVERS");
  return v ? std::string(v) : std::string();
}

bool createTopics(const std::string& bootstrap, const std::vector<std::string>& topics,
                  int partitions, std::string& error, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  char errstr[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(c);
    error = errstr;
    return false;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(c);
    error = errstr;
    return false;
  }
  std::vector<rd_kafka_NewTopic_t*> news;
  for (const auto& t : topics)
    news.push_back(rd_kafka_NewTopic_new(t.c_str(), partitions, 1, errstr, sizeof errstr));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, msLeft(deadline), errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, news.data(), news.size(), opts, q);
  bool ok = true;
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, msLeft(deadline));
  if (!ev) {
    ok = false;
    error = "CreateTopics: no answer before the deadline";
  } else if (rd_kafka_event_error(ev)) {
    ok = false;
    error = std::string("CreateTopics: ") + rd_kafka_event_error_string(ev);
  } else {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      auto e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        ok = false;
        error = std::string("create ") + rd_kafka_topic_result_name(results[i]) + ": " +
                (rd_kafka_topic_result_error_string(results[i])
                     ? rd_kafka_topic_result_error_string(results[i])
                     : rd_kafka_err2str(e));
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy_array(news.data(), news.size());
  rd_kafka_destroy(rk);
  if (!ok) return false;

  // Wait until the metadata shows every topic with its partitions (creation is asynchronous).
  std::string err;
  auto pc = conf({{"bootstrap.servers", bootstrap}}, err);
  std::unique_ptr<RdKafka::Producer> p(pc ? RdKafka::Producer::create(pc.get(), err) : nullptr);
  if (!p) {
    error = "metadata client: " + err;
    return false;
  }
  for (const auto& t : topics) {
    while (partitionCount(*p, t, std::max(1, std::min(2000, msLeft(deadline)))) != partitions) {
      if (msLeft(deadline) == 0) {
        error = "topic " + t + " does not show " + std::to_string(partitions) + " partitions";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // metadata propagation poll
    }
  }
  return true;
}

bool produceAll(const std::string& bootstrap, const std::string& topic,
                const std::vector<KafkaRecord>& records, std::string& error,
                std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  DeliveryTracker tracker;
  std::string err;
  auto c = conf({{"bootstrap.servers", bootstrap},
                 {"enable.idempotence", "true"},
                 {"acks", "all"},
                 {"linger.ms", "5"},
                 {"client.id", "kafka-e2e-test-producer"}},
                err);
  if (!c || c->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&tracker), err) !=
                RdKafka::Conf::CONF_OK) {
    error = "producer config: " + err;
    return false;
  }
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) {
    error = "producer: " + err;
    return false;
  }
  for (const auto& r : records) {
    RdKafka::Headers* h = nullptr;
    if (!r.headers.empty()) {
      h = RdKafka::Headers::create();
      for (const auto& [k, v] : r.headers) h->add(k, v);
    }
    for (;;) {
      auto rc = p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           const_cast<char*>(r.value.data()), r.value.size(), r.key.data(),
                           r.key.size(), 0, h, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      if (rc == RdKafka::ERR__QUEUE_FULL && msLeft(deadline) > 0) {
        p->poll(20);
        continue;
      }
      delete h;
      error = "produce: " + RdKafka::err2str(rc);
      return false;
    }
    p->poll(0);
  }
  p->flush(msLeft(deadline));
  p->poll(0);
  if (tracker.failed > 0 || tracker.ok != records.size()) {
    error = "delivered " + std::to_string(tracker.ok.load()) + " of " +
            std::to_string(records.size()) + " (failed " + std::to_string(tracker.failed.load()) +
            "): " + tracker.first_error;
    return false;
  }
  return true;
}

TopicReader::TopicReader(std::string bootstrap, std::string topic)
    : bootstrap_(std::move(bootstrap)), topic_(std::move(topic)) {
  std::random_device rd;
  std::string err;
  auto c = conf({{"bootstrap.servers", bootstrap_},
                 {"group.id", "kafka-e2e-reader-" + std::to_string(rd())},  // never joined
                 {"enable.auto.commit", "false"},
                 {"enable.auto.offset.store", "false"},
                 {"enable.partition.eof", "false"},
                 {"fetch.wait.max.ms", "50"},
                 {"client.id", "kafka-e2e-test-reader"}},
                err);
  if (c) consumer_.reset(RdKafka::KafkaConsumer::create(c.get(), err));
  if (!consumer_) error_ = "reader for " + topic_ + ": " + err;
}

TopicReader::~TopicReader() {
  if (consumer_) consumer_->close();
}

bool TopicReader::ensureAssigned(Clock::time_point deadline) {
  if (assigned_) return true;
  if (!consumer_) return false;
  int n = -1;
  while ((n = partitionCount(*consumer_, topic_, std::max(1, std::min(2000, msLeft(deadline))))) <=
         0) {
    if (msLeft(deadline) == 0) {
      error_ = "no metadata for topic " + topic_;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // metadata poll
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < n; ++p)
    parts.push_back(RdKafka::TopicPartition::create(topic_, p, RdKafka::Topic::OFFSET_BEGINNING));
  auto rc = consumer_->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  if (rc != RdKafka::ERR_NO_ERROR) {
    error_ = "assign " + topic_ + ": " + RdKafka::err2str(rc);
    return false;
  }
  assigned_ = true;
  return true;
}

void TopicReader::pollOnce(int timeout_ms) {
  // Drain what is buffered, waiting at most timeout_ms for the first message.
  for (int wait = timeout_ms;; wait = 0) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) return;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      error_ = m->errstr();
      return;
    }
    KafkaRecord r;
    if (m->key()) r.key = *m->key();
    r.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (const RdKafka::Headers* h = m->headers()) {
      for (const auto& hd : h->get_all())
        r.headers.emplace_back(hd.key(),
                               std::string(static_cast<const char*>(hd.value()), hd.value_size()));
    }
    r.partition = m->partition();
    r.offset = m->offset();
    messages_.push_back(std::move(r));
    if (messages_.size() % 4096 == 0) return;  // let the caller re-check its predicate
  }
}

bool TopicReader::readUntil(const std::function<bool(const std::vector<KafkaRecord>&)>& pred,
                            std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (!ensureAssigned(deadline)) return false;
  while (!pred(messages_)) {
    if (msLeft(deadline) == 0) return false;
    pollOnce(std::min(200, msLeft(deadline)));
  }
  return true;
}

void TopicReader::drainFor(std::chrono::milliseconds quiet) {
  auto deadline = Clock::now() + quiet;
  if (!ensureAssigned(deadline)) return;
  while (msLeft(deadline) > 0) pollOnce(std::min(200, msLeft(deadline)));
}

}  // namespace sc::test
