#include "service/db/database_error.h"

#include <optional>
#include <pqxx/except>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"

namespace idem::db {
namespace {

// PostgreSQL's message as libpq formats it: "ERROR:  text\nDETAIL: ...",
// or "ERROR:  <state>: text\n..." when raised by a COMMIT, which runs with
// verbose messages (PgSession::Commit).
std::string PrimaryMessage(absl::string_view what, absl::string_view state) {
  what = what.substr(0, what.find('\n'));
  for (absl::string_view prefix : {"ERROR:  ", "FATAL:  ", "PANIC:  "}) {
    if (absl::ConsumePrefix(&what, prefix)) break;
  }
  if (absl::ConsumePrefix(&what, state)) absl::ConsumePrefix(&what, ": ");
  return std::string(what);
}

// The DETAIL line of PostgreSQL's message, if any.
std::optional<std::string> Detail(absl::string_view what) {
  constexpr absl::string_view kDetail = "\nDETAIL:  ";
  size_t at = what.find(kDetail);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view detail = what.substr(at + kDetail.size());
  return std::string(detail.substr(0, detail.find('\n')));
}

// The quoted name after `marker` in PostgreSQL's message, if any:
// libpqxx 6.4 keeps the error's fields to itself, but the primary message
// names the constraint and column it is about.
std::string QuotedAfter(absl::string_view text, absl::string_view marker) {
  size_t at = text.find(marker);
  if (at == absl::string_view::npos) return "";
  text.remove_prefix(at + marker.size());
  size_t end = text.find('"');
  return end == absl::string_view::npos ? "" : std::string(text.substr(0, end));
}

// read_only_sql_transaction: a write reached a standby, or a primary that
// is being demoted; after a failover the primary is elsewhere.
constexpr absl::string_view kReadOnly = "25006";

// The server is shutting down, crashed, starting, or cannot take the write.
bool ServerCannotServe(absl::string_view state) {
  return state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == kReadOnly;
}

// A table's definition changed under a statement prepared on the session
// (the columns it returns), which PostgreSQL then refuses to run: the
// session's statements are outdated, not the call, and a fresh session
// prepares them again.
bool PlanOutdated(absl::string_view state, absl::string_view message) {
  return state == "0A000" &&
         absl::StrContains(message, "cached plan must not change result type");
}

absl::Status FromSqlState(const std::string& state, const std::string& text) {
  absl::string_view cls = absl::string_view(state).substr(0, 2);
  if (state == "53100") {
    return Error(Reason::kDiskFull, "the database is out of disk space");
  }
  if (ServerCannotServe(state) || cls == "53") {
    return Error(
        Reason::kDatabaseUnavailable,
        absl::StrCat("database unavailable (", state, "); retry later"));
  }
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return RowLocked(
        absl::StrCat("a row is locked or changed by a concurrent "
                     "transaction (",
                     state, "); retry"));
  }
  if (state == "57014") {
    // A cancel request, which this server sends only when its shutdown
    // grace has run out (ConnectionPool::CancelRunningStatements): the
    // statement rolled back, and the call may go to another replica. (An
    // operator's pg_cancel_backend reads the same; a retry is right then
    // too.) A message in another language than English falls through to
    // the statement timeout's answer.
    if (absl::StrContains(text, "due to user request")) {
      return Error(Reason::kShuttingDown,
                   "the statement was cancelled (the server's shutdown "
                   "grace ran out, or an operator's pg_cancel_backend) and "
                   "rolled back; retry");
    }
    return absl::DeadlineExceededError("database statement timed out");
  }
  if (state == "42P01") return Error(Reason::kTableNotFound, text);
  if (state == "42501") {
    return OnTheDatabasesObjects(Error(Reason::kOperationNotAllowed, text));
  }
  if (state == "23505" || state == "23503" || state == "23514" ||
      state == "23P01") {
    std::string constraint = QuotedAfter(text, "constraint \"");
    return Error(Reason::kConstraintViolated, text,
                 constraint.empty()
                     ? ErrorMetadata{}
                     : ErrorMetadata{{"constraint", constraint}});
  }
  if (state == "23502") {
    std::string column = QuotedAfter(text, "column \"");
    return Error(
        Reason::kValueInvalid, text,
        column.empty() ? ErrorMetadata{} : ErrorMetadata{{"column", column}});
  }
  // Raised by ON CONFLICT DO UPDATE when one statement names a key twice.
  if (state == "21000") {
    return Error(Reason::kRequestInvalid,
                 "two rows of the request have the same primary key");
  }
  if (state == "42703") return Error(Reason::kColumnUnknown, text);
  // generated_always: a value for an identity column GENERATED ALWAYS
  // (the catalog refuses one up front; this covers a table altered since).
  if (state == "428C9") {
    std::string column = QuotedAfter(text, "column \"");
    return Error(
        Reason::kValueInvalid, text,
        column.empty() ? ErrorMetadata{} : ErrorMetadata{{"column", column}});
  }
  // A trigger or rule of the table refused the row (RAISE EXCEPTION, an
  // ASSERT): the table's own rule, as a CHECK constraint is, and as
  // deterministic. The message is the one its author wrote.
  if (cls == "P0") return Error(Reason::kConstraintViolated, text);
  if (cls == "54") return Error(Reason::kLimitExceeded, text);
  // Data exceptions (22), other integrity violations (23) and type
  // mismatches (42804): a value of the request is wrong.
  if (cls == "22" || cls == "23" || state == "42804") {
    return Error(Reason::kValueInvalid, text);
  }
  // A name that does not resolve (42704, 42883, 42725, 42P02, 3F000) or
  // cannot be a name (42601, 42602, 42622). The statements this server runs
  // are built from shapes its catalog checked, so these come from a value
  // of an object-identifier type (regtype, regproc, regrole, ...), which
  // resolves its text when cast, or from the table's own trigger: no retry
  // helps, but creating the object does, so it is not kept under a key.
  if (state == "42704" || state == "42883" || state == "42725" ||
      state == "42P02" || state == "3F000" || state == "42601" ||
      state == "42602" || state == "42622") {
    return OnTheDatabasesObjects(Error(Reason::kValueInvalid, text));
  }
  if (PlanOutdated(state, text)) {
    return Error(Reason::kDatabaseUnavailable,
                 "the table's definition changed under a prepared statement; "
                 "retry");
  }
  if (state == "0A000") return Error(Reason::kRequestInvalid, text);
  // This server's prepared statements met another client's, or were gone:
  // its sessions are shared, which only a pooler in transaction mode does.
  if (state == "42P05" || state == "26000") {
    return absl::InternalError(absl::StrCat(
        "database error ", state,
        ": the server's prepared statements are not its own; behind a "
        "connection pooler in transaction mode set "
        "IDEM_PREPARED_STATEMENTS=false"));
  }
  return absl::InternalError(absl::StrCat("database error ", state));
}

// libpq's reason, on one line: "connection to server at ... failed:
// Connection refused", "FATAL:  role \"x\" does not exist", ...
std::string Cause(const std::exception& error) {
  std::string cause(error.what());
  for (char& c : cause) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  absl::RemoveExtraAsciiWhitespace(&cause);
  constexpr size_t kLongest = 300;
  if (cause.size() > kLongest) cause.resize(kLongest);
  return cause;
}

// COMMIT_UNKNOWN, after `what_happened`.
absl::Status CommitUnknown(absl::string_view what_happened,
                           const std::exception& error) {
  return WithOperatorCause(
      Error(Reason::kCommitUnknown,
            absl::StrCat(what_happened,
                         ", so whether the call applied is unknown; a "
                         "KeyedCall retried under the same idempotency key "
                         "learns it, a call without a key cannot")),
      Cause(error));
}

}  // namespace

