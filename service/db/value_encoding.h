#ifndef IDEM_SERVICE_DB_VALUE_ENCODING_H_
#define IDEM_SERVICE_DB_VALUE_ENCODING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"
#include "service/db/catalog.h"
#include "service/db/pg_session.h"

namespace idem::db {

// The text form of `value` for a parameter cast to `column.type`. Refuses,
// with INVALID_ARGUMENT naming the column, a value kind that cannot mean a
// value of the column's type (a bool for a number, bytes for text, ...), a
// NULL for a NOT NULL column and a string with a NUL byte. Whether a string
// parses as the type is PostgreSQL's to decide.
absl::StatusOr<TextParam> EncodeValue(const v1::Value& value,
                                      const Column& column);

// Whether every value of `column` equal to `value` is encoded as the same
// text as `value` (an int, a bool, bytes, a string into text or varchar), so
// that keys holding such values compare as their text. A string into any
// other type is not ("7" and "07" into bigint, a uuid in either case), nor
// is a double, nor a string under a nondeterministic collation ("Bob" and
// "BOB" under a case-insensitive one), nor one into varchar(n), which cuts
// spaces past its length ("ab  " and "ab " into varchar(3)).
bool SpelledOneWay(const v1::Value& value, const Column& column);

// `elements` as a one-dimensional array literal, e.g. {"a",NULL,"b\"c"}.
std::string ArrayLiteral(const std::vector<TextParam>& elements);
// The elements of `parts`, one part after the other, as one array literal,
// without gathering them into one vector first.
std::string ArrayLiteral(
    const std::vector<const std::vector<TextParam>*>& parts);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_VALUE_ENCODING_H_
