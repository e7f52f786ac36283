#include "service/ops/column_resolution.h"

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::ops {
namespace {

bool HasColumns(const db::Table& table,
                const std::vector<std::string>& column_names) {
  for (const std::string& name : column_names) {
    if (!table.FindColumn(name).has_value()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const db::Table>> FindTableWithColumns(
    db::Catalog& catalog, const std::string& table_name,
    const std::vector<std::string>& column_names) {
  if (table_name.empty()) {
    return Error(Reason::kRequestInvalid, "table is required");
  }
  absl::StatusOr<std::shared_ptr<const db::Table>> table =
      catalog.Find(table_name);
  if (!table.ok() || HasColumns(**table, column_names)) return table;
  return catalog.Reload(**table);
}

bool LoadedWithColumns(const db::Catalog& catalog,
                       const std::string& table_name,
                       const std::vector<std::string>& column_names) {
  std::shared_ptr<const db::Table> table = catalog.FindLoaded(table_name);
  return table != nullptr && HasColumns(*table, column_names);
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
