#include "tests/support/values.h"

namespace idem::testing {

v1::Value Int(int64_t value) {
  v1::Value v;
  v.set_int_value(value);
  return v;
}

v1::Value Dbl(double value) {
  v1::Value v;
  v.set_double_value(value);
  return v;
}

v1::Value Str(const std::string& value) {
  v1::Value v;
  v.set_string_value(value);
  return v;
}

v1::Value Bool(bool value) {
  v1::Value v;
  v.set_bool_value(value);
  return v;
}

v1::Value Bytes(const std::string& value) {
  v1::Value v;
  v.set_bytes_value(value);
  return v;
}

v1::Value Null() {
  v1::Value v;
  v.set_null_value(google::protobuf::NULL_VALUE);
  return v;
}

v1::Row RowOf(const Columns& columns) {
  v1::Row row;
  for (const auto& [name, value] : columns) {
    (*row.mutable_columns())[name] = value;
  }
  return row;
}

}  // namespace idem::testing
