#ifndef IDEM_SERVICE_KEYS_ANSWER_H_
#define IDEM_SERVICE_KEYS_ANSWER_H_

#include "absl/status/status.h"
#include "idem/v1/idem.pb.h"

namespace idem::keys {

// The answer to a call that writes: a status and, when OK, the response (a
// plain Insert's in `response.insert()`). `replayed` marks an answer that
// the ledger gave from a key's record (a success or a stored failure)
// instead of a run.
struct Answer {
  absl::Status status;
  v1::KeyedCallResponse response;
  bool replayed = false;
  bool key_mismatch = false;  // the key was used for another call

  // An answer that is only a status. An ABORTED one always says when to
  // come back.
  static Answer OfStatus(absl::Status status);
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_ANSWER_H_
