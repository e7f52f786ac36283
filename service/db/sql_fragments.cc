#include "service/db/sql_fragments.h"

#include "absl/strings/str_cat.h"

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

std::string CastParam(const Column& column, size_t n) {
  return absl::StrCat("$", n, "::", column.type);
}

}  // namespace idem::db
