#include "messaging/kafka_options.h"

#include <stdexcept>

namespace sc {

std::unique_ptr<RdKafka::Conf> makeKafkaConf(const std::map<std::string, std::string>& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      throw std::runtime_error("Kafka property " + k + "=" + v + ": " + err);
  }
  return conf;
}

}  // namespace sc
