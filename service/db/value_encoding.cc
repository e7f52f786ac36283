#include "service/db/value_encoding.h"

#include <charconv>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::db {
namespace {

absl::Status WrongKind(const Column& column, absl::string_view kind) {
  return Error(Reason::kValueInvalid,
               absl::StrCat("column \"", column.name, "\" has type ",
                            column.type, " and cannot take a ", kind, " value"),
               {{"column", column.name}});
}

std::string DoubleText(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[32];
  // Shortest text that reads back as the same double.
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

}  // namespace

absl::StatusOr<TextParam> EncodeValue(const v1::Value& value,
                                      const Column& column) {
  const bool numeric = column.category == 'N';
  switch (value.kind_case()) {
    case v1::Value::kNullValue:
      if (column.not_null) {
        return Error(Reason::kValueInvalid,
                     absl::StrCat("column \"", column.name,
                                  "\" is NOT NULL and cannot take null"),
                     {{"column", column.name}});
      }
      return TextParam();
    case v1::Value::kBoolValue:
      if (column.category != 'B') return WrongKind(column, "bool");
      return TextParam(value.bool_value() ? "t" : "f");
    case v1::Value::kIntValue:
      if (!numeric) return WrongKind(column, "int");
      return TextParam(absl::StrCat(value.int_value()));
    case v1::Value::kDoubleValue:
      if (!numeric) return WrongKind(column, "double");
      return TextParam(DoubleText(value.double_value()));
    case v1::Value::kStringValue:
      if (value.string_value().find('\0') != std::string::npos) {
        return Error(Reason::kValueInvalid,
                     absl::StrCat("the value for column \"", column.name,
                                  "\" contains a NUL byte"),
                     {{"column", column.name}});
      }
      return TextParam(value.string_value());
    case v1::Value::kBytesValue:
      if (column.type_name != "bytea") return WrongKind(column, "bytes");
      return TextParam(
          absl::StrCat("\\x", absl::BytesToHexString(value.bytes_value())));
    case v1::Value::KIND_NOT_SET:
      break;
  }
  return Error(
      Reason::kValueInvalid,
      absl::StrCat("the value for column \"", column.name, "\" has no kind"),
      {{"column", column.name}});
}

bool SpelledOneWay(const v1::Value& value, const Column& column) {
  switch (value.kind_case()) {
    case v1::Value::kStringValue:
      return (column.type_name == "text" || column.type_name == "varchar") &&
             column.nondeterministic_collation.empty() &&
             column.length_typmod < 0;
    case v1::Value::kDoubleValue:
      return false;
    default:
      return true;
  }
}

std::string ArrayLiteral(const std::vector<TextParam>& elements) {
  return ArrayLiteral(std::vector<const std::vector<TextParam>*>{&elements});
}

std::string ArrayLiteral(
    const std::vector<const std::vector<TextParam>*>& parts) {
  std::string out = "{";
  for (const std::vector<TextParam>* part : parts) {
    for (const TextParam& element : *part) {
      if (out.size() > 1) out += ',';
      if (!element.has_value()) {
        out += "NULL";
        continue;
      }
      out += '"';
      for (char c : *element) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
  }
  out += '}';
  return out;
}

}  // namespace idem::db
