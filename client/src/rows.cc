#include "idem/rows.h"

namespace idem {

Cell::Cell(std::nullptr_t) {
  value_.set_null_value(google::protobuf::NULL_VALUE);
}
Cell::Cell(bool value) { value_.set_bool_value(value); }
Cell::Cell(double value) { value_.set_double_value(value); }
Cell::Cell(const char* value) { value_.set_string_value(value); }
Cell::Cell(absl::string_view value) {
  value_.set_string_value(std::string(value));
}
Cell::Cell(std::string value) { value_.set_string_value(std::move(value)); }
Cell::Cell(v1::Value value) : value_(std::move(value)) {}

Cell Cell::Bytes(std::string value) {
  Cell cell;
  cell.value_.set_bytes_value(std::move(value));
  return cell;
}

v1::Row MakeRow(
    std::initializer_list<std::pair<absl::string_view, Cell>> cells) {
  v1::Row row;
  for (const auto& [name, cell] : cells) {
    (*row.mutable_columns())[std::string(name)] = cell.value();
  }
  return row;
}

}  // namespace idem
