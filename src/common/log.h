#pragma once
// One named logger per component (STYLE 7): sc::log::get("store")->info(...). Loggers share one
// stderr sink; the level comes from LOG_LEVEL via setLevel at start-up.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace sc::log {

std::shared_ptr<spdlog::logger> get(const std::string& component);
void setLevel(const std::string& level);  // TRACE DEBUG INFO WARN ERROR

}  // namespace sc::log
