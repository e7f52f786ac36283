// Fuzzes the request checks that need no database:
// - ValidateIdempotencyKey (service/keys/key_rules.h) against the rule
//   written here;
// - EncodeValue (service/db/value_encoding.h) against a few fixed columns:
//   which Value kinds each column takes, and that what it returns reads back
//   as the value (integers, doubles, hex bytes, strings unchanged);
// - ArrayLiteral: its output, read by a reference parser written here from
//   PostgreSQL's array input rules, gives back exactly the elements;
// - BuildInsertSql (service/db/insert_statement.h) for a fixed table whose
//   column names the input chooses: every name appears only as a properly
//   quoted identifier, one $n::text[] parameter per column, nothing after
//   the statement, and equal shapes give equal SQL.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "idem/v1/idem.pb.h"
#include "service/db/catalog.h"
#include "service/db/insert_statement.h"
#include "service/db/value_encoding.h"
#include "service/keys/key_rules.h"

namespace {

using idem::db::Column;
using idem::db::TextParam;
using idem::v1::Value;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_request_validation: %s\n", what.c_str());
  std::abort();
}

Column MakeColumn(const char* name, const char* type, const char* type_name,
                  char category, bool not_null) {
  Column column;
  column.name = name;
  column.type = type;
  column.type_name = type_name;
  column.category = category;
  column.not_null = not_null;
  return column;
}

const std::vector<Column>& Columns() {
  static const std::vector<Column> columns = {
      MakeColumn("id", "bigint", "int8", 'N', true),
      MakeColumn("price", "numeric", "numeric", 'N', false),
      MakeColumn("name", "text", "text", 'S', false),
      MakeColumn("active", "boolean", "bool", 'B', true),
      MakeColumn("blob", "bytea", "bytea", 'U', false),
      MakeColumn("doc", "jsonb", "jsonb", 'U', false),
      MakeColumn("at", "timestamp with time zone", "timestamptz", 'D', false),
  };
  return columns;
}

// ---- idempotency keys

void CheckKey(const std::string& key) {
  bool valid = !key.empty() && key.size() <= 255;
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) valid = false;
  }
  absl::Status status = idem::keys::ValidateIdempotencyKey(key);
  if (status.ok() != valid) Fail("ValidateIdempotencyKey disagrees");
  if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) {
    Fail("a bad key is not INVALID_ARGUMENT");
  }
}

// ---- values

Value FuzzValue(FuzzedDataProvider& in) {
  Value value;
  switch (in.ConsumeIntegralInRange<int>(0, 6)) {
    case 0:
      value.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case 1:
      value.set_bool_value(in.ConsumeBool());
      break;
    case 2:
      value.set_int_value(in.ConsumeIntegral<int64_t>());
      break;
    case 3: {
      uint64_t bits = in.ConsumeIntegral<uint64_t>();
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      value.set_double_value(d);
      break;
    }
    case 4:
      value.set_string_value(in.ConsumeRandomLengthString(64));
      break;
    case 5:
      value.set_bytes_value(in.ConsumeRandomLengthString(64));
      break;
    case 6:
      break;  // no kind
  }
  return value;
}

bool Accepts(const Value& value, const Column& column) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      return !column.not_null;
    case Value::kBoolValue:
      return column.category == 'B';
    case Value::kIntValue:
    case Value::kDoubleValue:
      return column.category == 'N';
    case Value::kStringValue:
      return value.string_value().find('\0') == std::string::npos;
    case Value::kBytesValue:
      return column.type_name == "bytea";
    case Value::KIND_NOT_SET:
      return false;
  }
  return false;
}

