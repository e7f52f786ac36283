#include "service/ops/requested_table.h"

#include <map>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "idem/v1/idem.pb.h"
#include "service/common/error_reason.h"

namespace idem::ops {
namespace {

// The table the part of `call` that failed named; null when none did.
const std::string* TableOf(const v1::KeyedCallRequest& call,
                           const std::map<std::string, std::string>& metadata) {
  if (call.has_insert()) return &call.insert().table();
  if (call.has_update()) return &call.update().table();
  if (!call.has_transaction()) return nullptr;
  auto step_entry = metadata.find("step");
  int step = 0;
  if (step_entry == metadata.end() ||
      !absl::SimpleAtoi(step_entry->second, &step) || step < 0 ||
      step >= call.transaction().steps_size()) {
    return nullptr;
  }
  const v1::Step& failed = call.transaction().steps(step);
  if (failed.has_insert()) return &failed.insert().table();
  if (failed.has_update()) return &failed.update().table();
  return nullptr;
}

const std::string* TableOf(const google::protobuf::Message& request,
                           const std::map<std::string, std::string>& metadata) {
  if (const auto* insert = dynamic_cast<const v1::InsertRequest*>(&request)) {
    return &insert->table();
  }
  if (const auto* update = dynamic_cast<const v1::UpdateRequest*>(&request)) {
    return &update->table();
  }
  if (const auto* keyed = dynamic_cast<const v1::KeyedCallRequest*>(&request)) {
    return TableOf(*keyed, metadata);
  }
  if (const auto* item = dynamic_cast<const v1::BatchCall*>(&request)) {
    if (item->has_insert()) return &item->insert().table();
    if (item->has_keyed_call()) return TableOf(item->keyed_call(), metadata);
  }
  return nullptr;
}

}  // namespace

absl::Status WithTableAsRequested(absl::Status status,
                                  const google::protobuf::Message& request,
                                  const db::Catalog& catalog) {
  if (status.ok()) return status;
  const std::map<std::string, std::string> metadata = MetadataOf(status);
  auto table = metadata.find("table");
  if (table == metadata.end()) return status;
  const std::string* requested = TableOf(request, metadata);
  if (requested == nullptr || *requested == table->second) return status;
  const std::shared_ptr<const db::Table> resolved =
      catalog.FindLoaded(*requested);
  if (resolved == nullptr || resolved->name != table->second) return status;
  return WithErrorMetadata(std::move(status), "table", *requested);
}

}  // namespace idem::ops
