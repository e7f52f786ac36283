#ifndef IDEM_SERVICE_OPS_FAILURE_LOCATION_H_
#define IDEM_SERVICE_OPS_FAILURE_LOCATION_H_

#include "absl/status/status.h"
#include "service/ops/insert_op.h"

namespace idem::ops {

// Where in a request a failure lies, for the ErrorInfo metadata of section
// 8.1, added where the layer that failed (PostgreSQL) could not say.

// `failure` of a call on `table`, naming it (`table`) when the failure is
// about that table's rows (ROW_LOCKED, CONSTRAINT_VIOLATED, VALUE_INVALID)
// and names no table yet.
absl::Status WithTableNamed(absl::Status failure, const db::Table& table);

// `failure` of `insert` alone, naming the `row` and `column` of the value
// at fault when it names no row yet and PostgreSQL's message lets them be
// found. PostgreSQL judges the rows of a statement together and names
// neither, but its message quotes a value it could not take and names the
// type ('invalid input syntax for type integer: "abc"', 'value "9e99" is out
// of range for type integer'): the one column of that type holding that
// text is at fault, in the first row holding it. A NULL refused by a NOT
// NULL column names the column: the first row without a value there. Any
// other failure, or one whose value more than one column holds, comes back
// as it is.
absl::Status LocateRefusedValue(absl::Status failure,
                                const PreparedInsert& insert);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_FAILURE_LOCATION_H_
