#ifndef IDEM_SERVICE_OPS_OPS_CONTEXT_H_
#define IDEM_SERVICE_OPS_OPS_CONTEXT_H_

#include <cstddef>

namespace idem {
namespace db {
class Catalog;
class ConnectionPool;
}  // namespace db

namespace ops {

// Request limits beyond the message size (which the server checks first).
struct Limits {
  size_t max_rows_per_insert = 10000;
};

// What the operations share: where rows go and what they may look like.
struct OpsContext {
  db::ConnectionPool* pool = nullptr;
  db::Catalog* catalog = nullptr;
  Limits limits;
};

}  // namespace ops
}  // namespace idem

#endif  // IDEM_SERVICE_OPS_OPS_CONTEXT_H_
