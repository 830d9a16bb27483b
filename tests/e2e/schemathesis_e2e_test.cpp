// The API checked from outside against the OpenAPI document it publishes (issue 11): schemathesis
// (scripts/schemathesis, PyPI, pinned) generates requests for every operation of GET /openapi.json
// and checks every response — no 5xx, status codes and content types the document declares,
// bodies that match their schemas. The service runs with authentication on, as in production,
// and schemathesis sends a token with the roles that reach every operation.
//
// Needs SC_SCHEMATHESIS_SCRIPT (./scripts/test exports it after installing schemathesis); the
// number of examples per operation and phase is SCHEMATHESIS_MAX_EXAMPLES (100 here unless set).
// The number of cases run is recorded as the test property "schemathesis_cases".
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <regex>

#include "e2e/e2e_fixture.h"
#include "support/test_tokens.h"

namespace sc::test {
namespace {

const TestIssuer& issuer() {
  static TestIssuer i("schemathesis-1", "https://issuer.schemathesis",
                      makeTempDir("schemathesis-auth"));
  return i;
}

class SchemathesisE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override { return issuer().serviceEnv(); }
};

TEST_F(SchemathesisE2e, NoServerErrorAndNoResponseOutsideTheDocument) {
  const char* script = std::getenv("SC_SCHEMATHESIS_SCRIPT");
  ASSERT_TRUE(script && *script)
      << "SC_SCHEMATHESIS_SCRIPT is not set: run through ./scripts/test (it installs schemathesis "
         "and exports the path of scripts/schemathesis)";
  std::string token = issuer().token("schemathesis", {"operator", "auditor", "submitter"});
  std::string report = makeTempDir("schemathesis-report");
  const char* examples = std::getenv("SCHEMATHESIS_MAX_EXAMPLES");
  std::string cmd = "SCHEMATHESIS_REPORT_DIR='" + report + "' SCHEMATHESIS_MAX_EXAMPLES=" +
                    std::string(examples && *examples ? examples : "100") + " '" + script +
                    "' http://127.0.0.1:" + std::to_string(service().port()) + " '" + token +
                    "' 2>&1";
  FILE* out = popen(cmd.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string output;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), out)) output.append(buf.data(), n);
  int status = pclose(out);
  std::smatch m;
  if (std::regex_search(output, m, std::regex(R"(schemathesis \S+: (\d+) test cases)"))) {
    RecordProperty("schemathesis_cases", m[1].str());
    std::cerr << m[0].str() << "\n";
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "schemathesis found failures (report in " << report << "):\n"
      << output.substr(output.size() > 20000 ? output.size() - 20000 : 0);
  EXPECT_FALSE(m.empty()) << "no case count in the output:\n" << output;
}

}  // namespace
}  // namespace sc::test
