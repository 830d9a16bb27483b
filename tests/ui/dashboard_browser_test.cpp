// The dashboard tested in a real browser (issue 13): the built binary with authentication on, the
// embedded ledger and a fresh PostgreSQL database (E2eTest), accounts created and funded here, a
// token per role minted by the test issuer; then dashboard.mjs (Node, playwright-core driving
// Debian's headless Chromium) walks the pages: counts changing while trades settle, a failed
// settlement retried by an operator until it settles, an account holder refused another account.
// Screenshots of each page go to docs/ui/ (shown in the README).
//
// Needs node, tests/ui/node_modules (npm ci, run by scripts/setup) and /usr/bin/chromium
// (SC_CHROMIUM to use another): without them the test FAILS naming what is missing.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "e2e/e2e_fixture.h"
#include "support/test_tokens.h"

namespace sc::test {
namespace {

const TestIssuer& issuer() {
  static TestIssuer i("ui-1", "https://issuer.ui-test", makeTempDir("ui-auth"));
  return i;
}

class DashboardBrowserE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override { return issuer().serviceEnv(); }
  // Embedded ledger only: the pages are the same over a Canton participant.
  bool useSandbox() const override { return false; }

  void call(const std::string& method, const std::string& path, const Json& body,
            const std::map<std::string, std::string>& auth, unsigned expect) {
    auto headers = auth;
    headers["Content-Type"] = "application/json";
    auto r = http().request(method, path, body.dump(), headers);
    ASSERT_EQ(r.status, expect) << method << " " << path << ": " << r.body;
  }
};

TEST_F(DashboardBrowserE2e, OverviewFailedRetryAndAccountScopeInHeadlessChromium) {
  const std::filesystem::path dir = SC_UI_TEST_DIR;
  ASSERT_TRUE(std::filesystem::exists(dir / "node_modules" / "playwright-core" / "package.json"))
      << "tests/ui/node_modules is missing: run scripts/setup (it runs npm ci in tests/ui)";
  const char* chromium_env = std::getenv("SC_CHROMIUM");
  const std::string chromium = chromium_env && *chromium_env ? chromium_env : "/usr/bin/chromium";
  ASSERT_TRUE(std::filesystem::exists(chromium))
      << chromium << " is missing: run scripts/setup (it installs Debian's chromium)";

  const auto op = issuer().bearer("ops-ui", {"operator", "auditor"});
  for (const char* id : {"acc_buyer", "acc_seller", "acc_poor", "acc_holder"})
    call("POST", "/accounts", Json{{"account_id", id}}, op, 201u);
  call("POST", "/ledger/holdings",
       Json{{"account_id", "acc_seller"},
            {"asset", "AAPL"},
            {"amount", "100000"},
            {"synchronizer", "securities"}},
       op, 201u);
  for (const char* buyer : {"acc_buyer", "acc_holder"})
    call("POST", "/ledger/holdings",
         Json{{"account_id", buyer},
              {"asset", "USDC"},
              {"amount", "10000000"},
              {"synchronizer", "cash"}},
         op, 201u);
  // One settled trade of the account holder's own, one of another account it must not see.
  const auto submitter = issuer().bearer("desk-ui", {"submitter"});
  call("POST", "/trades", validTrade("trd_ui_holder", "acc_holder", "acc_seller"), submitter, 201u);
  call("POST", "/trades", validTrade("trd_ui_other", "acc_buyer", "acc_seller"), submitter, 201u);

  const std::string failure_shot = makeTempDir("ui-failure") + "/page.png";
  std::map<std::string, std::string> env{
      {"SC_URL", "http://127.0.0.1:" + std::to_string(port())},
      {"SC_TOKEN_OPERATOR", issuer().token("ops-ui", {"operator", "auditor"})},
      {"SC_TOKEN_SUBMITTER", issuer().token("desk-ui", {"submitter"})},
      {"SC_TOKEN_HOLDER", issuer().token("holder-ui", {"account_holder"}, {"acc_holder"})},
      {"SC_HOLDER_ACCOUNT", "acc_holder"},
      {"SC_OTHER_ACCOUNT", "acc_buyer"},
      {"SC_SCREENSHOT_DIR", SC_SCREENSHOT_DIR},
      {"SC_CHROMIUM", chromium},
      {"SC_FAILURE_SCREENSHOT", failure_shot}};
  // Every value is a URL, a path or a JWT (base64url and dots): safe inside single quotes.
  std::string cmd = "cd '" + dir.string() + "' && env";
  for (const auto& [k, v] : env) cmd += " " + k + "='" + v + "'";
  cmd += " node dashboard.mjs 2>&1";
  FILE* out = popen(cmd.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string output;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), out)) output.append(buf.data(), n);
  const int status = pclose(out);
  std::cerr << output;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the browser test failed (exit status " << status << "):\n"
      << output;
  EXPECT_NE(output.find(" passed, 0 failed"), std::string::npos) << output;
  for (const char* png :
       {"overview.png", "stuck-and-failed.png", "settlement-failed.png", "settlement-settled.png",
        "rejections.png", "reconciliation.png", "ledger.png", "account-holder-refused.png",
        "account-holder-overview.png"})
    EXPECT_GT(std::filesystem::file_size(std::filesystem::path(SC_SCREENSHOT_DIR) / png), 1000u)
        << png;
}

}  // namespace
}  // namespace sc::test
