#pragma once
// One named logger per component (STYLE 7): sc::log::get("store")->info(...). Loggers share one
// stderr sink; the level comes from LOG_LEVEL via setLevel at start-up.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace sc::log {

std::shared_ptr<spdlog::logger> get(const std::string& component);
void setLevel(const std::string& level);  // TRACE DEBUG INFO WARN ERROR

// What a user typed, made safe for one log line: quoted, control characters, quotes, backslashes
// and non-ASCII bytes as \xNN escapes, cut at `max` bytes (a forged newline cannot start a fake
// log line).
std::string escape(std::string_view text, size_t max = 200);

}  // namespace sc::log
