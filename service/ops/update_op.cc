#include "service/ops/update_op.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/db/transaction.h"
#include "service/db/value_encoding.h"
#include "service/ops/column_resolution.h"
#include "service/ops/failure_location.h"

namespace idem::ops {
namespace {

std::vector<std::string> NamesIn(const v1::UpdateRequest& request) {
  std::vector<std::string> names;
  for (const v1::Row* row :
       {&request.key(), &request.set(), &request.increment()}) {
    for (const auto& [name, value] : row->columns()) names.push_back(name);
  }
  return names;
}

// The columns of `row` as (table index -> value), in table order, refusing
// key columns: set and increment never move a row to another key.
absl::StatusOr<std::map<size_t, const v1::Value*>> NonKeyColumns(
    const db::Table& table, const v1::Row& row, absl::string_view role) {
  std::map<size_t, const v1::Value*> columns;
  for (const auto& [name, value] : row.columns()) {
    absl::StatusOr<size_t> index = WritableColumn(table, name);
    if (!index.ok()) return index.status();
    if (table.IsKeyColumn(*index)) {
      return Error(Reason::kRequestInvalid,
                   absl::StrCat(role, " cannot change primary-key column \"",
                                name, "\""),
                   {{"column", name}});
    }
    columns.emplace(*index, &value);
  }
  return columns;
}

absl::Status AddParam(const v1::Value& value, const db::Table& table,
                      const db::Column& column,
                      std::vector<db::TextParam>& params) {
  absl::StatusOr<db::TextParam> text = db::EncodeValue(value, column);
  if (!text.ok()) return WithErrorMetadata(text.status(), "table", table.name);
  params.push_back(*std::move(text));
  return absl::OkStatus();
}

// The key's parameters, in primary-key order: exactly the primary-key
// columns, none null.
absl::Status AddKeyParams(const db::Table& table, const v1::Row& key,
                          std::vector<db::TextParam>& params) {
  for (const auto& [name, value] : key.columns()) {
    std::optional<size_t> index = table.FindColumn(name);
    if (!index.has_value()) {
      return Error(
          Reason::kColumnUnknown,
          absl::StrCat("table ", table.name, " has no column \"", name, "\""),
          {{"table", table.name}, {"column", name}});
    }
    if (!table.IsKeyColumn(*index)) {
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat("key column \"", name,
                       "\" is not part of the primary key of ", table.name),
          {{"table", table.name}, {"column", name}});
    }
  }
  for (size_t index : table.primary_key) {
    const db::Column& column = table.columns[index];
    auto it = key.columns().find(column.name);
    if (it == key.columns().end()) {
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat("key lacks primary-key column \"", column.name, "\""),
          {{"column", column.name}});
    }
    if (it->second.has_null_value()) {
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat("key column \"", column.name, "\" cannot be null"),
          {{"column", column.name}});
    }
    if (absl::Status s = AddParam(it->second, table, column, params); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

using Changes = std::map<size_t, const v1::Value*>;

// The set and increment columns into `update`'s shape and parameters: at
// least one, none in both, increments numeric.
absl::Status AddChanges(const db::Table& table, const Changes& set,
                        const Changes& increment, PreparedUpdate& update) {
  if (set.empty() && increment.empty()) {
    return Error(Reason::kRequestInvalid,
                 "an update needs at least one column in set or increment");
  }
  for (const auto& [index, value] : set) {
    if (increment.count(index) > 0) {
      return Error(Reason::kRequestInvalid,
                   absl::StrCat("column \"", table.columns[index].name,
                                "\" is both in set and in increment"),
                   {{"column", table.columns[index].name}});
    }
    update.shape.set_columns.push_back(index);
    if (absl::Status s =
            AddParam(*value, table, table.columns[index], update.params);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [index, value] : increment) {
    const db::Column& column = table.columns[index];
    if (column.category != 'N' || value->has_null_value()) {
      return Error(
          Reason::kValueInvalid,
          absl::StrCat(
              "increment needs a numeric column and a number; column \"",
              column.name, "\" has type ", column.type),
          {{"table", table.name}, {"column", column.name}});
    }
    update.shape.increment_columns.push_back(index);
    if (absl::Status s = AddParam(*value, table, column, update.params);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// The version column: one of the set columns, set to a non-null value.
absl::StatusOr<size_t> VersionColumn(const db::Table& table,
                                     const std::string& name,
                                     const Changes& set) {
  std::optional<size_t> version = table.FindColumn(name);
  if (!version.has_value() || set.count(*version) == 0) {
    return Error(Reason::kRequestInvalid,
                 absl::StrCat("version_column \"", name,
                              "\" must be one of the columns in set"),
                 {{"column", name}});
  }
  if (set.at(*version)->has_null_value()) {
    return Error(Reason::kRequestInvalid,
                 "the new value of version_column cannot be null",
                 {{"column", name}});
  }
  return *version;
}

// The key, changes, guard and statement of `update`, whose table is found.
absl::Status FillUpdate(const v1::UpdateRequest& request,
                        PreparedUpdate& update) {
  const db::Table& table = *update.table;
  update.shape.table = &table;
  if (table.primary_key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table ", table.name, " has no primary key to find the row by"));
  }
  if (absl::Status key = AddKeyParams(table, request.key(), update.params);
      !key.ok()) {
    return key;
  }
  absl::StatusOr<Changes> set = NonKeyColumns(table, request.set(), "set");
  if (!set.ok()) return set.status();
  absl::StatusOr<Changes> increment =
      NonKeyColumns(table, request.increment(), "increment");
  if (!increment.ok()) return increment.status();
  if (absl::Status changes = AddChanges(table, *set, *increment, update);
      !changes.ok()) {
    return changes;
  }
  if (!request.version_column().empty()) {
    absl::StatusOr<size_t> version =
        VersionColumn(table, request.version_column(), *set);
    if (!version.ok()) return version.status();
    update.shape.version_column = *version;
  }
  update.sql = db::BuildUpdateSql(update.shape);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PreparedUpdate> PrepareUpdate(const OpsContext& context,
                                             const v1::UpdateRequest& request) {
  PreparedUpdate update;
  absl::StatusOr<std::shared_ptr<const db::Table>> found =
      FindTableWithColumns(*context.catalog, request.table(), NamesIn(request));
  if (!found.ok()) return found.status();
  update.table = *std::move(found);
  if (absl::Status filled = FillUpdate(request, update); !filled.ok()) {
    return OfRequestFor(std::move(filled), *update.table);
  }
  return update;
}

bool PreparesOnReceivingThread(const OpsContext& context,
                               const v1::UpdateRequest& request) {
  return LoadedWithColumns(*context.catalog, request.table(), NamesIn(request));
}

absl::StatusOr<v1::UpdateResponse> ExecuteUpdate(db::Transaction& txn,
                                                 const PreparedUpdate& update) {
  const db::UpdateSql& sql = update.sql;
  v1::UpdateResponse response;
  pqxx::result probe = txn.Exec(sql.probe_and_apply, update.params);
  if (probe.empty()) {
    response.set_outcome(v1::UPDATE_OUTCOME_NOT_FOUND);
  } else if (!probe[0][0].as<bool>()) {
    response.set_outcome(v1::UPDATE_OUTCOME_UNCHANGED);
  } else if (!probe[0][1].as<bool>()) {
    response.set_outcome(v1::UPDATE_OUTCOME_STALE);
  } else {
    response.set_outcome(v1::UPDATE_OUTCOME_UPDATED);
  }
  return response;
}

absl::StatusOr<v1::UpdateResponse> RunUpdate(const OpsContext& context,
                                             const v1::UpdateRequest& request) {
  absl::StatusOr<PreparedUpdate> update = PrepareUpdate(context, request);
  if (!update.ok()) return update.status();
  // One statement, atomic on its own: no BEGIN and COMMIT round trips.
  absl::StatusOr<v1::UpdateResponse> updated = db::RunAutocommit(
      *context.pool,
      [&](db::Transaction& txn) { return ExecuteUpdate(txn, *update); });
  if (!updated.ok()) return LocateFailure(updated.status(), *update);
  return updated;
}

}  // namespace idem::ops
