#include "service/catalog_refresher.h"

#include <string>

#include "service/observability/log.h"

namespace idem {

CatalogRefresher::CatalogRefresher(db::Catalog& catalog,
                                   absl::Duration interval)
    : catalog_(catalog), interval_(interval), thread_([this] { Run(); }) {}

CatalogRefresher::~CatalogRefresher() {
  stop_.Notify();
  thread_.join();
}

void CatalogRefresher::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    for (const std::string& table : catalog_.RefreshLoaded()) {
      log::Info("table_definition_changed", {{"table", table}});
    }
  }
}

}  // namespace idem
