#include "service/db/connection_pool.h"

#include <pqxx/nontransaction>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"
#include "service/db/connection_string.h"
#include "service/db/database_error.h"

namespace idem::db {

namespace {

// statement_timeout and lock_timeout: for the session, or with `is_local`
// (SET LOCAL) for the transaction that runs the statement.
std::string TimeoutSettings(const PoolOptions& options, bool is_local) {
  const char* scope = is_local ? "true" : "false";
  return absl::StrCat("SELECT set_config('statement_timeout', '",
                      absl::ToInt64Milliseconds(options.statement_timeout),
                      "', ", scope, "), set_config('lock_timeout', '",
                      absl::ToInt64Milliseconds(options.lock_timeout), "', ",
                      scope, ")");
}

}  // namespace

ConnectionPool::ConnectionPool(PoolOptions options)
    : options_(std::move(options)), watchdog_([this] {
        // Past this, PostgreSQL's own statement_timeout would have ended
        // a statement of a database that still runs, and the kernel's
        // tcp_timeout one whose packets went unanswered: a wait that
        // lasts longer is on a database that keeps its connections but
        // answers nothing.
        const absl::Duration limit =
            options_.statement_timeout +
            (options_.tcp_timeout > absl::ZeroDuration() ? options_.tcp_timeout
                                                         : absl::Seconds(10));
        while (
            !stop_watching_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
          EndWaitsLongerThan(limit);
        }
      }) {}

ConnectionPool::~ConnectionPool() {
  stop_watching_.Notify();
  watchdog_.join();
}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      session_(std::move(other.session_)),
      discard_(other.discard_) {}

ConnectionPool::Lease::~Lease() {
  if (session_ != nullptr) pool_->Release(std::move(session_), discard_);
}

namespace {

// Through a pooler or a proxy the database sees a healthy connection to the
// proxy, so its keepalives cannot tell that the server behind it is gone;
// an idle transaction can: the server never leaves one idle on purpose.
std::string DatabaseSideTimeouts(absl::Duration timeout) {
  if (timeout == absl::ZeroDuration()) return "SELECT 1";
  const TcpTimeouts t = TcpTimeoutsFor(timeout);
  return absl::StrCat(
      "SET tcp_keepalives_idle = ", t.keepalives_idle_s,
      "; SET tcp_keepalives_interval = ", t.keepalives_interval_s,
      "; SET tcp_keepalives_count = ", t.keepalives_count,
      "; SET tcp_user_timeout = ", t.user_timeout_ms,
      "; SET idle_in_transaction_session_timeout = ", t.user_timeout_ms);
}

// The same, for one transaction of a pooled server connection.
std::string IdleTransactionTimeout(absl::Duration timeout) {
  if (timeout == absl::ZeroDuration()) return "";
  return absl::StrCat(", set_config('idle_in_transaction_session_timeout', '",
                      TcpTimeoutsFor(timeout).user_timeout_ms, "', true)");
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgSession>> ConnectionPool::Connect() const {
  try {
    auto session =
        std::make_unique<PgSession>(options_.url, options_.statements);
    pqxx::nontransaction setup(session->connection());
    // PgBouncer keeps application_name for its client, whichever server
    // connection it lends.
    setup.exec_params("SELECT set_config('application_name', $1, false)",
                      options_.application_name);
    if (options_.statements == StatementMode::kUnnamed) {
      // A pooled server connection is not the session's own: settings
      // travel with each transaction, and only the idle-transaction
      // timeout of the database side serves (its TCP sees the pooler).
      session->set_transaction_settings(
          absl::StrCat(TimeoutSettings(options_, true),
                       IdleTransactionTimeout(options_.tcp_timeout)));
      return session;
    }
    setup.exec(TimeoutSettings(options_, false));
    setup.exec(DatabaseSideTimeouts(options_.tcp_timeout));
    // Prepared statements run on generic plans from their first run
    // (planning was a third of the database's time, and left to itself
    // PostgreSQL kept planning the array statements per run). Every
    // statement the server prepares reads its tables by key, and a generic
    // plan made while a table was small would keep scanning it whole once it
    // has grown: so no plan may scan a table where an index can serve.
    // The setting reaches unnamed statements too (PostgreSQL keeps their
    // plan source like a prepared one's), so PgSession::ExecUnprepared
    // gets a generic plan on such a session as well: the statements it runs
    // are written to probe by index whatever the set's size. kUnnamed
    // sessions (PgBouncer) never get here and plan for their values.
    setup.exec(
        "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan");
    return session;
  } catch (const std::exception& error) {
    return MapDatabaseError(error);
  }
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_ptr<PgSession> session;
  {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return closed_ || !idle_.empty() || open_ < options_.size;
    };
    bool got =
        mu_.AwaitWithTimeout(absl::Condition(&ready), options_.acquire_timeout);
    --waiting_;
    if (closed_) {
      return Error(Reason::kShuttingDown, "server is shutting down");
    }
    if (!got) {
      return PoolExhausted();
    }
    if (!idle_.empty()) {
      session = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve the slot while connecting outside the lock
    }
  }
  if (session != nullptr && session->StillOpenWhileIdle()) {
    return Leased(std::move(session));
  }
  session.reset();  // a dead idle session keeps its slot for a new one
  absl::StatusOr<std::unique_ptr<PgSession>> fresh = Connect();
  if (!fresh.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return fresh.status();
  }
  return Leased(*std::move(fresh));
}

ConnectionPool::Lease ConnectionPool::Leased(
    std::unique_ptr<PgSession> session) {
  absl::MutexLock lock(&mu_);
  leased_.insert(session.get());
  return Lease(this, std::move(session));
}

void ConnectionPool::CancelRunningStatements() {
  // Under the lock: a session leaves leased_ (in Release) before it can be
  // closed.
  absl::MutexLock lock(&mu_);
  for (PgSession* session : leased_) session->CancelStatement();
}

void ConnectionPool::EndWaitsLongerThan(absl::Duration limit) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (PgSession* session : leased_) {
    session->EndIfWaitingLongerThan(limit, now);
  }
}

void ConnectionPool::Release(std::unique_ptr<PgSession> session, bool discard) {
  bool keep = !discard && session->is_open();
  absl::MutexLock lock(&mu_);
  leased_.erase(session.get());
  if (keep && !closed_) {
    idle_.push_back(std::move(session));
  } else {
    --open_;
  }
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<PgSession>> idle;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    open_ -= static_cast<int>(idle_.size());
    idle.swap(idle_);
  }
}

int ConnectionPool::in_use() const {
  absl::MutexLock lock(&mu_);
  return open_ - static_cast<int>(idle_.size());
}

int ConnectionPool::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace idem::db
