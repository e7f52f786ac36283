#include "service/db/transaction.h"

#include <libpq-fe.h>

#include <algorithm>
#include <pqxx/except>
#include <pqxx/largeobject>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/db/fault_points.h"

namespace idem::db {
namespace {

// libpqxx 6.4 keeps libpq's connection to itself but for one protected
// accessor, which large objects use; libpq alone knows whether the
// transaction has failed.
class LibpqConnection : private pqxx::largeobject {
 public:
  static bool InGoodTransaction(const pqxx::dbtransaction& txn) {
    return PQtransactionStatus(raw_connection(txn)) == PQTRANS_INTRANS;
  }
};

}  // namespace

bool Transaction::InBlock(const PgSession& session, Mode mode) {
  return mode == Mode::kTransaction || session.needs_transaction_block();
}

Transaction::Transaction(PgSession& session, Mode mode)
    : session_(session),
      work_(InBlock(session, mode)
                ? std::make_unique<pqxx::work>(session.connection())
                : nullptr),
      autocommit_(
          !InBlock(session, mode)
              ? std::make_unique<pqxx::nontransaction>(session.connection())
              : nullptr),
      statements_(work_ != nullptr
                      ? static_cast<pqxx::transaction_base&>(*work_)
                      : *autocommit_) {
  PgSession::Waiting waiting(session_);
  session_.BeginTransaction(statements_);
}

pqxx::result Transaction::Statement(absl::FunctionRef<pqxx::result()> run) {
  PgSession::Waiting waiting(session_);
  if (autocommit_ == nullptr) return run();
  // Outside a transaction block the statement is its own commit: once it is
  // sent, a lost connection leaves that commit in doubt, as a lost answer
  // to COMMIT does; only one lost before it was sent wrote nothing.
  if (!session_.is_open()) {
    throw pqxx::broken_connection("connection lost before the statement");
  }
  pqxx::result result;
  try {
    session_.RunCommitting([&] {
      result = run();
      const auto& lose = testing::Faults().lose_autocommit_answer;
      if (lose && lose()) {
        throw pqxx::broken_connection("connection lost before the answer");
      }
    });
  } catch (const pqxx::broken_connection& lost) {
    throw pqxx::in_doubt_error(lost.what());
  }
  return result;
}

pqxx::result Transaction::Exec(const std::string& sql,
                               const std::vector<TextParam>& params) {
  return Statement([&] { return session_.Exec(statements_, sql, params); });
}

pqxx::result Transaction::ExecUnprepared(const std::string& sql,
                                         const std::vector<TextParam>& params) {
  return Statement(
      [&] { return session_.ExecUnprepared(statements_, sql, params); });
}

pqxx::result Transaction::ExecScript(const std::string& sql) {
  return Statement([&] { return statements_.exec(sql); });
}

bool Transaction::ThroughAPooler() {
  PgSession::Waiting waiting(session_);
  return statements_.exec1("SELECT pg_backend_pid()")[0].as<int>() !=
         session_.connection().backendpid();
}

void Transaction::SetLockTimeout(absl::Duration timeout) {
  // 0 would mean no limit at all.
  int64_t millis = std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
  PgSession::Waiting waiting(session_);
  statements_.exec0(absl::StrCat("SET LOCAL lock_timeout = ", millis));
}

absl::Status Transaction::SavepointStatement(absl::string_view sql) {
  try {
    const auto& fail = testing::Faults().fail_savepoint_statement;
    if (fail && fail(sql)) {
      throw pqxx::sql_error("canceling statement due to user request",
                            std::string(sql), "57014");
    }
    PgSession::Waiting waiting(session_);
    statements_.exec0(std::string(sql));
    return absl::OkStatus();
  } catch (const std::exception& error) {
    poisoned_ = Error(
        Reason::kDatabaseUnavailable,
        absl::StrCat("the transaction was abandoned after a failed savepoint (",
                     MapDatabaseError(error).message(),
                     "); nothing was written; retry"));
    return poisoned_;
  }
}

absl::Status Transaction::Commit() {
  if (work_ == nullptr) return absl::OkStatus();
  if (!poisoned_.ok()) return poisoned_;
  const auto& abort = testing::Faults().abort_before_commit;
  if (abort && abort()) {
    try {
      work_->exec0("SELECT 1 / 0");
    } catch (const pqxx::sql_error&) {
    }
  }
  if (!LibpqConnection::InGoodTransaction(*work_)) {
    return Error(Reason::kDatabaseUnavailable,
                 "a statement of the transaction failed unnoticed, so the "
                 "database rolled it back; nothing was written; retry");
  }
  PgSession::Waiting waiting(session_);
  session_.Commit(*work_);
  return absl::OkStatus();
}

void Transaction::Rollback() {
  PgSession::Waiting waiting(session_);
  if (work_ != nullptr) work_->abort();
}

}  // namespace idem::db
