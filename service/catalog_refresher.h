#ifndef IDEM_SERVICE_CATALOG_REFRESHER_H_
#define IDEM_SERVICE_CATALOG_REFRESHER_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/db/catalog.h"

namespace idem {

// Keeps the catalog in step with the tables' definitions. Statements cast
// each value to its column's type as the catalog last read it, so a
// migration applied while the server runs (a column's type widened, NOT
// NULL dropped, the primary key changed) would otherwise go unseen until a
// restart: values cast to the old type, refusals the table no longer
// makes, stored under keys. Every `interval` the loaded tables are read
// again and those that changed replaced.
class CatalogRefresher {
 public:
  CatalogRefresher(db::Catalog& catalog, absl::Duration interval);
  ~CatalogRefresher();

  CatalogRefresher(const CatalogRefresher&) = delete;
  CatalogRefresher& operator=(const CatalogRefresher&) = delete;

 private:
  void Run();

  db::Catalog& catalog_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace idem

#endif  // IDEM_SERVICE_CATALOG_REFRESHER_H_
