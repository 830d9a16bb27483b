// GET /ui and /ui/<file>: every embedded file byte for byte as in src/ui/static with its content
// type, the security headers (a CSP without inline script), ETag revalidation (304), unknown
// files 404 — and markup that the CSP can actually run (no inline script, style or handler).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "api/test_server.h"
#include "ui/assets.h"

namespace sc::test {
namespace {

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::filesystem::path kStatic = SC_UI_STATIC_DIR;

class UiRoutesTest : public ApiServerTest {};

TEST_F(UiRoutesTest, EveryFileOfTheStaticFolderIsEmbeddedAndServedAsIs) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kStatic)) {
    ++files;
    const std::string name = entry.path().filename().string();
    const ui::Asset* a = ui::findAsset(name);
    ASSERT_NE(a, nullptr) << name << " is not embedded";
    auto r = http().get("/ui/" + name);
    ASSERT_EQ(r.status, 200u) << name;
    EXPECT_EQ(r.body, readFile(entry.path())) << name;
    EXPECT_EQ(r.header("content-type"), std::string(a->content_type)) << name;
    EXPECT_EQ(r.header("etag"), std::string(a->etag));
  }
  EXPECT_EQ(files, ui::assets().size());
  EXPECT_EQ(http().get("/ui/app.js").header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(http().get("/ui/style.css").header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(http().get("/ui/favicon.svg").header("content-type"), "image/svg+xml");
}

TEST_F(UiRoutesTest, TheDashboardIsAtUiWithAStrictContentSecurityPolicy) {
  for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
    auto r = http().get(path);
    ASSERT_EQ(r.status, 200u) << path;
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.body, readFile(kStatic / "index.html"));
    const std::string csp = r.header("content-security-policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.header("cache-control"), "no-cache");
    EXPECT_EQ(r.header("x-frame-options"), "DENY");
  }
}

TEST_F(UiRoutesTest, AMatchingIfNoneMatchIsAnswered304WithoutABody) {
  auto first = http().get("/ui/app.js");
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(etag.front(), '"');
  for (const std::string& header : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    auto r = http().request("GET", "/ui/app.js", "", {{"If-None-Match", header}});
    EXPECT_EQ(r.status, 304u) << header;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.header("etag"), etag);
  }
  auto changed = http().request("GET", "/ui/app.js", "", {{"If-None-Match", "\"other\""}});
  EXPECT_EQ(changed.status, 200u);
  EXPECT_EQ(changed.body, first.body);
  // Another file's tag does not match this one.
  const std::string css_tag = http().get("/ui/style.css").header("etag");
  EXPECT_NE(css_tag, etag);
  EXPECT_EQ(http().request("GET", "/ui/app.js", "", {{"If-None-Match", css_tag}}).status, 200u);
}

TEST_F(UiRoutesTest, AnUnknownFileIs404AndOnlyGetIsServed) {
  auto r = http().get("/ui/missing.js");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.json()["error"]["code"], "not_found");
  EXPECT_EQ(http().get("/ui/static/app.js").status, 404u);
  auto post = http().post("/ui/app.js", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(post.header("allow"), "GET");
}

// The CSP has no 'unsafe-inline': markup that needs it would silently not run in a browser.
TEST_F(UiRoutesTest, TheMarkupHasNoInlineScriptStyleOrHandlerAndTheScriptsNoInnerHtml) {
  for (const ui::Asset& a : ui::assets()) {
    const std::string body(a.body);
    const std::string name(a.name);
    if (name.ends_with(".html")) {
      std::smatch m;
      std::regex script(R"(<script\b([^>]*)>)", std::regex::icase);
      for (auto it = std::sregex_iterator(body.begin(), body.end(), script);
           it != std::sregex_iterator(); ++it)
        EXPECT_NE((*it)[1].str().find("src="), std::string::npos) << name << ": inline script";
      EXPECT_FALSE(std::regex_search(body, std::regex(R"(\sstyle\s*=)", std::regex::icase)))
          << name;
      EXPECT_FALSE(std::regex_search(body, std::regex(R"(<style\b)", std::regex::icase))) << name;
      EXPECT_FALSE(std::regex_search(body, std::regex(R"(\son[a-z]+\s*=)", std::regex::icase)))
          << name << ": inline event handler";
    }
    if (name.ends_with(".js")) {
      // Data from the API becomes text nodes only (dom.js), never markup.
      EXPECT_EQ(body.find("innerHTML"), std::string::npos) << name;
      EXPECT_EQ(body.find("outerHTML"), std::string::npos) << name;
      EXPECT_EQ(body.find("insertAdjacentHTML"), std::string::npos) << name;
      EXPECT_EQ(body.find("eval("), std::string::npos) << name;
    }
  }
}

}  // namespace
}  // namespace sc::test
