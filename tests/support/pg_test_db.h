#pragma once
// A fresh, uniquely named PostgreSQL database per test, on the server named by DB_HOST, DB_PORT,
// DB_USER (and DB_PASSWORD if set), as ./scripts/test exports them. Dropped at teardown.
// Header-only; link PostgreSQL::PostgreSQL. Without DB_HOST the test fails with a message saying
// how to start one — tests labelled `pg` never skip silently.
//
//   class MyTest : public ::testing::Test {
//     void SetUp() override { ASSERT_TRUE(db_.create()) << db_.error(); }
//     sc::test::PgTestDb db_;
//   };   // db_.conninfo() names the new database
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

namespace sc::test {

class PgTestDb {
 public:
  PgTestDb() = default;
  PgTestDb(const PgTestDb&) = delete;
  PgTestDb& operator=(const PgTestDb&) = delete;
  ~PgTestDb() { drop(); }

  // Creates the database; false (with error()) when the server is not configured or reachable.
  bool create() {
    const char* host = std::getenv("DB_HOST");
    if (!host || !*host) {
      error_ =
          "DB_HOST is not set: this test needs PostgreSQL. Run it through ./scripts/test, or "
          "export the output of `./scripts/pg start` (DB_HOST, DB_PORT, DB_USER).";
      return false;
    }
    server_ = "host=" + quote(host);
    if (const char* port = std::getenv("DB_PORT"); port && *port) server_ += " port=" + quote(port);
    if (const char* user = std::getenv("DB_USER"); user && *user) server_ += " user=" + quote(user);
    if (const char* pw = std::getenv("DB_PASSWORD"); pw && *pw) server_ += " password=" + quote(pw);
    static std::atomic<int> counter{0};
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    name_ = "sc_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(now % 1000000007);
    if (!admin("CREATE DATABASE " + name_)) {
      name_.clear();
      return false;
    }
    return true;
  }

  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  std::string conninfo() const { return server_ + " dbname=" + name_; }

  void drop() {
    if (name_.empty()) return;
    admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    name_.clear();
  }

 private:
  static std::string quote(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out + "'";
  }

  bool admin(const std::string& sql) {
    PGconn* c = PQconnectdb((server_ + " dbname=postgres").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      error_ = "cannot connect to the test PostgreSQL (" + server_ + "): " + PQerrorMessage(c);
      PQfinish(c);
      return false;
    }
    PGresult* r = PQexec(c, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) error_ = sql + ": " + PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    return ok;
  }

  std::string server_, name_, error_;
};

}  // namespace sc::test
