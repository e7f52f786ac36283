#ifndef IDEM_SERVICE_DB_VALUE_DECODING_H_
#define IDEM_SERVICE_DB_VALUE_DECODING_H_

#include <pqxx/result>

#include "idem/v1/idem.pb.h"
#include "service/db/catalog.h"

namespace idem::db {

// A stored value of `column`, read in PostgreSQL's text format, as the
// Value kind a caller would send for it: null_value, bool_value for
// boolean, int_value for the integer types, double_value for real and
// double precision, bytes_value for bytea, and string_value (PostgreSQL's
// text form) for every other type, numeric included (it may not fit a
// double).
v1::Value DecodeValue(const pqxx::field& field, const Column& column);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_VALUE_DECODING_H_
