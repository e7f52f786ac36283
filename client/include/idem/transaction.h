#ifndef IDEM_TRANSACTION_H_
#define IDEM_TRANSACTION_H_

#include "idem/v1/idem.pb.h"

namespace idem {

// Writes that commit together, in order, in one database transaction with
// the record of their key: all of them or none. Build it once per logical
// operation and send it with Client::Transaction (or ExactlyOnce and
// KeyedCall).
//
//   idem::Transaction()
//       .Insert(order)
//       .Update(stock_decrement, /*require_applied=*/true)
//
// `require_applied`: the step must insert (every row) or update; otherwise
// the whole transaction rolls back and fails FAILED_PRECONDITION, reason
// STEP_NOT_APPLIED, with the step's index in the metadata ("step").
class Transaction {
 public:
  Transaction& Insert(v1::InsertRequest insert, bool require_applied = false);
  Transaction& Update(v1::UpdateRequest update, bool require_applied = false);

  const v1::TransactionRequest& request() const { return request_; }

 private:
  v1::TransactionRequest request_;
};

}  // namespace idem

#endif  // IDEM_TRANSACTION_H_
