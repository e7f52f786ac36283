#include "service/db/value_decoding.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace idem::db {
namespace {

bool IsInteger(const Column& column) {
  return column.type_name == "int2" || column.type_name == "int4" ||
         column.type_name == "int8";
}

bool IsFloat(const Column& column) {
  return column.type_name == "float4" || column.type_name == "float8";
}

double ParseFloat(absl::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  double value = 0;
  (void)absl::SimpleAtod(text, &value);
  return value;
}

}  // namespace

v1::Value DecodeValue(const pqxx::field& field, const Column& column) {
  v1::Value value;
  if (field.is_null()) {
    value.set_null_value(google::protobuf::NULL_VALUE);
    return value;
  }
  absl::string_view text(field.c_str(), field.size());
  int64_t integer = 0;
  if (column.type_name == "bool") {
    value.set_bool_value(text == "t");
  } else if (IsInteger(column) && absl::SimpleAtoi(text, &integer)) {
    value.set_int_value(integer);
  } else if (IsFloat(column)) {
    value.set_double_value(ParseFloat(text));
  } else if (column.type_name == "bytea" && absl::ConsumePrefix(&text, "\\x")) {
    value.set_bytes_value(absl::HexStringToBytes(text));
  } else {
    value.set_string_value(std::string(text));
  }
  return value;
}

}  // namespace idem::db
