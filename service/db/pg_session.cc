#include "service/db/pg_session.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <pqxx/dbtransaction>
#include <pqxx/errorhandler>
#include <pqxx/except>
#include <pqxx/prepared_statement>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace idem::db {

// Watches the notices of a COMMIT for the warning PostgreSQL sends when it
// stops waiting for the synchronous standby. Its text is translated into
// the server's language; the function that raises it, which a verbose
// notice names on its LOCATION line, is not.
class PgSession::StandbyWaitWatch : public pqxx::errorhandler {
 public:
  explicit StandbyWaitWatch(pqxx::connection_base& connection)
      : pqxx::errorhandler(connection) {}

  bool operator()(const char message[]) noexcept override {
    if (std::strstr(message, "SyncRepWaitForLSN") != nullptr) seen = true;
    return true;
  }

  bool seen = false;
};

PgSession::PgSession(const std::string& url, StatementMode mode)
    : connection_(url),
      mode_(mode),
      standby_wait_(std::make_unique<StandbyWaitWatch>(connection_)) {
  // libpqxx would reconnect a lost connection by itself, even in the middle
  // of a transaction, to a new session without the pool's settings (the
  // timeouts) while the transaction is gone. A lost session must stay lost,
  // so that the pool drops it and opens a proper one.
#include <pqxx/internal/ignore-deprecated-pre.hxx>
  connection_.inhibit_reactivation(true);
#include <pqxx/internal/ignore-deprecated-post.hxx>
  if (connection_.sock() >= 0) watch_socket_ = dup(connection_.sock());
}

PgSession::~PgSession() {
  if (watch_socket_ >= 0) close(watch_socket_);
}

PgSession::Waiting::Waiting(PgSession& session)
    : session_(session),
      outermost_(session.waiting_since_.load(std::memory_order_relaxed) == 0) {
  if (outermost_) {
    session_.waiting_since_.store(absl::ToUnixNanos(absl::Now()),
                                  std::memory_order_release);
  }
}

PgSession::Waiting::~Waiting() {
  if (outermost_) session_.waiting_since_.store(0, std::memory_order_release);
}

void PgSession::EndIfWaitingLongerThan(absl::Duration limit, absl::Time now) {
  const int64_t since = waiting_since_.load(std::memory_order_acquire);
  if (since != 0 && watch_socket_ >= 0 &&
      now - absl::FromUnixNanos(since) > limit) {
    shutdown(watch_socket_, SHUT_RDWR);
  }
}

void PgSession::Commit(pqxx::transaction_base& txn) {
  // A statement that failed on a lost connection has ended `txn` on this
  // side, and libpqxx would refuse the commit as a misuse; nothing was
  // committed, so it is the lost connection that answers.
  if (!connection_.is_open()) {
    throw pqxx::broken_connection("connection lost before COMMIT");
  }
  RunCommitting([&] { txn.commit(); });
}

bool PgSession::StillOpenWhileIdle() const {
  if (!connection_.is_open()) return false;
  // The server's end of the connection closed (or failed): a FIN came.
  pollfd socket{connection_.sock(), POLLRDHUP, 0};
  return poll(&socket, 1, 0) == 0;
}

void PgSession::CancelStatement() noexcept {
  try {
    connection_.cancel_query();
  } catch (const std::exception&) {
    // Nothing to cancel it with (the connection is gone): nothing runs.
  }
}

void PgSession::RunCommitting(absl::FunctionRef<void()> statement) {
  standby_wait_->seen = false;
  connection_.set_verbosity(pqxx::connection_base::verbose);
  {
    absl::Cleanup normal_messages = [this] {
      connection_.set_verbosity(pqxx::connection_base::normal);
    };
    statement();
  }
  if (standby_wait_->seen) {
    throw pqxx::in_doubt_error(
        "the synchronous standby did not confirm the commit");
  }
}

void PgSession::BeginTransaction(pqxx::transaction_base& txn) {
  if (transaction_settings_.empty() ||
      dynamic_cast<pqxx::dbtransaction*>(&txn) == nullptr) {
    return;
  }
  txn.exec(transaction_settings_);
}

const std::string& PgSession::Prepared(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) {
    recent_.splice(recent_.begin(), recent_, it->second);
    return it->second->name;
  }
  if (recent_.size() >= kMaxPrepared) {
    const Statement& oldest = recent_.back();
    connection_.unprepare(oldest.name);
    prepared_.erase(oldest.sql);
    recent_.pop_back();
  }
  std::string name = absl::StrCat("idem_", ++next_name_);
  connection_.prepare(name, sql);
  recent_.push_front({sql, std::move(name)});
  prepared_.emplace(sql, recent_.begin());
  return recent_.front().name;
}

namespace {

// libpqxx 6.4 takes a variable number of parameters only as an iterator
// range; a null pointer is sent as SQL NULL.
std::vector<const char*> Values(const std::vector<TextParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const TextParam& param : params) {
    values.push_back(param.has_value() ? param->c_str() : nullptr);
  }
  return values;
}

}  // namespace

pqxx::result PgSession::Exec(pqxx::transaction_base& txn,
                             const std::string& sql,
                             const std::vector<TextParam>& params) {
  if (mode_ == StatementMode::kUnnamed) {
    return ExecUnprepared(txn, sql, params);
  }
  std::vector<const char*> values = Values(params);
  return txn.exec_prepared(Prepared(sql),
                           pqxx::prepare::make_dynamic_params(values));
}

pqxx::result PgSession::ExecUnprepared(pqxx::transaction_base& txn,
                                       const std::string& sql,
                                       const std::vector<TextParam>& params) {
  std::vector<const char*> values = Values(params);
  return txn.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
}

}  // namespace idem::db
