// The one place where libpqxx's exceptions become statuses, driven with the
// exceptions libpqxx 6.4 raises: the reason and code each SQLSTATE class
// gets, whether the call may be stored as a deterministic failure, and
// whether its session may be used again. Failures the test database cannot
// be made to produce on demand (a full disk, a standby, a crash) are here.
#include "service/db/database_error.h"

#include <gtest/gtest.h>

#include <pqxx/except>
#include <string>

#include "service/common/error_reason.h"

namespace idem::db {
namespace {

pqxx::sql_error Sql(const std::string& state, const std::string& message) {
  return pqxx::sql_error("ERROR:  " + message + "\n", "INSERT ...",
                         state.c_str());
}

struct Expected {
  absl::StatusCode code;
  const char* reason;
  bool transient;
  bool session_unusable;
};

void ExpectMapped(const std::exception& error, const Expected& expected) {
  SCOPED_TRACE(error.what());
  const absl::Status status = MapDatabaseError(error);
  EXPECT_EQ(status.code(), expected.code) << status;
  EXPECT_EQ(ReasonOf(status).value_or(""), expected.reason) << status;
  EXPECT_EQ(IsTransient(status), expected.transient) << status;
  EXPECT_EQ(SessionUnusableAfter(error), expected.session_unusable);
}

TEST(MapDatabaseError, ServerStatesThatPassAreTransient) {
  using C = absl::StatusCode;
  ExpectMapped(Sql("53100",
                   "could not extend file \"base/1/2\": No space "
                   "left on device"),
               {C::kResourceExhausted, "DISK_FULL", true, false});
  for (const char* state : {"57P01", "57P02", "57P03", "08006", "53300"}) {
    ExpectMapped(Sql(state, "the server cannot serve"),
                 {C::kUnavailable, "DATABASE_UNAVAILABLE", true,
                  std::string(state) != "53300"});
  }
  // A standby, or a primary being demoted: the session is on the wrong
  // server after a failover.
  ExpectMapped(Sql("25006",
                   "cannot execute INSERT in a read-only "
                   "transaction"),
               {C::kUnavailable, "DATABASE_UNAVAILABLE", true, true});
  for (const char* state : {"40001", "40P01", "55P03"}) {
    ExpectMapped(Sql(state, "could not obtain lock on row"),
                 {C::kAborted, "ROW_LOCKED", true, false});
  }
  ExpectMapped(pqxx::deadlock_detected("deadlock detected"),
               {C::kAborted, "ROW_LOCKED", true, false});
  ExpectMapped(pqxx::serialization_failure("could not serialize access"),
               {C::kAborted, "ROW_LOCKED", true, false});
}

// Whether the statement ran is unknown: never ROW_LOCKED, which tells the
// clients it did not run, so that they send a call without a key again.
TEST(MapDatabaseError, AnUnknownOutcomeIsNeverDidNotRun) {
  using C = absl::StatusCode;
  ExpectMapped(pqxx::in_doubt_error("connection lost during commit"),
               {C::kUnavailable, "COMMIT_UNKNOWN", true, true});
  ExpectMapped(pqxx::statement_completion_unknown("completion unknown"),
               {C::kUnavailable, "COMMIT_UNKNOWN", true, true});
  ExpectMapped(pqxx::broken_connection("server closed the connection"),
               {C::kUnavailable, "DATABASE_UNAVAILABLE", true, true});
}

TEST(MapDatabaseError, TheCallsOwnFaultsAreDeterministic) {
  using C = absl::StatusCode;
  ExpectMapped(Sql("23505",
                   "duplicate key value violates unique constraint "
                   "\"t_pkey\""),
               {C::kFailedPrecondition, "CONSTRAINT_VIOLATED", false, false});
  EXPECT_EQ(MetadataOf(MapDatabaseError(
                Sql("23514",
                    "new row for relation \"t\" violates check "
                    "constraint \"t_small\"")))["constraint"],
            "t_small");
  ExpectMapped(Sql("22P02", "invalid input syntax for type bigint: \"x\""),
               {C::kInvalidArgument, "VALUE_INVALID", false, false});
  ExpectMapped(Sql("23502",
                   "null value in column \"n\" of relation \"t\" "
                   "violates not-null constraint"),
               {C::kInvalidArgument, "VALUE_INVALID", false, false});
  ExpectMapped(Sql("P0001", "refused by the table's trigger"),
               {C::kFailedPrecondition, "CONSTRAINT_VIOLATED", false, false});
  // A name that resolves to nothing: the value's fault, but not kept
  // under a key, since creating the object makes the call run.
  for (const char* state : {"42704", "42883", "42725", "42P02", "3F000",
                            "42601", "42602", "42622"}) {
    ExpectMapped(Sql(state, "type \"no_such_type\" does not exist"),
                 {C::kInvalidArgument, "VALUE_INVALID", true, false});
  }
  ExpectMapped(Sql("42P01", "relation \"t\" does not exist"),
               {C::kNotFound, "TABLE_NOT_FOUND", false, false});
  // A grant the server's role lacks: not stored under a key, so that the
  // call runs once the grant is back. libpqxx 6.4 leaves its state out.
  ExpectMapped(Sql("42501", "permission denied for table t"),
               {C::kPermissionDenied, "OPERATION_NOT_ALLOWED", true, false});
  ExpectMapped(
      pqxx::insufficient_privilege("ERROR:  permission denied for table t\n"),
      {C::kPermissionDenied, "OPERATION_NOT_ALLOWED", true, false});
  ExpectMapped(Sql("54000", "index row size exceeds maximum"),
               {C::kInvalidArgument, "LIMIT_EXCEEDED", false, false});
}

// Prepared statements that collide, behind a pooler in transaction mode
// with IDEM_PREPARED_STATEMENTS left on (an operator's probe: every call
// INTERNAL "database error 42P05"): the message says what to set.
TEST(MapDatabaseError, PreparedStatementsThatCollideNameTheSetting) {
  for (const char* state : {"42P05", "26000"}) {
    const absl::Status status = MapDatabaseError(
        Sql(state, "prepared statement \"idem_2\" already exists"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
    EXPECT_NE(status.message().find("IDEM_PREPARED_STATEMENTS=false"),
              absl::string_view::npos)
        << status;
  }
}

}  // namespace
}  // namespace idem::db
