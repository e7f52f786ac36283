#include "json_values.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace idemctl {

using idem::v1::Row;
using idem::v1::Value;

absl::StatusOr<Value> ToValue(const nlohmann::json& json) {
  Value value;
  switch (json.type()) {
    case nlohmann::json::value_t::null:
      value.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case nlohmann::json::value_t::boolean:
      value.set_bool_value(json.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
      value.set_int_value(json.get<int64_t>());
      break;
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t number = json.get<uint64_t>();
      if (number > static_cast<uint64_t>(INT64_MAX)) {
        return absl::InvalidArgumentError(
            absl::StrCat(number, " does not fit a 64-bit signed integer"));
      }
      value.set_int_value(static_cast<int64_t>(number));
      break;
    }
    case nlohmann::json::value_t::number_float:
      value.set_double_value(json.get<double>());
      break;
    case nlohmann::json::value_t::string:
      value.set_string_value(json.get<std::string>());
      break;
    case nlohmann::json::value_t::object:
      if (json.size() == 1 && json.contains("$base64")) {
        std::string bytes;
        if (!json["$base64"].is_string() ||
            !absl::Base64Unescape(json["$base64"].get<std::string>(), &bytes)) {
          return absl::InvalidArgumentError("$base64 needs a base64 string");
        }
        value.set_bytes_value(std::move(bytes));
        break;
      }
      value.set_string_value(json.dump());
      break;
    default:  // arrays
      value.set_string_value(json.dump());
      break;
  }
  return value;
}

absl::StatusOr<Row> ToRow(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a row is a JSON object of columns, not ", json.dump()));
  }
  Row row;
  for (const auto& [column, cell] : json.items()) {
    absl::StatusOr<Value> value = ToValue(cell);
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", column, ": ", value.status().message()));
    }
    (*row.mutable_columns())[column] = *std::move(value);
  }
  return row;
}

absl::StatusOr<std::vector<Row>> ToRows(const nlohmann::json& json) {
  std::vector<Row> rows;
  for (const nlohmann::json& item :
       json.is_array() ? json : nlohmann::json::array({json})) {
    absl::StatusOr<Row> row = ToRow(item);
    if (!row.ok()) return row.status();
    rows.push_back(*std::move(row));
  }
  return rows;
}

absl::StatusOr<nlohmann::json> ReadJsonArgument(const std::string& text) {
  std::string contents = text;
  if (text == "-") {
    contents.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else if (!text.empty() && text[0] == '@') {
    std::ifstream in(text.substr(1));
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", text.substr(1)));
    }
    contents.assign(std::istreambuf_iterator<char>(in), {});
  }
  nlohmann::json json = nlohmann::json::parse(contents, nullptr,
                                              /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", contents.substr(0, 200)));
  }
  return json;
}

}  // namespace idemctl
