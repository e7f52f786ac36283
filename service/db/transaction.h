#ifndef IDEM_SERVICE_DB_TRANSACTION_H_
#define IDEM_SERVICE_DB_TRANSACTION_H_

#include <exception>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "service/db/connection_pool.h"
#include "service/db/database_error.h"

namespace idem::db {

// Runs `body(session, txn)` on a pooled session in a `Txn`: pqxx::work for
// one READ COMMITTED transaction that commits when `body` returns OK (any
// other status rolls back), or pqxx::nontransaction for a single statement
// in autocommit (one round trip instead of three, for reads). This is the
// storage boundary: every libpqxx exception thrown below it is caught here
// and mapped once, by MapDatabaseError.
//
// `body` returns absl::StatusOr<T> (or absl::Status).
template <typename Txn, typename Body>
auto RunIn(ConnectionPool& pool, Body&& body)
    -> decltype(body(std::declval<PgSession&>(), std::declval<Txn&>())) {
  absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    Txn txn((*lease)->connection());
    auto result = body(**lease, txn);
    if (result.ok()) (*lease)->Commit(txn);
    return result;
  } catch (const std::exception& error) {
    // After a failed commit, a lost connection or a write refused by a
    // standby, never hand the session out again.
    if (SessionUnusableAfter(error)) lease->Discard();
    return MapDatabaseError(error);
  }
}

template <typename Body>
auto RunInTransaction(ConnectionPool& pool, Body&& body) {
  return RunIn<pqxx::work>(pool, std::forward<Body>(body));
}

// Runs `body()`, which works in `txn`, inside a savepoint: when `body`
// returns a non-OK status or a statement fails, only what `body` did is
// rolled back and `txn` goes on. Exceptions are mapped here, as in RunIn; a
// connection lost meanwhile also fails the enclosing commit. (Plain
// SAVEPOINT statements: libpqxx 6.4's subtransaction sends none before a
// prepared statement.)
template <typename Body>
auto RunInSavepoint(pqxx::transaction_base& txn, Body&& body)
    -> decltype(body()) {
  using Result = decltype(body());
  try {
    txn.exec0("SAVEPOINT idem_call");
  } catch (const std::exception& error) {
    return MapDatabaseError(error);
  }
  Result result = [&]() -> Result {
    try {
      return body();
    } catch (const std::exception& error) {
      return MapDatabaseError(error);
    }
  }();
  try {
    txn.exec0(result.ok() ? "RELEASE SAVEPOINT idem_call"
                          : "ROLLBACK TO SAVEPOINT idem_call");
  } catch (const std::exception& error) {
    return MapDatabaseError(error);
  }
  return result;
}

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_TRANSACTION_H_
