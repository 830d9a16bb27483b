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

// The length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: shortest form, no
// UTF-16 surrogates, at most U+10FFFF), 1 to 4; 0 when none starts there (a stray continuation
// byte, an invalid lead, a cut or malformed sequence). U+0000 counts as a sequence of 1.
size_t utf8SequenceLength(std::string_view s, size_t i);

}  // namespace sc
