#pragma once
// The error codes messaging produces (as domain/trade.h's reason:: and ledger/ledger.h do).
// outbox_relay.cpp still spells kKafkaUnavailable as a literal; switch it to this.
#include <string_view>

namespace sc::messaging {

// The producer is not started, or librdkafka refused the message (transient: the relay retries).
inline constexpr std::string_view kKafkaUnavailable = "kafka_unavailable";

}  // namespace sc::messaging
