#pragma once
// The dashboard's static files (src/ui/static/*), embedded at build time by embed_ui.cmake: name
// ("index.html"), content type, bytes and a strong ETag (quoted, from the file's SHA-256).
#include <span>
#include <string_view>

namespace sc::ui {

struct Asset {
  std::string_view name;
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;
};

// Every file, in name order.
std::span<const Asset> assets();
// The file called `name` (no folder), or null.
const Asset* findAsset(std::string_view name);

}  // namespace sc::ui
