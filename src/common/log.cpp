#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace sc::log {
namespace {
std::mutex mu;
spdlog::level::level_enum current = spdlog::level::info;
}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(mu);
  if (auto l = spdlog::get(component)) return l;
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto l = std::make_shared<spdlog::logger>(component, sink);
  l->set_level(current);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
  spdlog::register_logger(l);
  return l;
}

void setLevel(const std::string& level) {
  std::lock_guard lock(mu);
  if (level == "TRACE")
    current = spdlog::level::trace;
  else if (level == "DEBUG")
    current = spdlog::level::debug;
  else if (level == "WARN" || level == "WARNING")
    current = spdlog::level::warn;
  else if (level == "ERROR")
    current = spdlog::level::err;
  else
    current = spdlog::level::info;
  spdlog::apply_all([](std::shared_ptr<spdlog::logger> l) { l->set_level(current); });
}

std::string escape(std::string_view text, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == max) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

}  // namespace sc::log
