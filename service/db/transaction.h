#ifndef IDEM_SERVICE_DB_TRANSACTION_H_
#define IDEM_SERVICE_DB_TRANSACTION_H_

#include <exception>
#include <memory>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/db/connection_pool.h"
#include "service/db/database_error.h"
#include "service/db/pg_session.h"

namespace idem::db {

// The statements of one unit of work on a pooled session. Only
// RunInTransaction and RunAutocommit make one, so that every statement runs
// inside the storage boundary, where libpqxx's exceptions become a status.
//
// libpqxx 6.4 commits without looking at PostgreSQL's answer to COMMIT,
// which is ROLLBACK, not an error, for a transaction that a failed
// statement has aborted. So a Transaction asks libpq, before committing,
// whether the transaction is still good, and commits only then: a failed
// statement that went unnoticed can never turn into an answer.
class Transaction {
 public:
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Runs `sql`, prepared on this session, with `params`: after a few runs,
  // on one generic plan for all values.
  pqxx::result Exec(const std::string& sql,
                    const std::vector<TextParam>& params);
  // Runs `sql` unprepared (PgSession::ExecUnprepared says how it is
  // planned).
  pqxx::result ExecUnprepared(const std::string& sql,
                              const std::vector<TextParam>& params);
  // Runs `sql`, which may hold several statements and no parameters.
  pqxx::result ExecScript(const std::string& sql);

  // Runs `body()`, which works in this transaction, inside a savepoint:
  // when `body` returns a non-OK status or a statement of it fails, only
  // what `body` did is undone and the transaction goes on. When a
  // savepoint statement itself fails, the database's state is no longer
  // known: the transaction is poisoned, every later savepoint fails at
  // once, and the transaction can only roll back (RunInTransaction answers
  // UNAVAILABLE). `body` returns absl::StatusOr<T> (or absl::Status).
  template <typename Body>
  auto InSavepoint(Body&& body) -> decltype(body());

  // Sets lock_timeout until the transaction ends (or the savepoint it is
  // set in is undone): how long a statement may wait for a row lock.
  void SetLockTimeout(absl::Duration timeout);

  // Whether the session reaches PostgreSQL through a connection pooler
  // (PgBouncer): libpq then knows a process id the pooler made up, not
  // that of the backend that answers.
  bool ThroughAPooler();

  // Not OK once a savepoint statement has failed: why.
  const absl::Status& poisoned() const { return poisoned_; }

 private:
  enum class Mode { kTransaction, kAutocommit };

  template <typename Body>
  friend auto RunIn(ConnectionPool& pool, Mode mode, Body&& body)
      -> decltype(body(std::declval<Transaction&>()));
  template <typename Body>
  friend auto RunInTransaction(ConnectionPool& pool, Body&& body);
  template <typename Body>
  friend auto RunAutocommit(ConnectionPool& pool, Body&& body);

  Transaction(PgSession& session, Mode mode);
  // Autocommit only where the session's timeouts hold outside a
  // transaction block: with per-transaction settings (SET LOCAL, for
  // PgBouncer) a lone statement would run unbounded.
  static bool InBlock(const PgSession& session, Mode mode);

  // Runs one statement of this unit of work. Outside a transaction block
  // the statement commits, and its commit is watched as Commit's is: an
  // unconfirmed standby or a connection lost once the statement was sent
  // throws pqxx::in_doubt_error (COMMIT_UNKNOWN).
  pqxx::result Statement(absl::FunctionRef<pqxx::result()> run);
  // One savepoint statement; a failure poisons the transaction.
  absl::Status SavepointStatement(absl::string_view sql);
  // COMMIT, or nothing in autocommit. Not OK when the transaction was not
  // committed; throws pqxx::in_doubt_error when the connection broke before
  // the answer to COMMIT came.
  absl::Status Commit();
  // Ends the transaction without committing; throws when the session
  // cannot be trusted afterwards (it is discarded).
  void Rollback();

  PgSession& session_;
  // One of the two, by mode; `statements_` is whichever it is.
  std::unique_ptr<pqxx::work> work_;
  std::unique_ptr<pqxx::nontransaction> autocommit_;
  pqxx::transaction_base& statements_;
  absl::Status poisoned_;
};

// Runs `body()`, which works in a transaction, with a libpqxx exception it
// throws mapped to a status here (MapDatabaseError) instead of at the
// boundary, for a caller that adds what it knows to a failure (the step of
// a transaction it came from). A failure after which the session cannot be
// used (a lost connection, a read-only server) still travels up as an
// exception, for RunIn to drop the session. After a failed statement the
// transaction can only roll back.
template <typename Body>
auto Capture(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& error) {
    if (SessionUnusableAfter(error)) throw;
    return MapDatabaseError(error);
  }
}

template <typename Body>
auto Transaction::InSavepoint(Body&& body) -> decltype(body()) {
  using Result = decltype(body());
  if (!poisoned_.ok()) return poisoned_;
  if (absl::Status begun = SavepointStatement("SAVEPOINT idem_call");
      !begun.ok()) {
    return begun;
  }
  Result result = Capture(body);
  absl::Status ended =
      SavepointStatement(result.ok() ? "RELEASE SAVEPOINT idem_call"
                                     : "ROLLBACK TO SAVEPOINT idem_call");
  if (!ended.ok()) return ended;
  return result;
}

// Runs `body(txn)` on a pooled session. This is the storage boundary:
// every libpqxx exception thrown below it is caught here and mapped once,
// by MapDatabaseError. `body` returns absl::StatusOr<T> (or absl::Status).
template <typename Body>
auto RunIn(ConnectionPool& pool, Transaction::Mode mode, Body&& body)
    -> decltype(body(std::declval<Transaction&>())) {
  using Result = decltype(body(std::declval<Transaction&>()));
  absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    Transaction txn(**lease, mode);
    Result result = Capture([&] { return body(txn); });
    if (!result.ok()) {
      txn.Rollback();
      return result;
    }
    if (absl::Status committed = txn.Commit(); !committed.ok()) {
      txn.Rollback();
      return committed;
    }
    return result;
  } catch (const std::exception& error) {
    // After a failed commit, a lost connection or a failed rollback the
    // session's state is unknown: never hand it out again.
    lease->Discard();
    return MapDatabaseError(error);
  }
}

// One READ COMMITTED transaction: commits when `body` returns OK, rolls
// back on any other status.
template <typename Body>
auto RunInTransaction(ConnectionPool& pool, Body&& body) {
  return RunIn(pool, Transaction::Mode::kTransaction, std::forward<Body>(body));
}

// Each statement commits on its own: one round trip instead of three, for
// a single read or a single-statement write. On a session whose timeouts
// are per transaction (PgBouncer mode) it runs in a transaction all the
// same (Transaction::InBlock). A connection lost while a statement runs is
// COMMIT_UNKNOWN here, for a read too (a read is safe to repeat).
template <typename Body>
auto RunAutocommit(ConnectionPool& pool, Body&& body) {
  return RunIn(pool, Transaction::Mode::kAutocommit, std::forward<Body>(body));
}

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_TRANSACTION_H_
