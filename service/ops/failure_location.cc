#include "service/ops/failure_location.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "idem/v1/wire_names.h"
#include "nlohmann/json.hpp"
#include "service/common/error_reason.h"

namespace idem::ops {
namespace {

// One value of a request: its row, its column, and whether it is an
// Update's increment (a delta added to the column, not a value of it).
struct Cell {
  size_t row;
  size_t column;  // index into the table's columns
  const db::TextParam* value;
  bool delta;
};

std::vector<Cell> CellsOf(const PreparedInsert& insert) {
  std::vector<Cell> cells;
  for (size_t c = 0; c < insert.values.size(); ++c) {
    for (size_t r = 0; r < insert.values[c].size(); ++r) {
      cells.push_back(
          Cell{r, insert.shape.columns[c], &insert.values[c][r], false});
    }
  }
  return cells;
}

// In the order of the statement's parameters: keys, set values, deltas.
std::vector<Cell> CellsOf(const PreparedUpdate& update) {
  std::vector<size_t> columns = update.table->primary_key;
  columns.insert(columns.end(), update.shape.set_columns.begin(),
                 update.shape.set_columns.end());
  size_t first_delta = columns.size();
  columns.insert(columns.end(), update.shape.increment_columns.begin(),
                 update.shape.increment_columns.end());
  std::vector<Cell> cells;
  for (size_t i = 0; i < columns.size() && i < update.params.size(); ++i) {
    cells.push_back(Cell{0, columns[i], &update.params[i], i >= first_delta});
  }
  return cells;
}

// What PostgreSQL's message says of the value it refused.
struct Clue {
  bool quotes;                      // whether it quotes the value
  std::optional<std::string> type;  // the type it was refused for
  absl::string_view message;
};

// The type after "for type " or "match type " ('invalid input syntax for
// type integer: "x"', 'value too long for type character varying(3)',
// 'bit string length 5 does not match type bit(4)').
std::optional<std::string> NamedType(absl::string_view message) {
  for (absl::string_view marker : {"for type ", "match type "}) {
    size_t at = message.find(marker);
    if (at == absl::string_view::npos) continue;
    absl::string_view type = message.substr(at + marker.size());
    return std::string(type.substr(0, type.find(':')));
  }
  return std::nullopt;
}

Clue ClueOf(absl::string_view message) {
  return Clue{absl::StrContains(message, '"'), NamedType(message), message};
}

// The n of a declared "type(n)".
std::optional<size_t> DeclaredLength(absl::string_view declared_type) {
  if (!absl::ConsumeSuffix(&declared_type, ")")) return std::nullopt;
  size_t open = declared_type.rfind('(');
  size_t length;
  if (open == absl::string_view::npos ||
      !absl::SimpleAtoi(declared_type.substr(open + 1), &length)) {
    return std::nullopt;
  }
  return length;
}

// Whether `value` breaks the length of its column's declared type: more
// characters than varchar(n) or char(n) take (trailing spaces are cut, not
// refused), more bits than varbit(n), other than n bits for bit(n).
bool BreaksLength(absl::string_view value, const db::Column& column) {
  std::optional<size_t> length = DeclaredLength(column.declared_type);
  if (!length.has_value()) return false;
  if (column.type_name == "bit") return value.size() != *length;
  if (column.type_name == "varbit") return value.size() > *length;
  value = absl::StripTrailingAsciiWhitespace(value);
  size_t characters = 0;
  for (char byte : value) {
    if ((static_cast<unsigned char>(byte) & 0xC0) != 0x80) ++characters;
  }
  return characters > *length;
}

// Whether `value` is beyond what numeric(p,s) holds: rounded to s places,
// at least 10^(p-s), or infinite.
bool OverflowsNumeric(absl::string_view value, const db::Column& column) {
  int precision, scale;
  double number;
  if (std::sscanf(column.declared_type.c_str(), "numeric(%d,%d)", &precision,
                  &scale) != 2 ||
      !absl::SimpleAtod(value, &number) || std::isnan(number)) {
    return false;
  }
  return std::isinf(number) ||
         std::round(std::fabs(number) * std::pow(10.0, scale)) >=
             std::pow(10.0, precision);
}

// Whether `cell` can be the value `clue` speaks of.
bool Refused(const Clue& clue, const db::Column& column, const Cell& cell) {
  if (!cell.value->has_value()) return false;
  const std::string& value = **cell.value;
  if (clue.quotes) {
    // 'invalid input syntax for type integer: "abc"', a delta too: both
    // are cast to the column's type without modifiers. A date out of
    // range names no type. The value may hold quotes itself.
    return absl::StrContains(clue.message, absl::StrCat("\"", value, "\"")) &&
           (!clue.type.has_value() || column.unmodified_type == *clue.type);
  }
  if (clue.type == "json") {  // jsonb's messages say json too
    return !cell.delta &&
           (column.type_name == "json" || column.type_name == "jsonb") &&
           !nlohmann::json::accept(value);
  }
  if (clue.type.has_value()) {
    return !cell.delta && column.declared_type == *clue.type &&
           BreaksLength(value, column);
  }
  if (clue.message == "numeric field overflow") {
    // A delta can overflow by the sum it makes.
    return absl::StartsWith(column.declared_type, "numeric(") &&
           (cell.delta || OverflowsNumeric(value, column));
  }
  // "smallint out of range": only a sum leaves an integer type's range;
  // a value that does is quoted.
  return cell.delta &&
         clue.message == absl::StrCat(column.unmodified_type, " out of range");
}

// The first cell of the one column where `refused` holds; nullopt when no
// column or several do.
template <typename Refused>
std::optional<Cell> OnlyColumn(const std::vector<Cell>& cells,
                               Refused refused) {
  std::optional<Cell> found;
  for (const Cell& cell : cells) {
    if (!refused(cell)) continue;
    if (found.has_value() && found->column != cell.column) return std::nullopt;
    if (!found.has_value()) found = cell;
  }
  return found;
}

std::optional<Cell> Locate(const absl::Status& failure, const db::Table& table,
                           const std::vector<Cell>& cells,
                           const std::map<std::string, std::string>& metadata) {
  if (auto named = metadata.find("column"); named != metadata.end()) {
    // A NULL into a NOT NULL column, which PostgreSQL names.
    std::optional<size_t> index = table.FindColumn(named->second);
    if (!index.has_value()) return std::nullopt;
    // A column the rows leave out is missing from every row: the first.
    if (std::none_of(cells.begin(), cells.end(),
                     [&](const Cell& cell) { return cell.column == *index; })) {
      return Cell{0, *index, nullptr, false};
    }
    return OnlyColumn(cells, [&](const Cell& cell) {
      return cell.column == *index && !cell.value->has_value();
    });
  }
  Clue clue = ClueOf(failure.message());
  return OnlyColumn(cells, [&](const Cell& cell) {
    return Refused(clue, table.columns[cell.column], cell);
  });
}

// Names the row (when `name_row`) and column of a VALUE_INVALID that names
// no row yet, when Locate finds them.
absl::Status WithRefusedValueLocated(absl::Status failure,
                                     const db::Table& table,
                                     const std::vector<Cell>& cells,
                                     bool name_row) {
  if (ReasonOf(failure) != v1::wire::reasons::kValueInvalid) return failure;
  std::map<std::string, std::string> metadata = MetadataOf(failure);
  if (metadata.count("row") != 0 || (!name_row && metadata.count("column"))) {
    return failure;
  }
  std::optional<Cell> cell = Locate(failure, table, cells, metadata);
  if (!cell.has_value()) return failure;
  if (name_row) {
    failure =
        WithErrorMetadata(std::move(failure), "row", absl::StrCat(cell->row));
  }
  if (metadata.count("column") == 0) {
    failure = WithErrorMetadata(std::move(failure), "column",
                                table.columns[cell->column].name);
  }
  return failure;
}

// An identifier as PostgreSQL prints it in a DETAIL, unquoted.
std::string Unquoted(absl::string_view name) {
  if (name.size() < 2 || name.front() != '"' || name.back() != '"') {
    return std::string(name);
  }
  return absl::StrReplaceAll(name.substr(1, name.size() - 2), {{"\"\"", "\""}});
}

// What PostgreSQL's DETAIL of a constraint violation shows of the row at
// fault: the values of some columns, as text ("null" for NULL). Empty when
// it shows nothing this can read.
std::map<size_t, std::string> ShownValues(absl::string_view detail,
                                          const db::Table& table) {
  std::map<size_t, std::string> shown;
  std::vector<std::string> columns;
  absl::string_view values;
  if (absl::ConsumePrefix(&detail, "Failing row contains (")) {
    // Every column of the table, in order (a CHECK, a NOT NULL).
    size_t end = detail.rfind(')');
    if (end == absl::string_view::npos) return shown;
    values = detail.substr(0, end);
    for (const db::Column& column : table.columns) {
      columns.push_back(column.name);
    }
  } else if (absl::ConsumePrefix(&detail, "Key (")) {
    // The key's columns and values (UNIQUE, FOREIGN KEY, EXCLUDE): "Key
    // (a, b)=(1, x) already exists.", "... is not present in table ...".
    size_t split = detail.find(")=(");
    if (split == absl::string_view::npos) return shown;
    for (absl::string_view name :
         absl::StrSplit(detail.substr(0, split), ", ")) {
      columns.push_back(Unquoted(name));
    }
    absl::string_view rest = detail.substr(split + 3);
    size_t end = absl::string_view::npos;
    for (absl::string_view marker :
         {") already exists", ") is not present", ") conflicts with"}) {
      end = std::min(end, rest.find(marker));
    }
    if (end == absl::string_view::npos) return shown;
    values = rest.substr(0, end);
  } else {
    return shown;
  }
  // A value holding ", " itself makes the count wrong: then nothing is read.
  std::vector<std::string> parts = absl::StrSplit(values, ", ");
  if (parts.size() != columns.size()) return shown;
  for (size_t i = 0; i < columns.size(); ++i) {
    std::optional<size_t> index = table.FindColumn(columns[i]);
    if (!index.has_value()) return {};
    shown[*index] = parts[i];
  }
  return shown;
}

// Names the row of a CONSTRAINT_VIOLATED that names none, when exactly one
// row of the request holds the values PostgreSQL's detail shows: those the
// request gives, spelled as PostgreSQL prints them (a value it prints
// otherwise, 1.50 for 1.5, matches no row, and no row is named).
absl::Status WithViolatingRowLocated(absl::Status failure,
                                     const db::Table& table,
                                     const std::vector<Cell>& cells) {
  if (ReasonOf(failure) != v1::wire::reasons::kConstraintViolated ||
      MetadataOf(failure).count("row") != 0) {
    return failure;
  }
  std::optional<std::string> detail = DatabaseDetailOf(failure);
  if (!detail.has_value()) return failure;
  const std::map<size_t, std::string> shown = ShownValues(*detail, table);
  if (shown.empty()) return failure;
  // Per row: whether every value it gives for a shown column is the one
  // shown, and whether it gives one at all.
  std::map<size_t, std::pair<bool, bool>> rows;  // matches, gives any
  for (const Cell& cell : cells) {
    auto& [matches, gives] =
        rows.try_emplace(cell.row, true, false).first->second;
    auto column = shown.find(cell.column);
    if (column == shown.end()) continue;
    gives = true;
    const std::string text = cell.value->has_value() ? **cell.value : "null";
    if (text != column->second) matches = false;
  }
  std::optional<size_t> found;
  for (const auto& [row, fit] : rows) {
    if (!fit.first || !fit.second) continue;
    if (found.has_value()) return failure;  // two rows fit: neither named
    found = row;
  }
  if (!found.has_value()) return failure;
  return WithErrorMetadata(std::move(failure), "row", absl::StrCat(*found));
}

// Names `table` on a failure about its rows that names no table yet.
absl::Status WithTableNamed(absl::Status failure, const db::Table& table) {
  std::optional<std::string> reason = ReasonOf(failure);
  if (!reason.has_value() ||
      (*reason != v1::wire::reasons::kRowLocked &&
       *reason != v1::wire::reasons::kConstraintViolated &&
       *reason != v1::wire::reasons::kValueInvalid &&
       *reason != v1::wire::reasons::kOperationNotAllowed)) {
    return failure;
  }
  return OfRequestFor(std::move(failure), table);
}

// Names row 0 on a failure about the rows of an insert that holds one
// row, whatever PostgreSQL's message lets be found: there is no other.
absl::Status WithOnlyRowNamed(absl::Status failure,
                              const PreparedInsert& insert) {
  std::optional<std::string> reason = ReasonOf(failure);
  if (insert.row_count != 1 || !reason.has_value() ||
      (*reason != v1::wire::reasons::kConstraintViolated &&
       *reason != v1::wire::reasons::kValueInvalid) ||
      MetadataOf(failure).count("row") != 0) {
    return failure;
  }
  return WithErrorMetadata(std::move(failure), "row", "0");
}

}  // namespace

absl::Status LocateFailureByValues(absl::Status failure,
                                   const PreparedInsert& insert) {
  const std::vector<Cell> cells = CellsOf(insert);
  return WithoutDatabaseDetail(WithTableNamed(
      WithViolatingRowLocated(
          WithRefusedValueLocated(std::move(failure), *insert.table, cells,
                                  /*name_row=*/true),
          *insert.table, cells),
      *insert.table));
}

absl::Status LocateFailure(absl::Status failure, const PreparedInsert& insert) {
  return WithOnlyRowNamed(LocateFailureByValues(std::move(failure), insert),
                          insert);
}

absl::Status LocateFailure(absl::Status failure, const PreparedUpdate& update) {
  return WithoutDatabaseDetail(WithTableNamed(
      WithRefusedValueLocated(std::move(failure), *update.table,
                              CellsOf(update), /*name_row=*/false),
      *update.table));
}

absl::Status OfRequestFor(absl::Status refusal, const db::Table& table) {
  if (refusal.ok() || MetadataOf(refusal).count("table") != 0) {
    return refusal;
  }
  return WithErrorMetadata(std::move(refusal), "table", table.name);
}

}  // namespace idem::ops
