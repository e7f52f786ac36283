#ifndef IDEM_SERVICE_DB_SQL_FRAGMENTS_H_
#define IDEM_SERVICE_DB_SQL_FRAGMENTS_H_

#include <string>

#include "service/db/catalog.h"

namespace idem::db {

// "left IS NOT DISTINCT FROM right" for a column, adapted to types without
// an equality operator: json compares as jsonb, xml and geometric types as
// text. Intervals (and arrays of them) compare as text too: their = takes
// '1 mon' for '30 days' and '1 day' for '24:00:00', which add differently
// to a date, so one written over the other is a change, not a duplicate.
std::string EqualExpr(const Column& column, const std::string& left,
                      const std::string& right);

// `value` (text) as the column stores it when assigned: cast to the
// column's type, and, for a bounded length (Column::length_typmod), cut
// as an INSERT cuts it: only spaces beyond the length, anything else
// refused (22001). A cast alone would cut anything to the length, or
// leave the spaces, and the statement would then compare a value that is
// not the one stored.
std::string AssignedValue(const Column& column, const std::string& value);

// AssignedValue of parameter n (1-based).
std::string CastParam(const Column& column, size_t n);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_SQL_FRAGMENTS_H_
