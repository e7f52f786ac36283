#include "service/ops/failure_location.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "idem/v1/wire_names.h"
#include "service/common/error_reason.h"

namespace idem::ops {
namespace {

struct Cell {
  size_t row;
  size_t column;  // index into the shape's columns
};

// The last "quoted" text of `message`.
std::optional<std::string> LastQuoted(absl::string_view message) {
  size_t close = message.rfind('"');
  if (close == absl::string_view::npos || close == 0) return std::nullopt;
  size_t open = message.rfind('"', close - 1);
  if (open == absl::string_view::npos) return std::nullopt;
  return std::string(message.substr(open + 1, close - open - 1));
}

std::optional<std::string> NamedType(absl::string_view message) {
  constexpr absl::string_view kMarker = "for type ";
  size_t at = message.find(kMarker);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view type = message.substr(at + kMarker.size());
  return std::string(type.substr(0, type.find(':')));
}

// The first row of the one shape column where `matches` holds; nullopt
// when no column or several do.
template <typename Matches>
std::optional<Cell> OnlyColumn(const PreparedInsert& insert, Matches matches) {
  std::optional<Cell> found;
  for (size_t c = 0; c < insert.values.size(); ++c) {
    for (size_t r = 0; r < insert.values[c].size(); ++r) {
      if (!matches(c, insert.values[c][r])) continue;
      if (found.has_value() && found->column != c) return std::nullopt;
      if (!found.has_value()) found = Cell{r, c};
      break;
    }
  }
  return found;
}

std::optional<Cell> Locate(const absl::Status& failure,
                           const PreparedInsert& insert,
                           const std::map<std::string, std::string>& metadata) {
  const db::Table& table = *insert.table;
  auto column_of = [&](size_t c) -> const db::Column& {
    return table.columns[insert.shape.columns[c]];
  };
  if (auto named = metadata.find("column"); named != metadata.end()) {
    std::optional<size_t> index = table.FindColumn(named->second);
    if (!index.has_value()) return std::nullopt;
    // A column the rows leave out is missing from every row: the first.
    if (!std::binary_search(insert.shape.columns.begin(),
                            insert.shape.columns.end(), *index)) {
      return Cell{0, 0};
    }
    return OnlyColumn(insert, [&](size_t c, const db::TextParam& value) {
      return insert.shape.columns[c] == *index && !value.has_value();
    });
  }
  std::optional<std::string> quoted = LastQuoted(failure.message());
  std::optional<std::string> type = NamedType(failure.message());
  if (!quoted.has_value() || !type.has_value()) return std::nullopt;
  return OnlyColumn(insert, [&](size_t c, const db::TextParam& value) {
    return value == *quoted && column_of(c).unmodified_type == *type;
  });
}

// Names `table` on a failure about its rows that names no table yet.
absl::Status WithTableNamed(absl::Status failure, const db::Table& table) {
  std::optional<std::string> reason = ReasonOf(failure);
  if (!reason.has_value() ||
      (*reason != v1::wire::reasons::kRowLocked &&
       *reason != v1::wire::reasons::kConstraintViolated &&
       *reason != v1::wire::reasons::kValueInvalid) ||
      MetadataOf(failure).count("table") != 0) {
    return failure;
  }
  return WithErrorMetadata(std::move(failure), "table", table.name);
}

// Names the row and column of a VALUE_INVALID that names no row yet, when
// Locate finds them.
absl::Status WithRefusedValueLocated(absl::Status failure,
                                     const PreparedInsert& insert) {
  if (ReasonOf(failure) != v1::wire::reasons::kValueInvalid) return failure;
  std::map<std::string, std::string> metadata = MetadataOf(failure);
  if (metadata.count("row") != 0) return failure;
  std::optional<Cell> cell = Locate(failure, insert, metadata);
  if (!cell.has_value()) return failure;
  failure =
      WithErrorMetadata(std::move(failure), "row", absl::StrCat(cell->row));
  if (metadata.count("column") == 0) {
    failure = WithErrorMetadata(
        std::move(failure), "column",
        insert.table->columns[insert.shape.columns[cell->column]].name);
  }
  return failure;
}

}  // namespace

absl::Status LocateFailure(absl::Status failure, const PreparedInsert& insert) {
  return WithTableNamed(WithRefusedValueLocated(std::move(failure), insert),
                        *insert.table);
}

absl::Status LocateFailure(absl::Status failure, const PreparedUpdate& update) {
  return WithTableNamed(std::move(failure), *update.table);
}

}  // namespace idem::ops
