#include "service/db/database_error.h"

#include <pqxx/except>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

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

// read_only_sql_transaction: a write reached a standby, or a primary that
// is being demoted; after a failover the primary is elsewhere.
constexpr absl::string_view kReadOnly = "25006";

// The server is shutting down, crashed, starting, or cannot take the write.
bool ServerCannotServe(absl::string_view state) {
  return state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == kReadOnly;
}

absl::Status FromSqlState(const std::string& state, const std::string& text) {
  absl::string_view cls = absl::string_view(state).substr(0, 2);
  if (ServerCannotServe(state) || cls == "53") {
    return absl::UnavailableError(
        absl::StrCat("database unavailable (", state, "); retry later"));
  }
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return absl::AbortedError(
        absl::StrCat("concurrent change (", state, "); retry"));
  }
  if (state == "57014") {
    return absl::DeadlineExceededError("database statement timed out");
  }
  if (state == "42P01") return absl::NotFoundError(text);
  if (state == "42501") return absl::PermissionDeniedError(text);
  if (state == "23505") return absl::AlreadyExistsError(text);
  if (state == "23503") return absl::FailedPreconditionError(text);
  // Raised by ON CONFLICT DO UPDATE when one request names a key twice.
  if (state == "21000") {
    return absl::InvalidArgumentError(
        "two rows of the request have the same primary key");
  }
  // Data exceptions (22), other integrity violations (23), cardinality (21),
  // program limits (54), unknown columns (42703) and type mismatches (42804):
  // the request itself is wrong.
  if (cls == "22" || cls == "23" || cls == "21" || cls == "54" ||
      state == "42703" || state == "42804" || state == "0A000") {
    return absl::InvalidArgumentError(text);
  }
  return absl::InternalError(absl::StrCat("database error ", state));
}

}  // namespace

absl::Status MapDatabaseError(const std::exception& error) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    return absl::UnavailableError(
        "the database connection was lost during commit, so the outcome is "
        "unknown; retry with the same idempotency key to learn it");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    return absl::UnavailableError("database connection lost; retry later");
  }
  // libpqxx 6.4 raises these without a SQLSTATE.
  if (dynamic_cast<const pqxx::transaction_rollback*>(&error) != nullptr) {
    return absl::AbortedError("concurrent change; retry");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    return FromSqlState(sql->sqlstate(),
                        PrimaryMessage(sql->what(), sql->sqlstate()));
  }
  if (dynamic_cast<const pqxx::usage_error*>(&error) != nullptr ||
      dynamic_cast<const pqxx::internal_error*>(&error) != nullptr) {
    return absl::InternalError("internal database client error");
  }
  if (dynamic_cast<const pqxx::conversion_error*>(&error) != nullptr) {
    return absl::InternalError("unexpected value from the database");
  }
  // Anything else thrown under a transaction: libpq failures surface as
  // pqxx::failure with no more detail (for example a server that is gone).
  if (dynamic_cast<const pqxx::failure*>(&error) != nullptr) {
    return absl::UnavailableError("database failure; retry later");
  }
  return absl::InternalError("internal error");
}

bool SessionUnusableAfter(const std::exception& error) {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    return true;
  }
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error);
  return sql != nullptr && ServerCannotServe(sql->sqlstate());
}

bool IsTransient(const absl::Status& status) {
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
