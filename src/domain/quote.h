#pragma once
// Untrusted text inside an error message: error messages travel in JSON (HTTP bodies, the
// dead-letter topic), so they must be valid UTF-8 whatever the input was.
#include <cstddef>
#include <string>
#include <string_view>

namespace sc {

// 'text' in single quotes: at most max_bytes of it, anything but printable ASCII (and the
// backslash) as \xNN, "..." when cut.
std::string quoteForMessage(std::string_view text, size_t max_bytes = 40);

}  // namespace sc
