#include "service/db/insert_statement.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "idem/v1/idem.pb.h"
#include "service/db/identifiers.h"
#include "service/db/sql_fragments.h"

namespace idem::db {
namespace {

// Positional alias of shape column i inside the statement ("c0", "c1", ...):
// request names never appear in SQL.
std::string Alias(size_t i) { return absl::StrCat("c", i); }

std::string InputCte(const InsertShape& shape) {
  std::vector<std::string> casts, params, aliases;
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    const Column& column = shape.table->columns[shape.columns[i]];
    // In the column's collation when it compares otherwise than the
    // type's: the key's rounds, the conflicts and joins then see two
    // spellings as PostgreSQL's index does.
    casts.push_back(absl::StrCat(
        AssignedValue(column, absl::StrCat("u.", Alias(i))),
        column.nondeterministic_collation.empty()
            ? ""
            : absl::StrCat(" COLLATE ", column.nondeterministic_collation),
        " AS ", Alias(i)));
    params.push_back(absl::StrCat("$", i + 1, "::text[]"));
    aliases.push_back(Alias(i));
  }
  return absl::StrCat("input AS (SELECT u.ord, ", absl::StrJoin(casts, ", "),
                      " FROM unnest(", absl::StrJoin(params, ", "),
                      ") WITH ORDINALITY AS u(", absl::StrJoin(aliases, ", "),
                      ", ord))");
}

// Join condition of `other` to input's key: `other` has the table's column
// names, or, with `by_alias`, input's positional aliases.
std::string KeyMatch(const InsertShape& shape, const std::string& other,
                     bool by_alias = false) {
  std::vector<std::string> terms;
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    if (!shape.table->IsKeyColumn(shape.columns[i])) continue;
    const Column& column = shape.table->columns[shape.columns[i]];
    terms.push_back(absl::StrCat(
        other, ".", by_alias ? Alias(i) : QuoteIdentifier(column.name),
        " = input.", Alias(i)));
  }
  return absl::StrJoin(terms, " AND ");
}

// The written rows' keys under input's aliases, so that no column name of
// the table meets the statement's own ("fresh").
std::string WrittenKeys(const InsertShape& shape) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    if (!shape.table->IsKeyColumn(shape.columns[i])) continue;
    keys.push_back(absl::StrCat(
        "t.", QuoteIdentifier(shape.table->columns[shape.columns[i]].name),
        " AS ", Alias(i)));
  }
  return absl::StrJoin(keys, ", ");
}

// True when `stored` already holds every non-key value of the input row.
std::string StoredEqualsInput(const InsertShape& shape) {
  std::vector<std::string> terms = {"TRUE"};
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    if (shape.table->IsKeyColumn(shape.columns[i])) continue;
    const Column& column = shape.table->columns[shape.columns[i]];
    terms.push_back(EqualExpr(column, "stored." + QuoteIdentifier(column.name),
                              "input." + Alias(i)));
  }
  return absl::StrJoin(terms, " AND ");
}

// The outcome of a row that was not written, from the row stored before the
// statement: a subquery, so that only rows that were not written look it up.
// No stored row (deleted since the conflict) is 0: the caller classifies
// those again.
std::string StoredOutcome(const InsertShape& shape) {
  int differs =
      shape.do_update ? v1::ROW_OUTCOME_STALE : v1::ROW_OUTCOME_CONFLICT;
  return absl::StrCat("COALESCE((SELECT CASE WHEN ", StoredEqualsInput(shape),
                      " THEN ", v1::ROW_OUTCOME_DUPLICATE, " ELSE ", differs,
                      " END FROM ", shape.table->sql_name, " AS stored WHERE ",
                      KeyMatch(shape, "stored"), "), 0)");
}

std::string KeyPartition(const InsertShape& shape) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    if (shape.table->IsKeyColumn(shape.columns[i])) {
      keys.push_back("input." + Alias(i));
    }
  }
  return absl::StrJoin(keys, ", ");
}

