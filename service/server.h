#ifndef IDEM_SERVICE_SERVER_H_
#define IDEM_SERVICE_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "service/api/idem_service.h"
#include "service/api/worker_pool.h"
#include "service/auth/authenticator.h"
#include "service/auth/vetted_tls_files.h"
#include "service/catalog_refresher.h"
#include "service/config.h"
#include "service/db/catalog.h"
#include "service/db/connection_pool.h"
#include "service/files/storage_root.h"
#include "service/health_monitor.h"
#include "service/keys/finished_call_cache.h"
#include "service/keys/forget_listener.h"
#include "service/keys/key_reaper.h"
#include "service/keys/key_store.h"
#include "service/keys/ledger.h"
#include "service/observability/metrics.h"
#include "service/ops/group_commit.h"
#include "service/ops/ops_context.h"

namespace idem {

// The running server: database pool, catalog, workers, the gRPC service
// with health and reflection, and the orderly stop.
class Server {
 public:
  // Connects, applies migrations and loads the catalog; serves nothing yet.
  static absl::StatusOr<std::unique_ptr<Server>> Prepare(const Config& config);
  ~Server();

  // Starts listening and the background work (health, reaper, catalog).
  absl::Status Serve();

  // Blocks until SIGTERM or SIGINT (which the caller must have blocked in
  // every thread, see BlockShutdownSignals), then drains: health turns
  // NOT_SERVING at once, calls are still served for the drain delay, then
  // the listener closes and in-flight calls get the shutdown grace.
  void RunUntilSignalled();

 private:
  explicit Server(const Config& config);

  // The steps of Prepare and Serve, in order, each building its part from the
  // parts before it: the TLS credentials; the database and storage root; the
  // operations (key store, replay cache, metrics, group committer); the API
  // (authentication, admission, the service); the listeners; the background
  // threads.
  absl::Status BuildCredentials();
  absl::Status OpenStorage();
  // Says at start which allow-listed tables calls cannot use, and when
  // prepared statements go through a connection pooler.
  void WarnOfUnusableTables() const;
  void WarnOfAPooler() const;
  absl::Status BuildOperations();
  absl::Status BuildApi();
  absl::Status Listen(
      const std::shared_ptr<grpc::ServerCredentials>& credentials);
  void StartBackgroundWork();

  const Config config_;
  std::unique_ptr<auth::VettedTlsFiles> tls_files_;  // outlives credentials_
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<db::ConnectionPool> pool_;
  std::unique_ptr<db::Catalog> catalog_;
  std::unique_ptr<keys::KeyStore> key_store_;
  std::unique_ptr<keys::FinishedCallCache> finished_calls_;
  std::unique_ptr<keys::ForgetListener> forget_listener_;  // after its cache
  std::unique_ptr<keys::Ledger> ledger_;
  std::unique_ptr<files::StorageRoot> storage_root_;
  ops::OpsContext ops_;
  // Declared before the threads that use them, so destroyed after them.
  std::unique_ptr<observability::Metrics> metrics_;
  std::unique_ptr<ops::GroupCommitter> committer_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<api::TenantLimiter> limiter_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<api::Admission> admission_;
  std::unique_ptr<api::IdemService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // The probe server's only service answers UNIMPLEMENTED: gRPC builds no
  // server without one (the health service it adds is not counted).
  grpc::CallbackGenericService probe_fallback_;
  std::unique_ptr<grpc::Server> health_server_;  // plaintext probes only
  std::vector<grpc::HealthCheckServiceInterface*> health_services_;
  std::unique_ptr<HealthMonitor> health_monitor_;
  std::unique_ptr<keys::KeyReaper> reaper_;
  std::unique_ptr<CatalogRefresher> catalog_refresher_;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread
// it starts later, so that RunUntilSignalled can wait for them (SIGHUP is
// logged and ignored). Call first thing in main.
void BlockShutdownSignals();

// Runs `start` (connecting, migrating: Server::Prepare, never Serve) on a
// thread of its own while this one waits for SIGTERM or SIGINT: a signal
// that comes first ends the process at once with `stopped_status`, since
// nothing is served yet and nothing drains (a migration's transaction
// rolls back with its connection), so that a pod stopped while it waits
// for the database or for another replica's migration does not wait out
// its grace period: 0 for a server that never served, not 0 for `migrate`,
// whose Job must not read as done. What `start` returned otherwise; a
// signal after it stays pending for Server::RunUntilSignalled.
absl::Status StartUnlessStopped(const std::function<absl::Status()>& start,
                                int stopped_status);

// `idem-server migrate`: applies the migrations and returns.
absl::Status RunMigrations(const Config& config);

}  // namespace idem

#endif  // IDEM_SERVICE_SERVER_H_
