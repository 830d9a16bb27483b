#include "messaging/kafka_options.h"

#include <stdexcept>

namespace sc::messaging {

std::unique_ptr<RdKafka::Conf> makeKafkaConf(const std::map<std::string, std::string>& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      throw std::runtime_error("Kafka property " + k + "=" + v + ": " + err);
  }
  return conf;
}

std::unique_ptr<RdKafka::Producer> makeKafkaProducer(
    const std::map<std::string, std::string>& props, RdKafka::DeliveryReportCb* reports,
    const std::string& what) {
  auto conf = makeKafkaConf(props);
  std::string err;
  if (conf->set("dr_cb", reports, err) != RdKafka::Conf::CONF_OK)
    throw std::runtime_error(what + " dr_cb: " + err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) throw std::runtime_error(what + " producer: " + err);
  return p;
}

}  // namespace sc::messaging
