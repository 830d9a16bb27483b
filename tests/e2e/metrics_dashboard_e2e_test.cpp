// deploy/grafana/settlement-coordinator.json against the built binary: every metric its queries
// name is served by GET /metrics of a service with every component running (PostgreSQL, Kafka
// consumer and relay, embedded ledger, HTTP). A renamed or removed metric fails here, not on an
// operator's empty panel.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/kafka_e2e_fixture.h"

namespace sc::test {
namespace {

Json loadDashboard() {
  std::ifstream in(SC_GRAFANA_DASHBOARD);
  if (!in) throw std::runtime_error("cannot read " + std::string(SC_GRAFANA_DASHBOARD));
  return Json::parse(in);
}

// Every panel query (`expr`, at any depth: rows hold panels too).
void collectExprs(const Json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "expr" && v.is_string())
        out.push_back(v.get<std::string>());
      else
        collectExprs(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collectExprs(v, out);
  }
}

// The metric names a PromQL expression selects: what is left once string literals, label
// matchers, ranges and grouping clauses are gone, minus function names (followed by "("),
// keywords and numbers.
std::set<std::string> metricNames(std::string e) {
  static const std::regex strings(R"re("(?:[^"\\]|\\.)*")re");
  static const std::regex matchers(R"(\{[^}]*\})");
  static const std::regex ranges(R"(\[[^\]]*\])");
  static const std::regex grouping(
      R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))");
  static const std::regex ident(R"(([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?)");
  static const std::set<std::string> keywords = {
      "by",     "without", "on",         "ignoring",    "bool", "and", "or",
      "unless", "offset",  "group_left", "group_right", "inf",  "nan"};
  for (const auto* re : {&strings, &matchers, &ranges, &grouping})
    e = std::regex_replace(e, *re, " ");
  std::set<std::string> names;
  for (std::sregex_iterator it(e.begin(), e.end(), ident), end; it != end; ++it) {
    const auto& m = *it;
    const std::string name = m[1];
    const bool after_dollar = m.position(0) > 0 && e[m.position(0) - 1] == '$';
    if (m[2].matched || after_dollar || keywords.count(name)) continue;
    names.insert(name);
  }
  return names;
}

// "# TYPE <name> <type>" of an exposition.
std::map<std::string, std::string> servedFamilies(const std::string& text) {
  std::map<std::string, std::string> families;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream l(line.substr(7));
    std::string name, type;
    l >> name >> type;
    families[name] = type;
  }
  return families;
}

// A served series name: a family, or a histogram's _bucket/_sum/_count.
bool served(const std::map<std::string, std::string>& families, const std::string& name) {
  if (families.count(name)) return true;
  for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    auto it = families.find(name.substr(0, name.size() - suffix.size()));
    if (it != families.end() && it->second == "histogram") return true;
  }
  return false;
}

TEST(MetricsDashboard, NamesMetricsThroughAPrometheusDataSourceVariable) {
  const Json d = loadDashboard();
  bool datasource_variable = false;
  for (const auto& v : d.at("templating").at("list"))
    datasource_variable |=
        v.value("type", "") == "datasource" && v.value("query", "") == "prometheus";
  EXPECT_TRUE(datasource_variable) << "no Prometheus data source template variable";
  int queries = 0;
  for (const auto& p : d.at("panels")) {
    if (p.value("type", "") == "row") continue;
    EXPECT_EQ(p.at("datasource").value("uid", ""), "${datasource}") << p.value("title", "");
    EXPECT_FALSE(p.at("targets").empty()) << p.value("title", "");
    queries += static_cast<int>(p.at("targets").size());
  }
  EXPECT_GE(queries, 10);
  // The extraction itself: functions, labels, variables and keywords are not metrics.
  EXPECT_EQ(metricNames("histogram_quantile(0.99, sum by (le, command) (rate(sc_x_bucket{instance=~"
                        "\"$instance\"}[$__rate_interval]))) / sum(sc_y) or vector(0)"),
            (std::set<std::string>{"sc_x_bucket", "sc_y"}));
}

class MetricsDashboardE2E : public KafkaE2E {};

TEST_F(MetricsDashboardE2E, EveryMetricTheDashboardNamesIsServed) {
  std::vector<std::string> exprs;
  collectExprs(loadDashboard(), exprs);
  std::set<std::string> names;
  for (const auto& e : exprs) names.merge(metricNames(e));
  // The instance variable's query names a metric too.
  static const std::regex label_values(R"(label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*))");
  for (const auto& v : loadDashboard().at("templating").at("list")) {
    const std::string def = v.value("definition", "");
    std::smatch m;
    if (std::regex_search(def, m, label_values)) names.insert(m[1]);
  }
  ASSERT_GE(names.size(), 20u) << "the dashboard's queries were not read";

  auto r = http_->get("/metrics");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto families = servedFamilies(r.body);
  for (const auto& name : names)
    EXPECT_TRUE(served(families, name))
        << "the dashboard names " << name << ", which GET /metrics does not serve";
  // The histograms the dashboard is built around are there with their labelled series.
  for (const char* series :
       {"sc_ledger_step_seconds_count{command=\"settle\"}",
        "sc_db_call_seconds_count{operation=\"write\"}", "sc_batch_size_count{kind=\"intake\"}",
        "sc_batch_size_count{kind=\"workflow\"}", "sc_batch_size_count{kind=\"relay\"}",
        "sc_confirmation_latency_seconds_count"})
    EXPECT_NE(r.body.find(series), std::string::npos) << series << "\n" << r.body;
}

}  // namespace
}  // namespace sc::test
