#include "service/ops/insert_rounds.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "service/db/value_encoding.h"

namespace idem::ops {
namespace {

// Where row `row` (numbered across `inserts`) is: its insert and its index
// there.
std::pair<const PreparedInsert*, size_t> Locate(
    const std::vector<const PreparedInsert*>& inserts, size_t row) {
  for (const PreparedInsert* insert : inserts) {
    if (row < insert->row_count) return {insert, row};
    row -= insert->row_count;
  }
  return {nullptr, 0};
}

}  // namespace

std::vector<std::vector<size_t>> InsertRounds(
    const std::vector<const PreparedInsert*>& inserts) {
  const db::InsertShape& shape = inserts.front()->shape;
  std::vector<size_t> key_columns;
  for (size_t c = 0; c < shape.columns.size(); ++c) {
    if (shape.table->IsKeyColumn(shape.columns[c])) key_columns.push_back(c);
  }
  absl::flat_hash_map<std::vector<db::TextParam>, size_t> seen;
  std::vector<size_t> earlier;
  for (const PreparedInsert* insert : inserts) {
    for (size_t r = 0; r < insert->row_count; ++r) {
      std::vector<db::TextParam> key;
      for (size_t c : key_columns) key.push_back(insert->values[c][r]);
      earlier.push_back(seen[std::move(key)]++);
    }
  }
  return RoundsOf(earlier);
}

bool KeysNeedTypedCompare(const std::vector<const PreparedInsert*>& inserts) {
  return std::any_of(
      inserts.begin(), inserts.end(), [](const PreparedInsert* insert) {
        return insert->row_count > 1 && insert->keys_spelled_freely;
      });
}

std::vector<std::vector<size_t>> RoundsOf(const std::vector<size_t>& earlier) {
  std::vector<std::vector<size_t>> rounds(1);
  for (size_t row = 0; row < earlier.size(); ++row) {
    if (earlier[row] >= rounds.size()) rounds.resize(earlier[row] + 1);
    rounds[earlier[row]].push_back(row);
  }
  return rounds;
}

bool IsOneStatement(const PreparedInsert& insert) {
  return insert.row_count == 1 && !insert.shape.do_update &&
         insert.shape.returning.empty() &&
         !insert.table->rows_may_change_unseen;
}

std::vector<db::TextParam> RowParams(
    const std::vector<const PreparedInsert*>& inserts,
    const std::vector<size_t>& rows) {
  const size_t columns = inserts.front()->shape.columns.size();
  size_t all_rows = 0;
  for (const PreparedInsert* insert : inserts) all_rows += insert->row_count;
  std::vector<db::TextParam> params;
  if (rows.size() == all_rows) {
    // Every row in order: each insert's column as it is, without a copy.
    for (size_t c = 0; c < columns; ++c) {
      std::vector<const std::vector<db::TextParam>*> parts;
      for (const PreparedInsert* insert : inserts) {
        parts.push_back(&insert->values[c]);
      }
      params.push_back(db::ArrayLiteral(parts));
    }
    return params;
  }
  for (size_t c = 0; c < columns; ++c) {
    std::vector<db::TextParam> column;
    for (size_t row : rows) {
      auto [insert, r] = Locate(inserts, row);
      column.push_back(insert->values[c][r]);
    }
    params.push_back(db::ArrayLiteral(column));
  }
  return params;
}

}  // namespace idem::ops