void CheckValue(const Value& value, const Column& column) {
  absl::StatusOr<TextParam> text = idem::db::EncodeValue(value, column);
  if (text.ok() != Accepts(value, column)) {
    Fail(absl::StrCat("EncodeValue disagrees on kind ", value.kind_case(),
                      " for column ", column.name));
  }
  if (!text.ok()) {
    if (text.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("a refused value is not INVALID_ARGUMENT");
    }
    if (text.status().message().find(column.name) == absl::string_view::npos) {
      Fail("the refusal does not name the column");
    }
    return;
  }
  if (value.kind_case() == Value::kNullValue) {
    if (text->has_value()) Fail("NULL encoded as text");
    return;
  }
  if (!text->has_value()) Fail("a value encoded as NULL");
  const std::string& s = **text;
  if (s.find('\0') != std::string::npos) Fail("a parameter holds a NUL");
  switch (value.kind_case()) {
    case Value::kBoolValue:
      if (s != (value.bool_value() ? "t" : "f")) Fail("bool text");
      break;
    case Value::kIntValue: {
      int64_t back;
      if (!absl::SimpleAtoi(s, &back) || back != value.int_value()) {
        Fail("int text does not read back: " + s);
      }
      break;
    }
    case Value::kDoubleValue: {
      double d = value.double_value();
      if (std::isnan(d)) {
        if (s != "NaN") Fail("NaN text");
      } else if (std::isinf(d)) {
        if (s != (d > 0 ? "Infinity" : "-Infinity")) Fail("infinity text");
      } else {
        char* end = nullptr;
        double back = std::strtod(s.c_str(), &end);
        if (*end != '\0' || back != d) {
          Fail("double text does not read back: " + s);
        }
      }
      break;
    }
    case Value::kStringValue:
      if (s != value.string_value()) Fail("string changed");
      break;
    case Value::kBytesValue:
      if (s.compare(0, 2, "\\x") != 0 ||
          absl::HexStringToBytes(s.substr(2)) != value.bytes_value()) {
        Fail("bytes text does not read back");
      }
      break;
    default:
      break;
  }
}

// ---- array literals

// PostgreSQL's array_in for a one-dimensional array of quoted or unquoted
// elements: whitespace around elements is skipped; inside double quotes a
// backslash takes the next byte literally; an unquoted NULL (any case) is
// null; an unquoted element ends at ',' or '}' and may hold backslash
// escapes too. Returns nullopt for text that is not such an array.
std::optional<std::vector<TextParam>> ParseArray(const std::string& text) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
  };
  size_t i = 0;
  while (i < text.size() && space(text[i])) ++i;
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  ++i;
  std::vector<TextParam> out;
  while (i < text.size() && space(text[i])) ++i;
  if (i < text.size() && text[i] == '}') {
    ++i;
  } else {
    while (true) {
      while (i < text.size() && space(text[i])) ++i;
      if (i >= text.size()) return std::nullopt;
      std::string element;
      bool quoted = false;
      if (text[i] == '"') {
        quoted = true;
        ++i;
        while (true) {
          if (i >= text.size()) return std::nullopt;
          char c = text[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= text.size()) return std::nullopt;
            c = text[i++];
          }
          element += c;
        }
        while (i < text.size() && space(text[i])) ++i;
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '}') {
          char c = text[i++];
          if (c == '"' || c == '{') return std::nullopt;
          if (c == '\\') {
            if (i >= text.size()) return std::nullopt;
            c = text[i++];
          }
          element += c;
        }
        while (!element.empty() && space(element.back())) element.pop_back();
        if (element.empty()) return std::nullopt;
      }
      if (!quoted && absl::AsciiStrToUpper(element) == "NULL") {
        out.push_back(std::nullopt);
      } else {
        out.push_back(element);
      }
      if (i >= text.size()) return std::nullopt;
      if (text[i] == ',') {
        ++i;
        continue;
      }
      if (text[i] == '}') {
        ++i;
        break;
      }
      return std::nullopt;
    }
  }
  while (i < text.size() && space(text[i])) ++i;
  if (i != text.size()) return std::nullopt;
  return out;
}

void CheckArray(FuzzedDataProvider& in) {
  std::vector<TextParam> elements(in.ConsumeIntegralInRange<size_t>(0, 8));
  for (TextParam& element : elements) {
    if (!in.ConsumeBool()) element = in.ConsumeRandomLengthString(32);
  }
  std::string literal = idem::db::ArrayLiteral(elements);
  std::optional<std::vector<TextParam>> back = ParseArray(literal);
  if (!back.has_value()) Fail("ArrayLiteral output does not parse: " + literal);
  if (*back != elements) Fail("ArrayLiteral output parses differently");
}

