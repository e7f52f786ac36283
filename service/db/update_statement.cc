#include "service/db/update_statement.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/db/identifiers.h"
#include "service/db/sql_fragments.h"

namespace idem::db {

UpdateSql BuildUpdateSql(const UpdateShape& shape) {
  const Table& table = *shape.table;
  size_t param = 0;
  std::vector<std::string> where;
  for (size_t index : table.primary_key) {
    const Column& column = table.columns[index];
    where.push_back(absl::StrCat("t.", QuoteIdentifier(column.name), " = ",
                                 CastParam(column, ++param)));
  }
  std::vector<std::string> assignments, unchanged = {"TRUE"};
  std::string guard = "TRUE";
  for (size_t index : shape.set_columns) {
    const Column& column = table.columns[index];
    std::string name = QuoteIdentifier(column.name);
    std::string value = CastParam(column, ++param);
    assignments.push_back(absl::StrCat(name, " = ", value));
    unchanged.push_back(EqualExpr(column, "t." + name, value));
    if (shape.version_column == index) {
      guard =
          absl::StrCat("(t.", name, " IS NULL OR ", value, " > t.", name, ")");
    }
  }
  for (size_t index : shape.increment_columns) {
    const Column& column = table.columns[index];
    std::string name = QuoteIdentifier(column.name);
    std::string sum =
        absl::StrCat("t.", name, " + $", ++param, "::", column.unmodified_type);
    assignments.push_back(absl::StrCat(name, " = ", sum));
    // Unchanged when the sum is stored as the value it had: a delta below
    // the column's scale, or a NULL, which stays NULL.
    unchanged.push_back(EqualExpr(column, "t." + name,
                                  absl::StrCat("(", sum, ")::", column.type)));
  }
  std::string key = absl::StrJoin(where, " AND ");
  UpdateSql sql;
  sql.probe = absl::StrCat("SELECT NOT (", absl::StrJoin(unchanged, " AND "),
                           ") AS differs, ", guard, " AS fresh FROM ",
                           table.sql_name, " AS t WHERE ", key, " FOR UPDATE");
  sql.probe_and_apply = absl::StrCat(
      "WITH probe AS (", sql.probe, "), applied AS (UPDATE ", table.sql_name,
      " AS t SET ", absl::StrJoin(assignments, ", "), " WHERE ", key,
      " AND (SELECT differs AND fresh FROM probe)) SELECT * FROM probe");
  return sql;
}

}  // namespace idem::db
