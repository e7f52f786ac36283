#ifndef IDEM_SERVICE_DB_FAULT_POINTS_H_
#define IDEM_SERVICE_DB_FAULT_POINTS_H_

#include <functional>

#include "absl/strings/string_view.h"

namespace idem::db::testing {

// Test-only fault points of the transaction boundary (db::Transaction).
// Unlike the file layer's, they are compiled into the server: every layer
// above links the one database library. Unset, each costs one branch on
// paths that already make a round trip. Set them before any transaction
// runs and clear them after.
struct FaultPoints {
  // Consulted before each SAVEPOINT, RELEASE SAVEPOINT and ROLLBACK TO
  // SAVEPOINT: returning true makes that statement fail as if the database
  // had cancelled it, without sending it (so the database does not know).
  std::function<bool(absl::string_view statement)> fail_savepoint_statement;
  // Consulted before COMMIT: returning true makes a statement fail on the
  // database first and swallows the error, as a bug would, so that the
  // database rolls the transaction back and answers COMMIT with ROLLBACK.
  std::function<bool()> abort_before_commit;
  // Consulted after a statement outside a transaction block, which has
  // committed by itself: returning true loses its answer, as a connection
  // that broke before the answer came would.
  std::function<bool()> lose_autocommit_answer;
};

FaultPoints& Faults();

}  // namespace idem::db::testing

#endif  // IDEM_SERVICE_DB_FAULT_POINTS_H_
