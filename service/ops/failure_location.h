#ifndef IDEM_SERVICE_OPS_FAILURE_LOCATION_H_
#define IDEM_SERVICE_OPS_FAILURE_LOCATION_H_

#include "absl/status/status.h"
#include "service/ops/insert_op.h"
#include "service/ops/update_op.h"

namespace idem::ops {

// Where in a request a failure lies, for the ErrorInfo metadata of section
// 8.1, added where the layer that failed (PostgreSQL) could not say it.
//
// `failure` of `insert` alone (or of one step holding it):
// - ROW_LOCKED, CONSTRAINT_VIOLATED and VALUE_INVALID name the `table`;
// - VALUE_INVALID that names no row yet names the `row` and `column` of the
//   value at fault when PostgreSQL's message lets them be found.
//   PostgreSQL judges the rows of a statement together and names neither,
//   but its message quotes a value it could not take and names the type
//   ('invalid input syntax for type integer: "abc"', 'value "9e99" is out
//   of range for type integer'): the one column of that type holding that
//   text is at fault, in the first row holding it. A NULL refused by a NOT
//   NULL column names the column: the first row without a value there.
// Any other failure comes back as it is.
absl::Status LocateFailure(absl::Status failure, const PreparedInsert& insert);
// The same for `update`: its `table`.
absl::Status LocateFailure(absl::Status failure, const PreparedUpdate& update);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_FAILURE_LOCATION_H_
