#include "service/ops/insert_op.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"
#include "service/db/value_decoding.h"
#include "service/db/value_encoding.h"
#include "service/ops/column_resolution.h"
#include "service/ops/failure_location.h"
#include "service/ops/group_commit.h"
#include "service/ops/insert_rounds.h"

namespace idem::ops {
namespace {

// Every column `request` names, written or returned.
std::vector<std::string> NamesIn(const v1::InsertRequest& request) {
  std::vector<std::string> names(request.returning().begin(),
                                 request.returning().end());
  if (!request.rows().empty()) {
    for (const auto& [name, value] : request.rows(0).columns()) {
      names.push_back(name);
    }
  }
  return names;
}

// FAILED_PRECONDITION for what `table`'s definition keeps an Insert from
// doing: the table must change, not the request.
absl::Status TableRefuses(const db::Table& table, absl::string_view why) {
  return WithErrorMetadata(absl::FailedPreconditionError(
                               absl::StrCat("table ", table.name, " ", why)),
                           "table", table.name);
}

absl::StatusOr<db::InsertShape> ShapeOf(const db::Table& table,
                                        const v1::InsertRequest& request) {
  db::InsertShape shape;
  shape.table = &table;
  if (table.primary_key.empty()) {
    return TableRefuses(
        table, "has no primary key, so a repeated insert cannot be recognised");
  }
  if (table.primary_key_deferrable) {
    return TableRefuses(table,
                        "has a DEFERRABLE primary key, which PostgreSQL "
                        "cannot check conflicts against; make it NOT "
                        "DEFERRABLE to insert through idem");
  }
  for (const auto& [name, value] : request.rows(0).columns()) {
    absl::StatusOr<size_t> index = WritableColumn(table, name);
    if (!index.ok()) return WithErrorMetadata(index.status(), "row", "0");
    shape.columns.push_back(*index);
  }
  std::sort(shape.columns.begin(), shape.columns.end());
  for (size_t key : table.primary_key) {
    if (!std::binary_search(shape.columns.begin(), shape.columns.end(), key)) {
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat("every row needs primary-key column \"",
                       table.columns[key].name, "\""),
          {{"table", table.name}, {"column", table.columns[key].name}});
    }
  }
  for (const std::string& name : request.returning()) {
    std::optional<size_t> index = table.FindColumn(name);
    if (!index.has_value()) {
      return Error(Reason::kColumnUnknown,
                   absl::StrCat("table ", table.name, " has no column \"", name,
                                "\" to return"),
                   {{"table", table.name}, {"column", name}});
    }
    shape.returning.push_back(*index);
  }
  switch (request.on_conflict()) {
    case v1::ON_CONFLICT_UNSPECIFIED:
    case v1::ON_CONFLICT_DO_NOTHING:
      break;
    case v1::ON_CONFLICT_DO_UPDATE:
      shape.do_update = true;
      break;
    default:
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat("unknown on_conflict value ", request.on_conflict()));
  }
  if (table.partitioned && db::MayUpdate(shape)) {
    return TableRefuses(table,
                        "is partitioned, where an upsert "
                        "(ON_CONFLICT_DO_UPDATE) cannot tell an inserted row "
                        "from an updated one; use ON_CONFLICT_DO_NOTHING, or "
                        "Update");
  }
  if (!request.version_column().empty()) {
    if (!shape.do_update) {
      return Error(Reason::kRequestInvalid,
                   "version_column applies only to ON_CONFLICT_DO_UPDATE",
                   {{"column", request.version_column()}});
    }
    std::optional<size_t> version = table.FindColumn(request.version_column());
    if (!version.has_value() || table.IsKeyColumn(*version) ||
        !std::binary_search(shape.columns.begin(), shape.columns.end(),
                            *version)) {
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat("version_column \"", request.version_column(),
                       "\" must be a non-key column given in every row"),
          {{"column", request.version_column()}});
    }
    shape.version_column = version;
  }
  return shape;
}

