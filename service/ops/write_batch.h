#ifndef IDEM_SERVICE_OPS_WRITE_BATCH_H_
#define IDEM_SERVICE_OPS_WRITE_BATCH_H_

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "service/keys/answer.h"
#include "service/keys/key_store.h"
#include "service/ops/insert_op.h"
#include "service/ops/ops_context.h"
#include "service/ops/transaction_op.h"
#include "service/ops/update_op.h"

namespace idem::ops {

// One checked Insert or Update, alone (a plain Insert) or under an
// idempotency key (a KeyedCall, whose key is claimed and completed in the
// same transaction as the write).
struct WriteCall {
  std::string tenant;
  std::variant<PreparedInsert, PreparedUpdate, PreparedTransaction> call;
  std::optional<keys::KeyClaim> key;  // its tenant is `tenant`
  // The KeyedCall it came from (alive until answered): a failure stored
  // under the key names its table as this request did.
  const v1::KeyedCallRequest* keyed_request = nullptr;

  size_t rows() const;
};

// Commits `calls` together and answers each on its own, in order.
//
// First all in one transaction with set-based statements: one read of all
// keys (a finished key answers its call from the record), one INSERT per
// statement shape holding the rows of every insert of that shape, the
// updates in table and key order, one insert of the other keys' finished
// records, one commit. When that fails (one call's bad value, a constraint,
// two calls on one key, a key recorded by a concurrent call since the
// read), nothing of it stays and the calls run again in one transaction,
// each in a savepoint of its own and claiming its key before it runs, so
// that a failing call fails alone and a key taken meanwhile replays. A call
// that fails deterministically under a key has its failure stored, as alone.
// When the database is unreachable or the commit's fate is unknown, every
// call gets that status (UNAVAILABLE): a retry under the same key replays.
//
// `committing`, when set, is told when the batch's statements have run and
// only its commit (the wait for the WAL flush) is left; it may be told again
// when the batch runs again in savepoints.
std::vector<keys::Answer> RunWriteBatch(
    const OpsContext& context, const std::vector<WriteCall*>& calls,
    const std::function<void()>& committing = nullptr);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_WRITE_BATCH_H_
