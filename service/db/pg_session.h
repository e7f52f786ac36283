#ifndef IDEM_SERVICE_DB_PG_SESSION_H_
#define IDEM_SERVICE_DB_PG_SESSION_H_

#include <atomic>
#include <list>
#include <memory>
#include <optional>
#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace idem::db {

// A parameter in PostgreSQL's text format; nullopt is SQL NULL.
using TextParam = std::optional<std::string>;

// How statements travel. kPrepared: each SQL text is prepared once per
// connection, on first use, and named by a counter so that any SQL text
// (built from catalog names) maps to one server-side plan. kUnnamed: every
// statement is sent unnamed (parse, bind and execute in one round trip) and
// planned for its values, and session settings are made per transaction:
// for PgBouncer in transaction mode, which hands each transaction to any of
// its server connections, where a named statement or a SET of another
// session's may or may not exist.
enum class StatementMode { kPrepared, kUnnamed };

// One PostgreSQL connection and the statements prepared on it.
class PgSession {
 public:
  // Throws pqxx::broken_connection when the database cannot be reached; the
  // pool turns that into a status.
  explicit PgSession(const std::string& url,
                     StatementMode mode = StatementMode::kPrepared);
  ~PgSession();

  pqxx::connection& connection() { return connection_; }

  // Settings that must hold inside every transaction block (`SET LOCAL`
  // statements, kUnnamed only); BeginTransaction sends them.
  void set_transaction_settings(std::string sql) {
    transaction_settings_ = std::move(sql);
  }
  // Whether a statement needs a transaction block for those settings to
  // hold: then even a single autocommit statement gets one.
  bool needs_transaction_block() const {
    return !transaction_settings_.empty();
  }
  // Called first in every transaction; a no-op outside a transaction block
  // or without transaction settings.
  void BeginTransaction(pqxx::transaction_base& txn);

  // The name of `sql` prepared on this connection.
  const std::string& Prepared(const std::string& sql);

  // Runs `sql`, prepared on this connection, with `params` in `txn`: after
  // a few runs, on one generic plan for all values. kUnnamed: as
  // ExecUnprepared.
  pqxx::result Exec(pqxx::transaction_base& txn, const std::string& sql,
                    const std::vector<TextParam>& params);

  // Runs `sql` unprepared (an unnamed statement, nothing kept on the
  // session), for statements run off the hot path. PostgreSQL plans it for
  // its values unless the session forces generic plans, as the pool's
  // kPrepared sessions do (connection_pool.cc).
  pqxx::result ExecUnprepared(pqxx::transaction_base& txn,
                              const std::string& sql,
                              const std::vector<TextParam>& params);

  // Commits `txn`; pqxx::broken_connection when the connection was lost
  // before (nothing committed). A commit whose wait for the synchronous
  // standby was
  // cancelled (pg_cancel_backend) stands on this server alone, and a standby
  // promoted now would not have it: that throws pqxx::in_doubt_error, as a
  // connection lost during COMMIT does, so that the caller learns that the
  // outcome is unknown.
  void Commit(pqxx::transaction_base& txn);

  // Runs `statement`, which commits by itself (outside a transaction
  // block), and throws pqxx::in_doubt_error as Commit does when the
  // synchronous standby did not confirm it.
  void RunCommitting(absl::FunctionRef<void()> statement);

  bool is_open() const { return connection_.is_open(); }
  // Whether an idle session may be lent out: open, and not ended by the
  // server meanwhile (a restart, a failover, pg_terminate_backend). libpq
  // learns of that end only when it next reads, so a statement sent on such
  // a session fails as a lost connection, and a commit as one in doubt,
  // though the server never saw it; the socket tells at once.
  bool StillOpenWhileIdle() const;
  // Asks the server to cancel the statement this session runs, if any
  // (libpq's cancel request, which PgBouncer forwards); from any thread.
  void CancelStatement() noexcept;

  // Marks the session as waiting for the database while it lives (a
  // statement, a COMMIT, a ROLLBACK on their way): what
  // EndIfWaitingLongerThan measures.
  class Waiting {
   public:
    explicit Waiting(PgSession& session);
    ~Waiting();
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;

   private:
    PgSession& session_;
    bool outermost_;
  };
  // Ends the connection when the session has waited for the database
  // longer than `limit` by `now`: shuts its socket down, so that what
  // waits fails at once on this side, as on a lost connection. A database
  // whose processes or disk stalled keeps its connections and its kernel
  // acknowledges, so neither PostgreSQL's timeouts nor TCP's ever end that
  // wait. From any thread.
  void EndIfWaitingLongerThan(absl::Duration limit, absl::Time now);

 private:
  class StandbyWaitWatch;

  pqxx::connection connection_;
  const StatementMode mode_;
  std::string transaction_settings_;
  std::unique_ptr<StandbyWaitWatch> standby_wait_;  // after connection_
  // Since when the session waits for the database (Unix nanoseconds; 0:
  // it does not).
  std::atomic<int64_t> waiting_since_{0};
  // A duplicate of the connection's socket, for EndIfWaitingLongerThan: it
  // stays this connection's even after libpq closed its own descriptor,
  // whose number another connection may then get.
  int watch_socket_ = -1;
  // Statements prepared on this connection, the most recently used first,
  // at most kMaxPrepared: Insert statements differ by the columns callers
  // send, so their number has no bound of its own. The least recently used
  // is deallocated to make room.
  static constexpr size_t kMaxPrepared = 256;
  struct Statement {
    std::string sql;
    std::string name;
  };
  std::list<Statement> recent_;
  std::unordered_map<std::string, std::list<Statement>::iterator> prepared_;
  int64_t next_name_ = 0;
};

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_PG_SESSION_H_
