#ifndef IDEM_SERVICE_OPS_INSERT_ROUNDS_H_
#define IDEM_SERVICE_OPS_INSERT_ROUNDS_H_

#include <cstddef>
#include <vector>

#include "service/db/pg_session.h"
#include "service/ops/insert_op.h"

namespace idem::ops {

// The rows of `inserts`, which share one shape, numbered across them in
// order, split into the statements that write them: a row whose primary key
// an earlier row has goes to a later statement, so that each statement
// writes a key at most once and a later row meets the earlier one's result,
// as if the rows had been sent one after the other. Without a repeated key,
// one round of every row. Keys compare by their text, which is right unless
// KeysNeedTypedCompare.
std::vector<std::vector<size_t>> InsertRounds(
    const std::vector<const PreparedInsert*>& inserts);

// Whether two rows of one of `inserts` could hold one key in two spellings
// ("7" and "07" into bigint): then PostgreSQL compares the keys
// (db::InsertSql::rounds) and RoundsOf splits them. Two spellings in
// different calls of a batch are left to the text: the statement refuses
// them and the batch runs each call alone, so that the common batch of
// single-row calls keyed by uuid strings pays no statement more.
bool KeysNeedTypedCompare(const std::vector<const PreparedInsert*>& inserts);

// The rounds of rows whose i-th has `earlier[i]` earlier rows with its key.
std::vector<std::vector<size_t>> RoundsOf(const std::vector<size_t>& earlier);

// Whether `insert` alone is one statement that decides its outcome and
// refuses nothing after it wrote (one row, DO NOTHING, nothing to return):
// then it needs no transaction around it. (Two rows could be one key in
// two spellings, refused only after the statement ran; a table whose
// triggers or row security may leave a row without an outcome is refused
// after it.)
bool IsOneStatement(const PreparedInsert& insert);

// The statement parameters of `rows` (numbered as above) of `inserts`: one
// array per shape column.
std::vector<db::TextParam> RowParams(
    const std::vector<const PreparedInsert*>& inserts,
    const std::vector<size_t>& rows);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_INSERT_ROUNDS_H_
