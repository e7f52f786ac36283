#ifndef IDEM_ROWS_H_
#define IDEM_ROWS_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/string_view.h"
#include "idem/v1/idem.pb.h"

namespace idem {

// One column value built from a plain C++ value:
//   nullptr -> null, bool, any integer -> int64, float/double, text -> string.
// Bytes need Cell::Bytes() because std::string means text.
// Timestamps, numerics, json and uuids travel as text and are cast by the
// server to the column's type.
class Cell {
 public:
  Cell(std::nullptr_t);  // NOLINT: implicit by design, for MakeRow lists
  Cell(bool value);      // NOLINT
  template <typename Int, std::enable_if_t<std::is_integral_v<Int> &&
                                               !std::is_same_v<Int, bool>,
                                           int> = 0>
  Cell(Int value) {  // NOLINT
    value_.set_int_value(static_cast<int64_t>(value));
  }
  Cell(double value);             // NOLINT
  Cell(const char* value);        // NOLINT
  Cell(absl::string_view value);  // NOLINT
  Cell(std::string value);        // NOLINT
  Cell(v1::Value value);          // NOLINT

  static Cell Bytes(std::string value);

  const v1::Value& value() const& { return value_; }
  v1::Value value() && { return std::move(value_); }

 private:
  Cell() = default;
  v1::Value value_;
};

// MakeRow({{"id", 42}, {"name", "Ada"}, {"deleted_at", nullptr}})
v1::Row MakeRow(
    std::initializer_list<std::pair<absl::string_view, Cell>> cells);

}  // namespace idem

#endif  // IDEM_ROWS_H_
