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
    if (result.ok()) txn.commit();
    return result;
  } catch (const std::exception& error) {
    // After a failed commit or a lost connection the session's state is
    // unknown: never hand it out again.
    if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
        dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
      lease->Discard();
    }
    return MapDatabaseError(error);
  }
}

template <typename Body>
auto RunInTransaction(ConnectionPool& pool, Body&& body) {
  return RunIn<pqxx::work>(pool, std::forward<Body>(body));
}

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_TRANSACTION_H_