absl::Status MapDatabaseError(const std::exception& error) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    return CommitUnknown("the database connection was lost during commit",
                         error);
  }
  // A transaction_rollback, but one that says the statement may have
  // completed (SQLSTATE 40003): not ROW_LOCKED, which tells clients that
  // nothing ran and lets them send a call without a key again.
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&error) !=
      nullptr) {
    return CommitUnknown(
        "the database could not tell whether the statement completed", error);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    return WithOperatorCause(Error(Reason::kDatabaseUnavailable,
                                   "database connection lost; retry later"),
                             Cause(error));
  }
  // libpqxx 6.4 raises these without a SQLSTATE.
  if (dynamic_cast<const pqxx::transaction_rollback*>(&error) != nullptr) {
    return RowLocked("concurrent change; retry");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    std::string state = sql->sqlstate();
    // libpqxx 6.4 raises this one without its SQLSTATE.
    if (state.empty() &&
        dynamic_cast<const pqxx::insufficient_privilege*>(sql) != nullptr) {
      state = "42501";
    }
    absl::Status status =
        FromSqlState(state, PrimaryMessage(sql->what(), state));
    // The message a caller gets names no more than the state; the
    // operator's log line gets what PostgreSQL said.
    if (status.code() == absl::StatusCode::kInternal) {
      return WithOperatorCause(std::move(status), Cause(error));
    }
    if (std::optional<std::string> detail = Detail(sql->what())) {
      status = WithDatabaseDetail(std::move(status), *detail);
    }
    return status;
  }
  if (dynamic_cast<const pqxx::usage_error*>(&error) != nullptr ||
      dynamic_cast<const pqxx::internal_error*>(&error) != nullptr) {
    return WithOperatorCause(
        absl::InternalError("internal database client error"), Cause(error));
  }
  if (dynamic_cast<const pqxx::conversion_error*>(&error) != nullptr) {
    return absl::InternalError("unexpected value from the database");
  }
  // Anything else thrown under a transaction: libpq failures surface as
  // pqxx::failure with no more detail (for example a server that is gone).
  if (dynamic_cast<const pqxx::failure*>(&error) != nullptr) {
    return WithOperatorCause(
        Error(Reason::kDatabaseUnavailable, "database failure; retry later"),
        Cause(error));
  }
  return absl::InternalError("internal error");
}

bool SessionUnusableAfter(const std::exception& error) {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&error) !=
          nullptr) {
    return true;
  }
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error);
  return sql != nullptr && (ServerCannotServe(sql->sqlstate()) ||
                            PlanOutdated(sql->sqlstate(), sql->what()));
}

bool IsTransient(const absl::Status& status) {
  // A property of the replica that answered, not of the call: another
  // replica, or this one once its storage is set up, runs it. So is a
  // failure on the database's objects as they are now (a grant, a name):
  // the call runs once they change.
  if (ReasonOf(status) == ReasonName(Reason::kStorageNotConfigured) ||
      IsOnTheDatabasesObjects(status)) {
    return true;
  }
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace idem::db
