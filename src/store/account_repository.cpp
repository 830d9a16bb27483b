#include "store/codec.h"
#include "store/errors.h"
#include "store/pg_repositories.h"
#include "store/store_metrics.h"

namespace sc::store {
namespace {

Result<Account> decodeAccount(const pg::Rows& r, int i) {
  Account a;
  a.account_id = std::string(r.text(i, 0));
  a.canton_party = std::string(r.text(i, 1));
  a.status = r.text(i, 2) == "active" ? AccountStatus::kActive : AccountStatus::kInactive;
  auto t = codec::parseTimestamp(r.text(i, 3));
  if (!t)
    return Error::permanent(std::string(store::kCorruptRow),
                            "cannot read accounts.created_at of " + a.account_id);
  a.created_at = *t;
  return a;
}

template <class T>
Result<T> counted(Result<T> r) {
  if (!r.ok()) metrics().errors.inc();
  return r;
}

}  // namespace

Result<Account> PgAccountRepository::create(const Account& a) {
  return counted([&]() -> Result<Account> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    // created_at: the given one, or the database's clock when the caller left it at the epoch.
    pg::Param created =
        a.created_at == Timestamp{} ? pg::Param{} : pg::Param{codec::timestamp(a.created_at)};
    auto rows = (*lease)->exec(
        "INSERT INTO accounts (account_id, canton_party, status, created_at)"
        " VALUES ($1, $2, $3::account_status, COALESCE($4::timestamptz, now()))"
        " ON CONFLICT DO NOTHING"
        " RETURNING account_id, canton_party, status, created_at",
        {a.account_id, a.canton_party, std::string(toString(a.status)), created});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) {
      // Either key: the account id, or the canton_party another account holds (0005).
      auto same_id = (*lease)->exec("SELECT 1 FROM accounts WHERE account_id = $1", {a.account_id});
      if (!same_id.ok()) return same_id.error();
      if (same_id->size() == 0)
        return Error::permanent(std::string(store::kPartyTaken),
                                "canton_party " + a.canton_party + " belongs to another account",
                                "canton_party");
      return Error::permanent(std::string(store::kAccountExists),
                              "account " + a.account_id + " already exists", "account_id");
    }
    return decodeAccount(*rows, 0);
  }());
}

Result<std::optional<Account>> PgAccountRepository::find(const std::string& account_id) {
  metrics::ScopedTimer timed(metrics().db_accounts);
  return counted([&]() -> Result<std::optional<Account>> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(
        "SELECT account_id, canton_party, status, created_at FROM accounts WHERE account_id = $1",
        {account_id});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<Account>{};
    auto a = decodeAccount(*rows, 0);
    if (!a.ok()) return a.error();
    return std::optional<Account>(std::move(a).value());
  }());
}

Result<std::vector<Account>> PgAccountRepository::findMany(std::span<const std::string> ids) {
  if (ids.empty()) return std::vector<Account>{};
  metrics::ScopedTimer timed(metrics().db_accounts);
  return counted([&]() -> Result<std::vector<Account>> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(
        "SELECT account_id, canton_party, status, created_at FROM accounts"
        " WHERE account_id = ANY($1::text[])",
        {pg::arrayLiteral(ids)});
    if (!rows.ok()) return rows.error();
    std::vector<Account> out;
    for (int i = 0; i < rows->size(); ++i) {
      auto a = decodeAccount(*rows, i);
      if (!a.ok()) return a.error();
      out.push_back(std::move(a).value());
    }
    return out;
  }());
}

Result<void> PgAccountRepository::setStatus(const std::string& account_id, AccountStatus s) {
  auto lease = pool_.lease();
  if (!lease.ok()) return counted<int>(lease.error()).error();
  auto rows =
      (*lease)->exec("UPDATE accounts SET status = $2::account_status WHERE account_id = $1",
                     {account_id, std::string(toString(s))});
  if (!rows.ok()) {
    metrics().errors.inc();
    return rows.error();
  }
  if (rows->affected() == 0) {
    metrics().errors.inc();
    return Error::permanent(std::string(store::kUnknownAccount),
                            "account " + account_id + " does not exist", "account_id");
  }
  return {};
}

}  // namespace sc::store
