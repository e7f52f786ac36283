#ifndef IDEM_SERVICE_OPS_INSERT_OP_H_
#define IDEM_SERVICE_OPS_INSERT_OP_H_

#include <memory>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"
#include "service/db/catalog.h"
#include "service/db/insert_statement.h"
#include "service/db/pg_session.h"
#include "service/ops/ops_context.h"

namespace idem::ops {

// An InsertRequest checked against the catalog, with its parameters
// encoded: running it can fail only on what PostgreSQL alone can judge
// (a string that does not parse as the column's type, a constraint).
struct PreparedInsert {
  std::shared_ptr<const db::Table> table;
  db::InsertShape shape;
  std::vector<db::TextParam> params;  // one array literal per shape column
  size_t row_count = 0;
};

absl::StatusOr<PreparedInsert> PrepareInsert(const OpsContext& context,
                                             const v1::InsertRequest& request);

// Runs the insert as one statement in `txn`. A non-OK status means the
// caller must roll back (the request is all-or-nothing).
absl::StatusOr<v1::InsertResponse> ExecuteInsert(db::PgSession& session,
                                                 pqxx::work& txn,
                                                 const PreparedInsert& insert);

// PrepareInsert and ExecuteInsert in a transaction of its own.
absl::StatusOr<v1::InsertResponse> RunInsert(const OpsContext& context,
                                             const v1::InsertRequest& request);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_INSERT_OP_H_
