#include "service/ops/column_resolution.h"

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::ops {

absl::StatusOr<std::shared_ptr<const db::Table>> FindTableWithColumns(
    db::Catalog& catalog, const std::string& table_name,
    const std::vector<std::string>& column_names) {
  if (table_name.empty()) {
    return Error(Reason::kRequestInvalid, "table is required");
  }
  absl::StatusOr<std::shared_ptr<const db::Table>> table =
      catalog.Find(table_name);
  if (!table.ok()) return table;
  for (const std::string& name : column_names) {
    if (!(*table)->FindColumn(name).has_value()) {
      return catalog.Reload(**table);
    }
  }
  return table;
}

bool LoadedWithColumns(const db::Catalog& catalog,
                       const std::string& table_name,
                       const std::vector<std::string>& column_names) {
  std::shared_ptr<const db::Table> table = catalog.FindLoaded(table_name);
  if (table == nullptr) return false;
  for (const std::string& name : column_names) {
    if (!table->FindColumn(name).has_value()) return false;
  }
  return true;
}

absl::StatusOr<size_t> WritableColumn(const db::Table& table,
                                      const std::string& name) {
  std::optional<size_t> index = table.FindColumn(name);
  if (!index.has_value()) {
    return Error(
        Reason::kColumnUnknown,
        absl::StrCat("table ", table.name, " has no column \"", name, "\""),
        {{"table", table.name}, {"column", name}});
  }
  if (table.columns[*index].generated) {
    return Error(Reason::kValueInvalid,
                 absl::StrCat("column \"", name, "\" of table ", table.name,
                              " is generated and cannot be written"),
                 {{"table", table.name}, {"column", name}});
  }
  return *index;
}

}  // namespace idem::ops