std::string ConflictAction(const InsertShape& shape) {
  std::vector<std::string> sets, equal = {"TRUE"};
  for (size_t index : shape.columns) {
    if (shape.table->IsKeyColumn(index)) continue;
    const Column& column = shape.table->columns[index];
    std::string name = QuoteIdentifier(column.name);
    sets.push_back(absl::StrCat(name, " = EXCLUDED.", name));
    equal.push_back(EqualExpr(column, "t." + name, "EXCLUDED." + name));
  }
  if (!MayUpdate(shape)) return "DO NOTHING";
  std::string guard;
  if (shape.version_column.has_value()) {
    std::string v =
        QuoteIdentifier(shape.table->columns[*shape.version_column].name);
    guard = absl::StrCat(" AND (t.", v, " IS NULL OR EXCLUDED.", v, " > t.", v,
                         ")");
  }
  return absl::StrCat("DO UPDATE SET ", absl::StrJoin(sets, ", "),
                      " WHERE NOT (", absl::StrJoin(equal, " AND "), ")",
                      guard);
}

}  // namespace

bool MayUpdate(const InsertShape& shape) {
  if (!shape.do_update) return false;
  for (size_t index : shape.columns) {
    if (!shape.table->IsKeyColumn(index)) return true;
  }
  return false;
}

bool operator==(const InsertShape& a, const InsertShape& b) {
  return a.table == b.table && a.columns == b.columns &&
         a.do_update == b.do_update && a.version_column == b.version_column &&
         a.returning == b.returning;
}

InsertSql BuildInsertSql(const InsertShape& shape) {
  const Table& table = *shape.table;
  std::vector<std::string> names, aliases, keys, returned;
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    names.push_back(QuoteIdentifier(table.columns[shape.columns[i]].name));
    aliases.push_back(Alias(i));
  }
  for (size_t index : table.primary_key) {
    keys.push_back(QuoteIdentifier(table.columns[index].name));
  }
  std::string same_key =
      absl::StrCat("count(*) OVER (PARTITION BY ", KeyPartition(shape), ")");

  InsertSql sql;
  // DO NOTHING: the outer query reads `stored` in the statement's snapshot,
  // i.e. before the insert: the row a conflicting input row met. DO UPDATE
  // decides on the latest version of the row, which may have been
  // committed while the statement waited for its lock, after the snapshot:
  // rows it did not write are left at 0 and classified by a statement of
  // their own, which sees that version (the write holds its lock).
  const std::string not_written = shape.do_update ? "0" : StoredOutcome(shape);
  // A row that may have been updated tells it by its xmax (0 when the
  // statement inserted it), which a partitioned table does not show: ShapeOf
  // sends no update there. Without one, every written row is new.
  const std::string fresh = MayUpdate(shape) ? "(t.xmax = 0)" : "TRUE";
  sql.write = absl::StrCat(
      "WITH ", InputCte(shape), ", written AS (INSERT INTO ", table.sql_name,
      " AS t (", absl::StrJoin(names, ", "), ") SELECT ",
      absl::StrJoin(aliases, ", "), " FROM input ORDER BY ord ON CONFLICT (",
      absl::StrJoin(keys, ", "), ") ", ConflictAction(shape), " RETURNING ",
      WrittenKeys(shape), ", ", fresh, " AS fresh) ",
      "SELECT input.ord, CASE WHEN written.fresh THEN ",
      v1::ROW_OUTCOME_INSERTED, " WHEN written.fresh IS NOT NULL THEN ",
      v1::ROW_OUTCOME_UPDATED, " ELSE ", not_written, " END, ", same_key,
      " FROM input LEFT JOIN written ON ",
      KeyMatch(shape, "written", /*by_alias=*/true), " ORDER BY input.ord");
  sql.classify = absl::StrCat("WITH ", InputCte(shape), " SELECT input.ord, ",
                              StoredOutcome(shape), ", ", same_key,
                              " FROM input ORDER BY input.ord");
  sql.rounds = absl::StrCat("WITH ", InputCte(shape),
                            " SELECT row_number() OVER (PARTITION BY ",
                            KeyPartition(shape),
                            " ORDER BY input.ord) - 1 FROM input ORDER BY "
                            "input.ord");
  if (!shape.returning.empty()) {
    std::vector<std::string> columns;
    for (size_t index : shape.returning) {
      columns.push_back("t." + QuoteIdentifier(table.columns[index].name));
    }
    sql.returning = absl::StrCat(
        "WITH ", InputCte(shape), " SELECT input.ord, ",
        absl::StrJoin(columns, ", "), " FROM input LEFT JOIN ", table.sql_name,
        " AS t ON ", KeyMatch(shape, "t"), " ORDER BY input.ord");
  }
  return sql;
}

}  // namespace idem::db
