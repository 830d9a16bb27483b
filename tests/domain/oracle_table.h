#pragma once
// Reads the oracle tables written by tests/domain/data/make_oracle_tables.py (Python's exact
// decimal and fraction arithmetic): one case per line, tab-separated fields.
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sc::test {

struct OracleCase {
  int line = 0;
  std::vector<std::string> fields;  // operation, inputs..., expected
};

inline std::vector<OracleCase> readOracleTable(const std::string& name) {
  const std::string path = std::string(SC_ORACLE_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open oracle table " + path);
  std::vector<OracleCase> cases;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    OracleCase c{line, {}};
    size_t start = 0;
    for (size_t tab; (tab = text.find('\t', start)) != std::string::npos; start = tab + 1)
      c.fields.push_back(text.substr(start, tab - start));
    c.fields.push_back(text.substr(start));
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace sc::test
