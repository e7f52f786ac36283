#ifndef IDEM_SERVICE_OPS_KEYED_ANSWERS_H_
#define IDEM_SERVICE_OPS_KEYED_ANSWERS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "service/db/transaction.h"
#include "service/keys/key_store.h"
#include "service/ops/keyed_outcome.h"
#include "service/ops/ops_context.h"

// How a KeyedCall is answered from what the key store holds, shared by the
// per-request path (keyed_call_op) and the group committer (write_batch).
namespace idem::ops {

// An answer that is only a status. An ABORTED one always says when to come
// back.
KeyedOutcome StatusOnly(absl::Status status);

google::protobuf::Timestamp ToProto(absl::Time time);

// The answer a stored record gives, or nullopt when the caller may claim
// the key (an in-progress record whose lease has lapsed).
std::optional<KeyedOutcome> FromStored(const keys::StoredCall& stored,
                                       const keys::KeyClaim& claim);

// When a claim fails, a live record holds the key: its answer.
absl::StatusOr<KeyedOutcome> AnswerOfHolder(db::Transaction& txn,
                                            const keys::KeyStore& store,
                                            const keys::KeyClaim& claim);

// Stores a deterministic failure under the key, in a transaction of its
// own (the failed one was rolled back), and answers with it; or replays
// the answer of whoever stored one first.
KeyedOutcome StoreFailure(const OpsContext& context,
                          const keys::KeyClaim& claim,
                          const absl::Status& failure);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_KEYED_ANSWERS_H_