// Row 0 gave the shape, whose columns the catalog knows. A later row that
// differs from it may name a column the table lacks: that is what its
// caller must hear of (COLUMN_UNKNOWN, its row), rather than that the rows
// differ. Checked only for a row that differs: no cost for the others.
absl::Status AllColumnsKnown(const db::Table& table,
                             const v1::InsertRequest& request, int r) {
  for (const auto& [name, value] : request.rows(r).columns()) {
    if (!table.FindColumn(name).has_value()) {
      return Error(
          Reason::kColumnUnknown,
          absl::StrCat("row ", r, ": table ", table.name, " has no column \"",
                       name, "\""),
          {{"table", table.name}, {"column", name}, {"row", absl::StrCat(r)}});
    }
  }
  return absl::OkStatus();
}

// The shape, values and statement of `insert`, whose table is found.
absl::Status FillInsert(const OpsContext& context,
                        const v1::InsertRequest& request,
                        PreparedInsert& insert) {
  absl::StatusOr<db::InsertShape> shape = ShapeOf(*insert.table, request);
  if (!shape.ok()) return shape.status();
  insert.shape = *std::move(shape);
  insert.row_count = request.rows_size();

  const std::vector<size_t>& columns = insert.shape.columns;
  std::vector<std::vector<db::TextParam>>& values = insert.values;
  values.resize(columns.size());
  for (int r = 0; r < request.rows_size(); ++r) {
    const auto& row = request.rows(r).columns();
    if (row.size() != columns.size()) {
      if (absl::Status known = AllColumnsKnown(*insert.table, request, r);
          !known.ok()) {
        return known;
      }
      return Error(Reason::kRequestInvalid,
                   absl::StrCat("row ", r, " names ", row.size(),
                                " columns; every row of an "
                                "insert must name the same ",
                                columns.size(), " columns"),
                   {{"row", absl::StrCat(r)}});
    }
    for (size_t c = 0; c < columns.size(); ++c) {
      const db::Column& column = insert.table->columns[columns[c]];
      auto it = row.find(column.name);
      if (it == row.end()) {
        if (absl::Status known = AllColumnsKnown(*insert.table, request, r);
            !known.ok()) {
          return known;
        }
        return Error(
            Reason::kRequestInvalid,
            absl::StrCat(
                "row ", r, " lacks column \"", column.name,
                "\"; every row of an insert must name the same columns"),
            {{"row", absl::StrCat(r)}, {"column", column.name}});
      }
      if (columns[c] == insert.shape.version_column &&
          it->second.has_null_value()) {
        return Error(Reason::kRequestInvalid,
                     absl::StrCat("row ", r, ": the value of version_column \"",
                                  column.name, "\" cannot be null"),
                     {{"column", column.name}, {"row", absl::StrCat(r)}});
      }
      absl::StatusOr<db::TextParam> text = db::EncodeValue(it->second, column);
      if (!text.ok()) {
        return WithErrorMetadata(
            WithMessagePrefix(text.status(), absl::StrCat("row ", r, ": ")),
            "row", absl::StrCat(r));
      }
      values[c].push_back(*std::move(text));
      if (insert.table->IsKeyColumn(columns[c]) &&
          !db::SpelledOneWay(it->second, column)) {
        insert.keys_spelled_freely = true;
      }
    }
  }
  // Once the rows are good: a refused insert builds no SQL.
  insert.sql = context.insert_sql->Get(insert.table, insert.shape);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PreparedInsert> PrepareInsert(const OpsContext& context,
                                             const v1::InsertRequest& request) {
  if (request.rows().empty()) {
    return Error(Reason::kRequestInvalid, "an insert needs at least one row");
  }
  if (static_cast<size_t>(request.rows_size()) >
      context.limits.max_rows_per_insert) {
    return Error(Reason::kLimitExceeded,
                 absl::StrCat("an insert takes at most ",
                              context.limits.max_rows_per_insert, " rows; got ",
                              request.rows_size()));
  }
  PreparedInsert insert;
  // A column missing from the catalog makes it look the table up again.
  absl::StatusOr<std::shared_ptr<const db::Table>> table =
      FindTableWithColumns(*context.catalog, request.table(), NamesIn(request));
  if (!table.ok()) return table.status();
  insert.table = *std::move(table);
  if (absl::Status filled = FillInsert(context, request, insert);
      !filled.ok()) {
    return OfRequestFor(std::move(filled), *insert.table);
  }
  return insert;
}

namespace {

// Writes the rows `round` (numbered across the inserts) with one statement
// and sets their outcomes.
absl::Status WriteRound(db::Transaction& txn, const db::InsertSql& sql,
                        const std::vector<const PreparedInsert*>& inserts,
                        const std::vector<size_t>& round,
                        std::vector<int>& outcomes) {
  const db::Table& table = *inserts.front()->table;
  const std::vector<db::TextParam> params = RowParams(inserts, round);
  bool unresolved = false;
  for (const pqxx::row& row : txn.Exec(sql.write, params)) {
    const size_t at = round[row[0].as<size_t>() - 1];
    if (row[2].as<long long>() > 1) {
      // Two spellings of one key in one round: only across the calls of a
      // batch, whose keys are compared by their text; the batch runs them
      // again one call at a time, and then each call's own rounds apply.
      return Error(Reason::kRequestInvalid,
                   absl::StrCat("row ", at,
                                " names the primary key of another row in "
                                "another spelling; spell it the same way"),
                   {{"row", absl::StrCat(at)}});
    }
    outcomes[at] = row[1].as<int>();
    unresolved = unresolved || outcomes[at] == 0;
  }
  if (!unresolved) return absl::OkStatus();
  // Rows whose stored version the write's snapshot did not show: a new
  // statement sees it (READ COMMITTED).
  for (const pqxx::row& row : txn.Exec(sql.classify, params)) {
    int& outcome = outcomes[round[row[0].as<size_t>() - 1]];
    if (outcome == 0) outcome = row[1].as<int>();
    if (outcome == 0 && table.rows_may_change_unseen) {
      // Not written under its key, and no row stored under it: a trigger
      // changed its key or skipped it, or row security hides the row it
      // met. The same row would meet the same again.
      const std::string at = absl::StrCat(round[row[0].as<size_t>() - 1]);
      return WithErrorMetadata(
          TableRefuses(
              table,
              absl::StrCat("neither took row ", at,
                           " under its primary key nor shows a row with that "
                           "key (a trigger changed or skipped it, or row "
                           "security hides it), so its outcome cannot be "
                           "told")),
          "row", at);
    }
    if (outcome == 0) {
      return RowLocked("a concurrent transaction changed the same keys; retry");
    }
  }
  return absl::OkStatus();
}

// The rounds of InsertRounds, with keys that may be spelled two ways
// compared by PostgreSQL: one statement more, only for such rows.
std::vector<std::vector<size_t>> PlanRounds(
    db::Transaction& txn, const db::InsertSql& sql,
    const std::vector<const PreparedInsert*>& inserts) {
  if (!KeysNeedTypedCompare(inserts)) return InsertRounds(inserts);
  size_t row_count = 0;
  for (const PreparedInsert* insert : inserts) row_count += insert->row_count;
  std::vector<size_t> all_rows(row_count);
  std::iota(all_rows.begin(), all_rows.end(), 0);
  std::vector<size_t> earlier;
  for (const pqxx::row& row :
       txn.Exec(sql.rounds, RowParams(inserts, all_rows))) {
    earlier.push_back(row[0].as<size_t>());
  }
  return RoundsOf(earlier);
}

void Count(v1::RowOutcome outcome, v1::InsertResponse& response) {
  switch (outcome) {
    case v1::ROW_OUTCOME_INSERTED:
      response.set_inserted(response.inserted() + 1);
      break;
    case v1::ROW_OUTCOME_DUPLICATE:
      response.set_duplicates(response.duplicates() + 1);
      break;
    case v1::ROW_OUTCOME_CONFLICT:
      response.set_conflicts(response.conflicts() + 1);
      break;
    case v1::ROW_OUTCOME_UPDATED:
      response.set_updated(response.updated() + 1);
      break;
    case v1::ROW_OUTCOME_STALE:
      response.set_stale(response.stale() + 1);
      break;
    default:
      break;
  }
}

}  // namespace

absl::StatusOr<std::vector<v1::InsertResponse>> ExecuteInserts(
    db::Transaction& txn, const std::vector<const PreparedInsert*>& inserts) {
  const db::InsertShape& shape = inserts.front()->shape;
  const db::InsertSql& sql = *inserts.front()->sql;
  const std::vector<std::vector<size_t>> rounds = PlanRounds(txn, sql, inserts);
  if (!sql.returning.empty() && inserts.size() > 1 && rounds.size() > 1) {
    // Calls writing one key more than once: the row is read back once, after
    // the statement, so each call runs on its own, in order, to read the row
    // as its own insert left it.
    std::vector<v1::InsertResponse> responses;
    for (const PreparedInsert* insert : inserts) {
      absl::StatusOr<std::vector<v1::InsertResponse>> alone =
          ExecuteInserts(txn, {insert});
      if (!alone.ok()) return alone.status();
      responses.push_back(std::move(alone->front()));
    }
    return responses;
  }
  size_t row_count = 0;
  for (const PreparedInsert* insert : inserts) row_count += insert->row_count;
  std::vector<int> outcomes(row_count, 0);
  for (const std::vector<size_t>& round : rounds) {
    if (absl::Status written = WriteRound(txn, sql, inserts, round, outcomes);
        !written.ok()) {
      return written;
    }
  }
  pqxx::result returned;
  if (!sql.returning.empty()) {
    std::vector<size_t> every_row(row_count);
    for (size_t row = 0; row < row_count; ++row) every_row[row] = row;
    returned = txn.Exec(sql.returning, RowParams(inserts, every_row));
  }

  std::vector<v1::InsertResponse> responses;
  size_t row = 0;
  for (const PreparedInsert* insert : inserts) {
    v1::InsertResponse& response = responses.emplace_back();
    for (size_t r = 0; r < insert->row_count; ++r, ++row) {
      const auto outcome = static_cast<v1::RowOutcome>(outcomes[row]);
      response.add_outcomes(outcome);
      Count(outcome, response);
      if (returned.empty()) continue;
      auto& columns = *response.add_returned()->mutable_columns();
      for (size_t c = 0; c < shape.returning.size(); ++c) {
        const db::Column& column = shape.table->columns[shape.returning[c]];
        columns[column.name] = db::DecodeValue(
            returned[static_cast<int>(row)][static_cast<int>(c + 1)], column);
      }
    }
  }
  return responses;
}

bool PreparesOnReceivingThread(const OpsContext& context,
                               const v1::InsertRequest& request) {
  return static_cast<size_t>(request.rows_size()) <=
             kMaxRowsOnReceivingThread &&
         LoadedWithColumns(*context.catalog, request.table(), NamesIn(request));
}

bool RunInsert(
    const OpsContext& context, const std::string& tenant,
    const v1::InsertRequest& request,
    const std::function<void(absl::StatusOr<v1::InsertResponse>)>& done,
    PendingWrites& writes, RunsOn runs_on) {
  if (runs_on == RunsOn::kReceivingThread &&
      !PreparesOnReceivingThread(context, request)) {
    return false;
  }
  absl::StatusOr<PreparedInsert> insert = PrepareInsert(context, request);
  if (!insert.ok()) {
    done(insert.status());
    return true;
  }
  writes.Add(WriteCall{tenant, *std::move(insert), std::nullopt},
             [done](keys::Answer outcome) {
               if (!outcome.status.ok()) {
                 done(std::move(outcome.status));
               } else {
                 done(std::move(*outcome.response.mutable_insert()));
               }
             });
  return true;
}

}  // namespace idem::ops
