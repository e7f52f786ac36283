#include "idem/idempotency.h"

namespace idem {

bool IsIdempotent(const v1::InsertRequest&) { return true; }

bool IsIdempotent(const v1::UpdateRequest& request) {
  return request.increment().columns().empty();
}

bool IsIdempotent(const v1::CopyFileRequest&) { return true; }

// The key makes any call safe to repeat: the server runs it at most once.
bool IsIdempotent(const v1::KeyedCallRequest&) { return true; }

}  // namespace idem
