#ifndef IDEM_SERVICE_OPS_REQUESTED_TABLE_H_
#define IDEM_SERVICE_OPS_REQUESTED_TABLE_H_

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "service/db/catalog.h"

namespace idem::ops {

// `status` with its `table` metadata spelled as `request` named the table
// ("items"), not as the catalog does ("public.items"), so that a program
// can compare it with what it sent; a TABLE_NOT_FOUND or TABLE_NOT_ALLOWED
// names it so already. In a transaction, the table of the failing step
// (metadata `step`). Only a name the request's resolves to is replaced: a
// failure in another table (a trigger's) keeps that table's name. Requests:
// InsertRequest, UpdateRequest, KeyedCallRequest, BatchCall; others pass
// unchanged. Applied where answers leave (api) and before a failure is
// stored under a key, so that GetKey shows the failure the call answered.
absl::Status WithTableAsRequested(absl::Status status,
                                  const google::protobuf::Message& request,
                                  const db::Catalog& catalog);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_REQUESTED_TABLE_H_
