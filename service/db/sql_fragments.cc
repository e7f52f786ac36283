#include "service/db/sql_fragments.h"

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/db/identifiers.h"

namespace idem::db {

namespace {

// Types PostgreSQL has no = for (xml, jsonpath, most geometric ones), or
// whose = takes different values for one (interval: '1 mon' and '30 days';
// box, circle: equal areas): compared as the text they print.
bool ComparedAsText(absl::string_view type_name) {
  static constexpr absl::string_view kTypes[] = {
      "xml",  "jsonpath", "interval", "point",   "line",
      "lseg", "box",      "path",     "polygon", "circle"};
  return absl::c_linear_search(kTypes, type_name);
}

}  // namespace

std::string EqualExpr(const Column& column, const std::string& left,
                      const std::string& right) {
  // An array compares its elements by their type's =, which these lack as
  // much: an array of them compares as an array of what they compare as.
  const bool array =
      column.category == 'A' && absl::StartsWith(column.type_name, "_");
  const absl::string_view element =
      array ? absl::string_view(column.type_name).substr(1)
            : absl::string_view(column.type_name);
  std::string suffix;
  if (element == "json") {
    suffix = "::jsonb";  // key order and spaces are no change
  } else if (ComparedAsText(element) || (!array && column.category == 'G')) {
    suffix = "::text";
  }
  if (array && !suffix.empty()) suffix += "[]";
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
