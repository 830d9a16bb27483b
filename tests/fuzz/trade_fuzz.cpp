// libFuzzer target: decodeTrade on arbitrary bytes (the untrusted body of POST /trades and of a
// trade.events message). Properties: no crash or UB; an error's message and field serialise as JSON
// (valid UTF-8: the API and the dead-letter topic embed them); an accepted trade re-encodes and
// decodes to the same content.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "domain/trade.h"

namespace {

void check(bool ok, const char* what, const std::string& input) {
  if (ok) return;
  std::fprintf(stderr, "property failed: %s for input of %zu bytes\n", what, input.size());
  std::abort();
}

bool serialisable(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto r = sc::decodeTrade(text);
  if (!r) {
    check(!r.error().code.empty(), "an error has a code", text);
    check(serialisable(r.error().message) && serialisable(r.error().field),
          "error message and field are valid UTF-8", text);
    return 0;
  }
  const std::string encoded = sc::encodeTrade(*r);
  auto again = sc::decodeTrade(encoded);
  check(again.ok(), "an accepted trade's encoding decodes", text);
  check(again->sameContent(*r) && again->event_id == r->event_id,
        "decode(encode(t)) has the same content", text);
  check(sc::encodeTrade(*again) == encoded, "encoding is canonical", text);
  return 0;
}
