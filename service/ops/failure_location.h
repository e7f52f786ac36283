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
//   but its message says enough to find the one column at fault, in the
//   first row where it holds:
//   - a value it quotes, for the type it names ('invalid input syntax for
//     type integer: "abc"', 'value "9e99" is out of range for type
//     integer'), or for none ('date/time field value out of range');
//   - the declared type whose length a value breaks ('value too long for
//     type character varying(3)', 'bit string length 5 does not match type
//     bit(4)'), a value numeric(p,s) cannot hold ('numeric field overflow'),
//     a text that is no JSON ('invalid input syntax for type json');
//   - a NULL refused by a NOT NULL column: the column it names, the first
//     row without a value there.
//   When several columns fit, none is named.
// - CONSTRAINT_VIOLATED that names no row names the one row that gives the
//   values PostgreSQL's DETAIL shows (WithDatabaseDetail): a check's
//   failing row, a unique or foreign key's values; none when no row or
//   several do.
// - CONSTRAINT_VIOLATED and VALUE_INVALID of an insert of one row name row
//   0 when nothing above named a row (not LocateFailureByValues).
// Any other failure comes back as it is. The DETAIL is dropped from what
// comes back, as a stored failure has none.
absl::Status LocateFailure(absl::Status failure, const PreparedInsert& insert);
// The same for a failure that may be another insert's (a transaction's
// COMMIT, which any step may have failed): a row is named only when the
// values in PostgreSQL's message or DETAIL point to it, so that a named row
// tells whose failure it is.
absl::Status LocateFailureByValues(absl::Status failure,
                                   const PreparedInsert& insert);
// The same for `update`: its `table`, and the `column` of a refused value
// (a key, a set value, or a delta whose sum leaves the column's range:
// "smallint out of range", "numeric field overflow"); no `row`.
absl::Status LocateFailure(absl::Status failure, const PreparedUpdate& update);

// `refusal` of a request (an Insert or Update checked before it runs) that
// named `table`, found in the catalog: it names the `table` unless it
// already does, whatever its reason. OK stays OK.
absl::Status OfRequestFor(absl::Status refusal, const db::Table& table);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_FAILURE_LOCATION_H_
