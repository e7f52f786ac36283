#include "service/db/sql_fragments.h"

#include "absl/strings/str_cat.h"
#include "service/db/identifiers.h"

namespace idem::db {

std::string EqualExpr(const Column& column, const std::string& left,
                      const std::string& right) {
  std::string suffix;
  if (column.type_name == "json") {
    suffix = "::jsonb";
  } else if (column.type_name == "xml" || column.category == 'G' ||
             column.type_name == "interval" ||
             column.type_name == "_interval") {
    suffix = "::text";
  }
  return absl::StrCat("(", left, suffix, " IS NOT DISTINCT FROM ", right,
                      suffix, ")");
}

std::string AssignedValue(const Column& column, const std::string& value) {
  if (column.length_typmod < 0) {
    return absl::StrCat(value, "::", column.type);
  }
  // varchar(text, typmod, false) and its kin apply the length as an
  // assignment does (false: not an explicit cast).
  const std::string length_type =
      absl::StrCat("pg_catalog.", QuoteIdentifier(column.type_name));
  return absl::StrCat(length_type, "(", value, "::", length_type, ", ",
                      column.length_typmod, ", false)::", column.type);
}

std::string CastParam(const Column& column, size_t n) {
  return AssignedValue(column, absl::StrCat("$", n));
}

}  // namespace idem::db
