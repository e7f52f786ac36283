#include "json_requests.h"

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "json_values.h"

namespace idemctl {
namespace {

using idem::v1::InsertRequest;
using idem::v1::UpdateRequest;
using nlohmann::json;

// `object` is a JSON object of `fields` only, with the first `required`
// of them.
absl::Status CheckFields(const json& object,
                         std::initializer_list<const char*> fields,
                         size_t required, const char* what) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is a JSON object, not ", object.dump()));
  }
  for (const auto& [name, value] : object.items()) {
    bool known = false;
    for (const char* field : fields) known = known || name == field;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has no field \"", name, "\" (it has ",
                       absl::StrJoin(fields, ", "), ")"));
    }
  }
  size_t index = 0;
  for (const char* field : fields) {
    if (index++ < required && !object.contains(field)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " needs \"", field, "\""));
    }
  }
  return absl::OkStatus();
}

// A string field; empty when absent.
absl::StatusOr<std::string> StringField(const json& object, const char* name) {
  if (!object.contains(name)) return std::string();
  if (!object.at(name).is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name, "\" is a string, not ", object.at(name).dump()));
  }
  return object.at(name).get<std::string>();
}

// A row-valued field into `row`; left empty when absent.
absl::Status RowField(const json& object, const char* name,
                      idem::v1::Row* row) {
  if (!object.contains(name)) return absl::OkStatus();
  absl::StatusOr<idem::v1::Row> parsed = ToRow(object.at(name));
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\": ", parsed.status().message()));
  }
  *row = *std::move(parsed);
  return absl::OkStatus();
}

// "table" and "version_column", which inserts and updates share.
template <typename Request>
absl::Status ReadTableAndVersion(const json& object, Request& request) {
  absl::StatusOr<std::string> table = StringField(object, "table");
  if (!table.ok()) return table.status();
  absl::StatusOr<std::string> version = StringField(object, "version_column");
  if (!version.ok()) return version.status();
  request.set_table(*std::move(table));
  request.set_version_column(*std::move(version));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InsertRequest> ToInsertRequest(const json& object) {
  InsertRequest request;
  for (const absl::Status& status :
       {CheckFields(object, {"table", "rows", "on_conflict", "version_column"},
                    2, "an insert"),
        ReadTableAndVersion(object, request)}) {
    if (!status.ok()) return status;
  }
  absl::StatusOr<std::string> on_conflict = StringField(object, "on_conflict");
  if (!on_conflict.ok()) return on_conflict.status();
  if (!on_conflict->empty() && *on_conflict != "do-nothing" &&
      *on_conflict != "do-update") {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"on_conflict\" is do-nothing or do-update, not ", *on_conflict));
  }
  request.set_on_conflict(*on_conflict == "do-update"
                              ? idem::v1::ON_CONFLICT_DO_UPDATE
                              : idem::v1::ON_CONFLICT_DO_NOTHING);
  absl::StatusOr<std::vector<idem::v1::Row>> rows = ToRows(object.at("rows"));
  if (!rows.ok()) return rows.status();
  for (idem::v1::Row& row : *rows) *request.add_rows() = std::move(row);
  return request;
}

absl::StatusOr<UpdateRequest> ToUpdateRequest(const json& object) {
  UpdateRequest request;
  for (const absl::Status& status :
       {CheckFields(object,
                    {"table", "where", "set", "increment", "version_column"}, 2,
                    "an update"),
        ReadTableAndVersion(object, request),
        RowField(object, "where", request.mutable_key()),
        RowField(object, "set", request.mutable_set()),
        RowField(object, "increment", request.mutable_increment())}) {
    if (!status.ok()) return status;
  }
  return request;
}

absl::StatusOr<idem::Transaction> ToTransaction(const json& steps) {
  if (!steps.is_array() || steps.empty()) {
    return absl::InvalidArgumentError(
        "the steps are a non-empty JSON array of {\"insert\": {...}} and "
        "{\"update\": {...}} objects");
  }
  idem::Transaction transaction;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& step = steps[i];
    auto at_step = [i](const absl::Status& status) {
      return absl::InvalidArgumentError(
          absl::StrCat("step ", i, ": ", status.message()));
    };
    if (absl::Status status = CheckFields(
            step, {"insert", "update", "require_applied"}, 0, "a step");
        !status.ok()) {
      return at_step(status);
    }
    if (step.contains("insert") == step.contains("update")) {
      return at_step(absl::InvalidArgumentError(
          "a step is one \"insert\" or one \"update\""));
    }
    const json require_applied = step.value("require_applied", json(false));
    if (!require_applied.is_boolean()) {
      return at_step(
          absl::InvalidArgumentError("\"require_applied\" is true or false"));
    }
    if (step.contains("insert")) {
      absl::StatusOr<InsertRequest> insert = ToInsertRequest(step.at("insert"));
      if (!insert.ok()) return at_step(insert.status());
      transaction.Insert(*std::move(insert), require_applied.get<bool>());
    } else {
      absl::StatusOr<UpdateRequest> update = ToUpdateRequest(step.at("update"));
      if (!update.ok()) return at_step(update.status());
      transaction.Update(*std::move(update), require_applied.get<bool>());
    }
  }
  return transaction;
}

}  // namespace idemctl
