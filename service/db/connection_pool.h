#ifndef IDEM_SERVICE_DB_CONNECTION_POOL_H_
#define IDEM_SERVICE_DB_CONNECTION_POOL_H_

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/db/database_clock.h"
#include "service/db/pg_session.h"

namespace idem::db {

struct PoolOptions {
  std::string url;  // libpq connection string or URI; empty: PG* variables
  int size = 8;
  // How long Acquire waits for a free connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(5);
  // Session settings: a statement never runs unbounded, and a lock wait
  // (for example behind an in-flight idempotency key) ends in time for the
  // caller to be told to come back.
  absl::Duration statement_timeout = absl::Seconds(30);
  absl::Duration lock_timeout = absl::Seconds(5);
  // The database's side of the connection timeouts (the client's side is in
  // `url`, db::ServerConnectionString): PostgreSQL gives up a session whose
  // server went silent, or that sits idle inside a transaction, after this,
  // so that its row locks and key claims do not outlive a lost connection.
  // Zero: PostgreSQL's defaults.
  absl::Duration tcp_timeout = absl::ZeroDuration();
  std::string application_name = "idem-server";
  // kUnnamed for PgBouncer in transaction mode (see StatementMode): the
  // timeouts are then set in every transaction instead of once per session.
  StatementMode statements = StatementMode::kPrepared;
};

// A bounded set of PostgreSQL sessions. Connections open lazily up to
// `size`; a broken one is dropped when returned and replaced on demand.
class ConnectionPool {
 public:
  explicit ConnectionPool(PoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Exclusive use of one session until destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgSession& operator*() const { return *session_; }
    PgSession* operator->() const { return session_.get(); }
    // Closes the session instead of returning it: for a session whose state
    // is unknown after an error.
    void Discard() { discard_ = true; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<PgSession> session)
        : pool_(pool), session_(std::move(session)) {}
    ConnectionPool* pool_;
    std::unique_ptr<PgSession> session_;
    bool discard_ = false;
  };

  // Waits up to options.acquire_timeout; UNAVAILABLE when the pool stays
  // exhausted, the database cannot be reached or the pool is closed.
  absl::StatusOr<Lease> Acquire();

  // Refuses further Acquire calls and closes idle sessions.
  void Close();
  // Cancels the statement each leased session runs: at shutdown, once the
  // grace is over and gRPC answers every call still running UNAVAILABLE,
  // so that what those calls were doing rolls back instead of committing
  // later behind their callers' backs. (A COMMIT already sent may still
  // land: that one is in doubt, as a lost connection's is.)
  void CancelRunningStatements();
  // Ends the connection of every leased session that has waited for the
  // database longer than `limit` (PgSession::EndIfWaitingLongerThan): what
  // waited fails as on a lost connection. The pool itself does so past
  // statement_timeout + tcp_timeout (10 s without one); the health monitor
  // sooner, when the database stopped answering its probe.
  void EndWaitsLongerThan(absl::Duration limit);

  int in_use() const;
  int waiting() const;
  int size() const { return options_.size; }
  absl::Duration lock_timeout() const { return options_.lock_timeout; }
  // The database's clock as this replica estimates it (measured by the
  // health monitor's probes).
  DatabaseClock& clock() { return clock_; }

 private:
  void Release(std::unique_ptr<PgSession> session, bool discard);
  Lease Leased(std::unique_ptr<PgSession> session);
  absl::StatusOr<std::unique_ptr<PgSession>> Connect() const;

  const PoolOptions options_;
  DatabaseClock clock_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<PgSession>> idle_ ABSL_GUARDED_BY(mu_);
  std::set<PgSession*> leased_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + being opened
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Ends waits past statement_timeout + tcp_timeout, every second.
  absl::Notification stop_watching_;
  std::thread watchdog_;
};

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_CONNECTION_POOL_H_
