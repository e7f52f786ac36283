#ifndef IDEM_SERVICE_DB_INSERT_STATEMENT_H_
#define IDEM_SERVICE_DB_INSERT_STATEMENT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/db/catalog.h"

namespace idem::db {

// What varies between Insert statements. Equal shapes give equal SQL, so a
// session prepares each shape once.
struct InsertShape {
  const Table* table = nullptr;
  std::vector<size_t> columns;  // the request's columns, in table order
  bool do_update = false;       // ON CONFLICT DO UPDATE (else DO NOTHING)
  std::optional<size_t> version_column;  // DO UPDATE guard
  std::vector<size_t> returning;         // columns to read back, in order
};

// Equal shapes (of the same catalog table object) build the same SQL, so
// their rows can go in one statement.
bool operator==(const InsertShape& a, const InsertShape& b);

// Whether a conflicting row may be updated: DO_UPDATE with a column that is
// not part of the key (DO_UPDATE of key columns alone does nothing).
bool MayUpdate(const InsertShape& shape);

template <typename H>
H AbslHashValue(H hash, const InsertShape& shape) {
  return H::combine(std::move(hash), shape.table, shape.columns,
                    shape.do_update, shape.version_column, shape.returning);
}

// Both statements take one text[] parameter per shape column (element i is
// row i's value) and return (ordinal, outcome, rows_with_same_key) per
// request row in request order, where outcome is a v1::RowOutcome number or
// 0 when the statement's snapshot cannot tell: a concurrent transaction
// committed the key after the statement began, or, for DO UPDATE, a row
// that was not written (its outcome depends on the version the update
// decided on, which a later statement sees).
struct InsertSql {
  // INSERT ... ON CONFLICT, classifying every row.
  std::string write;
  // Classifies rows again in a fresh snapshot, writing nothing: run after
  // the write, for the rows it left at 0.
  std::string classify;
  // With shape.returning: (ordinal, returning columns...) of the stored row
  // of each request row, in request order; empty without. Run after the
  // writes, it sees the rows as they are after them.
  std::string returning;
  // (how many earlier rows have its key) of each row, in request order:
  // keys compared by their type, for rows whose text may differ.
  std::string rounds;
};

InsertSql BuildInsertSql(const InsertShape& shape);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_INSERT_STATEMENT_H_