// ---- insert statements

// Skips a quoted identifier starting at sql[i] == '"'; returns the index
// after it and its unquoted name, or npos when it is not closed.
size_t SkipIdentifier(const std::string& sql, size_t i, std::string* name) {
  name->clear();
  for (++i; i < sql.size(); ++i) {
    if (sql[i] != '"') {
      *name += sql[i];
    } else if (i + 1 < sql.size() && sql[i + 1] == '"') {
      *name += '"';
      ++i;
    } else {
      return i + 1;
    }
  }
  return std::string::npos;
}

void CheckSql(const std::string& sql, const idem::db::InsertShape& shape,
              const std::vector<std::string>& names) {
  std::string outside;  // the SQL with every quoted identifier cut out
  for (size_t i = 0; i < sql.size();) {
    if (sql[i] != '"') {
      outside += sql[i++];
      continue;
    }
    std::string name;
    i = SkipIdentifier(sql, i, &name);
    if (i == std::string::npos) Fail("unclosed quoted identifier: " + sql);
    bool known = name == "public" || name == "fuzzed";
    for (const std::string& n : names) known = known || n == name;
    if (!known) Fail("an identifier that is no column name: " + name);
    outside += " ident ";
  }
  // Nothing of a name outside identifiers: no quote, no statement break, no
  // comment, no string literal, no stray parameter.
  for (const char* bad : {"\"", ";", "--", "/*", "'"}) {
    if (outside.find(bad) != std::string::npos) {
      Fail(absl::StrCat("'", bad, "' outside identifiers: ", sql));
    }
  }
  for (size_t n = 1; n <= shape.columns.size() + 1; ++n) {
    bool present =
        outside.find(absl::StrCat("$", n, "::text[]")) != std::string::npos;
    if (present != (n <= shape.columns.size())) {
      Fail(absl::StrCat("parameter $", n, " wrongly present or absent"));
    }
  }
  size_t open = 0, close = 0;
  for (char c : outside) {
    open += c == '(';
    close += c == ')';
  }
  if (open != close) Fail("unbalanced parentheses: " + sql);
}

void CheckInsert(FuzzedDataProvider& in) {
  idem::db::Table table;
  table.name = "public.fuzzed";
  table.sql_name = "\"public\".\"fuzzed\"";
  std::vector<std::string> names;
  size_t count = in.ConsumeIntegralInRange<size_t>(1, 6);
  for (size_t i = 0; i < count; ++i) {
    Column column = Columns()[i % Columns().size()];
    column.name = in.ConsumeRandomLengthString(16);
    if (column.name.empty() || column.name.find('\0') != std::string::npos) {
      column.name = absl::StrCat("c", i);
    }
    names.push_back(column.name);
    table.columns.push_back(column);
  }
  // A primary key of the first one or two columns, the request giving the
  // key and any subset of the others, in table order (as ShapeOf builds it).
  size_t key_size = count > 1 && in.ConsumeBool() ? 2 : 1;
  for (size_t i = 0; i < key_size; ++i) table.primary_key.push_back(i);
  idem::db::InsertShape shape;
  shape.table = &table;
  for (size_t i = 0; i < count; ++i) {
    if (i < key_size || in.ConsumeBool()) shape.columns.push_back(i);
  }
  shape.do_update = in.ConsumeBool();
  if (shape.do_update && shape.columns.size() > key_size && in.ConsumeBool()) {
    shape.version_column = shape.columns.back();
  }
  idem::db::InsertSql sql = idem::db::BuildInsertSql(shape);
  idem::db::InsertSql again = idem::db::BuildInsertSql(shape);
  if (sql.write != again.write || sql.classify != again.classify) {
    Fail("BuildInsertSql is not deterministic");
  }
  CheckSql(sql.write, shape, names);
  CheckSql(sql.classify, shape, names);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  CheckKey(in.ConsumeRandomLengthString(300));
  for (int i = in.ConsumeIntegralInRange<int>(1, 4); i > 0; --i) {
    Value value = FuzzValue(in);
    for (const Column& column : Columns()) CheckValue(value, column);
  }
  CheckArray(in);
  CheckInsert(in);
  return 0;
}
