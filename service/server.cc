#include "service/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "service/common/error_reason.h"
#include "service/db/migration_runner.h"
#include "service/db/transaction.h"
#include "service/observability/log.h"

namespace idem {
namespace {

// How long after the shutdown grace the process waits for work stuck on a
// database that stopped answering, before it ends regardless.
constexpr absl::Duration kStuckWorkBackstop = absl::Seconds(3);
// After the grace, the time the calls cut off have to answer themselves
// before gRPC cancels them; well within kStuckWorkBackstop.
constexpr absl::Duration kAnswerCutOffWithin = absl::Seconds(1);

// How soon a table's changed definition reaches the statements.
constexpr absl::Duration kCatalogRefreshInterval = absl::Seconds(2);

db::PoolOptions PoolOptionsFrom(const Config& config) {
  db::PoolOptions options;
  options.url = config.database_url;
  options.size = config.pool_size;
  options.acquire_timeout = config.acquire_timeout;
  options.statement_timeout = config.statement_timeout;
  options.lock_timeout = config.lock_timeout;
  options.statements = config.prepared_statements ? db::StatementMode::kPrepared
                                                  : db::StatementMode::kUnnamed;
  options.tcp_timeout = config.db_tcp_timeout;
  return options;
}

// A listener for the reloads of a credentials file (TLS, tokens): each one
// taken is `event` info, each refused a warning saying that `kept` stays.
std::function<void(const absl::Status&)> LogReloads(std::string event,
                                                    std::string kept) {
  return [event = std::move(event),
          kept = std::move(kept)](const absl::Status& reloaded) {
    if (reloaded.ok()) {
      log::Info(event, {{"reloaded", true}});
    } else {
      log::Warn(event, {{"reloaded", false},
                        {"message", reloaded.message()},
                        {"kept", kept}});
    }
  };
}

// Linking gRPC's reflection library registers its plugin for every server
// at static initialization; this option takes it out again.
class NoReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == "proto_server_reflection";
                       }),
        plugins->end());
  }
};

// SIGTERM and SIGINT stop the server; SIGHUP, which would end it at once
// unhandled, is taken and ignored (what an operator may send it for, new
// certificates and tokens, the server reads on its own).
sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

// Whether `signal_number` stops the server; logs the one it ignores.
bool Stops(int signal_number) {
  if (signal_number != SIGHUP) return true;
  log::Info("signal",
            {{"signal", signal_number},
             {"message",
              "SIGHUP ignored: TLS files and the tokens file are read again "
              "on their own (IDEM_CREDENTIALS_RELOAD); SIGTERM stops"}});
  return false;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

absl::Status StartUnlessStopped(const std::function<absl::Status()>& start,
                                int stopped_status) {
  absl::Notification started;
  absl::Status status;
  std::thread starter([&] {
    status = start();
    started.Notify();
  });
  const sigset_t signals = ShutdownSignals();
  constexpr timespec kPoll = {0, 50 * 1000 * 1000};
  while (!started.HasBeenNotified()) {
    if (const int signal_number = sigtimedwait(&signals, nullptr, &kPoll);
        signal_number > 0 && Stops(signal_number)) {
      log::Info("stopped", {{"signal", signal_number},
                            {"message", "stopped before serving"}});
      std::_Exit(stopped_status);
    }
  }
  starter.join();
  return status;
}

namespace {

// A start that failed on the database, for the operator: with libpq's
// reason when there is one.
absl::Status CannotPrepare(const absl::Status& failed) {
  std::optional<std::string> cause = OperatorCauseOf(failed);
  return absl::Status(
      failed.code(),
      absl::StrCat("cannot prepare the database: ", failed.message(),
                   cause.has_value() ? absl::StrCat(" (", *cause, ")") : ""));
}

// Applies the migrations and says what it did; warns of a schema newer
// than this binary, which runs on it (migrations only add) but was not
// tested with it: a rollback after a newer release migrated.
absl::Status Migrate(db::ConnectionPool& pool) {
  absl::StatusOr<db::MigrationOutcome> outcome = db::ApplyMigrations(pool);
  if (!outcome.ok()) return CannotPrepare(outcome.status());
  log::Info("migrations", {{"applied", outcome->applied},
                           {"schema_version", outcome->schema_version}});
  if (outcome->schema_version > outcome->known_version) {
    log::Warn("schema_newer",
              {{"schema_version", outcome->schema_version},
               {"known_version", outcome->known_version},
               {"message",
                "the database's schema is newer than this idem-server "
                "knows: a rollback? It serves, on a schema it was not "
                "tested with"}});
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunMigrations(const Config& config) {
  db::ConnectionPool pool(PoolOptionsFrom(config));
  return Migrate(pool);
}

Server::Server(const Config& config) : config_(config) {}

Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Prepare(const Config& config) {
  std::unique_ptr<Server> server(new Server(config));
  // Each step needs the one before it, so stop at the first that fails.
  using Step = absl::Status (Server::*)();
  for (Step step : {&Server::BuildCredentials, &Server::OpenStorage,
                    &Server::BuildOperations, &Server::BuildApi}) {
    if (absl::Status done = (server.get()->*step)(); !done.ok()) return done;
  }
  return server;
}

// TLS from the operator's files, through copies taken only when they check
// (VettedTlsFiles), so that a renewed certificate, key or client CA (a
// Kubernetes Secret updated in place) is served without a restart and a
// broken one is named in the log and not served. The files are checked once
// here, so that one missing or unusable stops the start.
absl::Status Server::BuildCredentials() {
  if (config_.tls_cert.empty()) {
    log::Warn("plaintext", {{"message",
                             "serving WITHOUT TLS because IDEM_ALLOW_PLAINTEXT "
                             "is set: traffic and tokens travel in clear"}});
    credentials_ = grpc::InsecureServerCredentials();
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<auth::VettedTlsFiles>> files =
      auth::VettedTlsFiles::Create(
          {config_.tls_cert, config_.tls_key, config_.tls_client_ca},
          config_.credentials_reload,
          LogReloads("tls", "the certificate and key served before"));
  if (!files.ok()) return files.status();
  tls_files_ = *std::move(files);
  const auth::TlsFilePaths& served = tls_files_->served();
  // The copies change only when a checked set is taken: gRPC may read them
  // often.
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          served.key, served.cert, served.client_ca,
          /*refresh_interval_sec=*/1);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!served.client_ca.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  credentials_ = grpc::experimental::TlsServerCredentials(options);
  return absl::OkStatus();
}

absl::Status Server::Serve() {
  if (absl::Status listening = Listen(credentials_); !listening.ok()) {
    return listening;
  }
  StartBackgroundWork();
  return absl::OkStatus();
}

absl::Status Server::OpenStorage() {
  if (const int threads = config_.workers + config_.batch_threads;
      config_.pool_size < threads) {
    log::Warn("pool_size",
              {{"pool_size", config_.pool_size},
               {"workers", config_.workers},
               {"batch_threads", config_.batch_threads},
               {"message",
                "IDEM_POOL_SIZE is below IDEM_WORKERS + IDEM_BATCH_THREADS: "
                "threads wait for each other's connections, and calls that "
                "wait on row locks can leave other tenants' calls none "
                "(DATABASE_UNAVAILABLE on a healthy database); lower the "
                "threads with the pool"}});
  }
  pool_ = std::make_unique<db::ConnectionPool>(PoolOptionsFrom(config_));
  if (absl::Status migrated = Migrate(*pool_); !migrated.ok()) {
    return migrated;
  }
  catalog_ = std::make_unique<db::Catalog>(*pool_, config_.tables);
  if (absl::Status loaded = catalog_->LoadAll(); !loaded.ok()) {
    return CannotPrepare(loaded);
  }
  WarnOfUnusableTables();
  if (config_.prepared_statements) WarnOfAPooler();
  if (config_.storage_root.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<files::StorageRoot>> root =
      files::StorageRoot::Open(config_.storage_root);
  if (!root.ok()) {
    return absl::Status(
        root.status().code(),
        absl::StrCat("IDEM_STORAGE_ROOT: ", root.status().message()));
  }
  storage_root_ = *std::move(root);
  const files::SweepResult& swept = storage_root_->start_sweep();
  log::Info("storage_root", {{"temporary_files_removed", swept.removed},
                             {"busy_folders_skipped", swept.busy_folders},
                             {"sweep_complete", swept.complete}});
  return absl::OkStatus();
}

void Server::WarnOfAPooler() const {
  absl::StatusOr<bool> pooled = db::RunAutocommit(
      *pool_, [](db::Transaction& txn) -> absl::StatusOr<bool> {
        return txn.ThroughAPooler();
      });
  if (!pooled.ok() || !*pooled) return;
  log::Warn("pooler",
            {{"message",
              "IDEM_DATABASE_URL reaches PostgreSQL through a connection "
              "pooler, and prepared statements are on: in transaction mode "
              "(PgBouncer's pool_mode=transaction) they collide with other "
              "clients' and every call fails; set "
              "IDEM_PREPARED_STATEMENTS=false (session mode is fine)"}});
}

void Server::WarnOfUnusableTables() const {
  std::vector<std::string> absent, without_key;
  for (const std::string& entry : config_.tables) {
    const std::shared_ptr<const db::Table> table = catalog_->FindLoaded(entry);
    if (table == nullptr) {
      absent.push_back(entry);
    } else if (table->primary_key.empty()) {
      without_key.push_back(entry);
    }
  }
  if (absent.empty() && without_key.empty()) return;
  log::Warn("tables",
            {{"absent", log::FirstNames(absent)},
             {"without_primary_key", log::FirstNames(without_key)},
             {"message",
              "IDEM_TABLES names tables calls cannot use yet: absent ones "
              "(or views, or a list not separated by commas) are "
              "TABLE_NOT_FOUND until created, and a table without a "
              "primary key is refused"}});
}

absl::Status Server::BuildOperations() {
  key_store_ = std::make_unique<keys::KeyStore>(config_.key_retention,
                                                config_.tombstone_retention);
  ops_.pool = pool_.get();
  ops_.catalog = catalog_.get();
  if (config_.replay_cache_bytes > 0) {
    keys::FinishedCallCache::Options cache;
    cache.max_bytes = static_cast<size_t>(config_.replay_cache_bytes);
    finished_calls_ = std::make_unique<keys::FinishedCallCache>(cache);
    keys::ForgetListener::Options listening;
    listening.url = config_.notify_database_url;
    forget_listener_ = std::make_unique<keys::ForgetListener>(
        std::move(listening), *finished_calls_);
    // Replays are answered from memory from the first call on, unless the
    // listener is slow to listen: then the cache is off until it does.
    if (!forget_listener_->AwaitListening(absl::Seconds(5))) {
      log::Warn("forget_listener",
                {{"message",
                  "not listening yet; serving replays from the "
                  "database until it does"}});
    }
  }
  ledger_ = std::make_unique<keys::Ledger>(*pool_, *key_store_,
                                           finished_calls_.get());
  ops_.ledger = ledger_.get();
  ops_.storage_root = storage_root_.get();
  ops_.copy_lease = config_.copy_lease;
  ops_.limits.max_rows_per_insert = config_.max_rows;
  ops_.limits.max_key_retention = config_.max_key_retention;
  std::function<observability::Metrics::ReplayCacheUsage()> replay_cache;
  if (finished_calls_ != nullptr) {
    replay_cache = [cache = finished_calls_.get(),
                    listener = forget_listener_.get()] {
      const keys::FinishedCallCache::Usage usage = cache->usage();
      return observability::Metrics::ReplayCacheUsage{
          static_cast<double>(usage.bytes),
          static_cast<double>(usage.max_bytes),
          static_cast<double>(usage.evicted_live),
          static_cast<double>(usage.hits),
          usage.serving ? 1.0 : 0.0,
          static_cast<double>(listener->notifications())};
    };
  }
  absl::StatusOr<std::unique_ptr<observability::Metrics>> metrics =
      observability::Metrics::Create(
          config_.metrics_listen,
          {[pool = pool_.get()] { return pool->in_use(); },
           [pool = pool_.get()] { return pool->waiting(); }, config_.pool_size},
          std::move(replay_cache));
  if (!metrics.ok()) return metrics.status();
  metrics_ = *std::move(metrics);
  ops::GroupCommitOptions batching;
  batching.threads = config_.batch_threads;
  batching.max_batches_per_tenant = std::max(1, config_.batch_threads - 1);
  batching.max_calls = static_cast<size_t>(config_.batch_max_calls);
  batching.max_rows = config_.max_rows;
  batching.max_queued = static_cast<size_t>(config_.max_queued);
  batching.on_batch = [metrics = metrics_.get()](size_t calls) {
    metrics->RecordBatch(calls);
  };
  committer_ = std::make_unique<ops::GroupCommitter>(ops_, std::move(batching));
  ops_.committer = committer_.get();
  return absl::OkStatus();
}

absl::Status Server::BuildApi() {
  absl::StatusOr<std::unique_ptr<auth::Authenticator>> authenticator =
      auth::Authenticator::Create(
          config_.auth_tokens, config_.credentials_reload,
          LogReloads("tokens", "the tokens loaded before"));
  if (!authenticator.ok()) return authenticator.status();
  authenticator_ = *std::move(authenticator);
  if (authenticator_->maps_client_certificates() &&
      config_.tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        "IDEM_AUTH_TOKENS maps client certificates, which needs mutual TLS: "
        "set IDEM_TLS_CLIENT_CA");
  }
  limiter_ = std::make_unique<api::TenantLimiter>(
      config_.tenant_max_in_flight,
      static_cast<size_t>(config_.max_bytes_in_flight));
  workers_ = std::make_unique<WorkerPool>(config_.workers, config_.max_queued);
  admission_ = std::make_unique<api::Admission>(
      *authenticator_, *limiter_, *catalog_, config_.max_message_bytes);
  service_ = std::make_unique<api::IdemService>(
      ops_, *workers_, *admission_, *metrics_, config_.log_every_request);
  return absl::OkStatus();
}

absl::Status Server::Listen(
    const std::shared_ptr<grpc::ServerCredentials>& credentials) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Reflection, like health, answers without credentials (IDEM_REFLECTION).
  if (!config_.reflection) builder.SetOption(std::make_unique<NoReflection>());
  int port = 0;
  builder.AddListeningPort(config_.listen, credentials, &port);
  // A port another process listens on is an error, not one to share: with
  // SO_REUSEPORT (gRPC's default) a second server would quietly take half
  // of the first one's connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service_.get());
  // Twice the request limit, so that the handler (not the transport) turns
  // an oversized request down with a message that says why.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<size_t>(2 * config_.max_message_bytes, INT32_MAX)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config_.max_connection_age)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config_.shutdown_grace)));
  // Each call open on a connection holds memory of its own beyond the
  // bytes IDEM_MAX_BYTES_IN_FLIGHT counts, answered or not, and a caller
  // that reads no answers would otherwise open calls without end. Clients
  // queue calls past this until one ends.
  constexpr int kMaxCallsPerConnection = 1000;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             kMaxCallsPerConnection);
  // A request is admitted only once it has arrived whole, so callers that
  // send parts of large messages and never finish them (no credentials
  // needed) would make gRPC buffer without end; past this quota gRPC
  // closes connections and resets calls with RESOURCE_EXHAUSTED instead.
  grpc::ResourceQuota transport_memory("idem-transport");
  transport_memory.Resize(static_cast<size_t>(config_.max_transport_bytes));
  builder.SetResourceQuota(transport_memory);
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive_time)));
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive_timeout)));
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("IDEM_LISTEN: cannot listen on ", config_.listen));
  }
  health_services_ = {grpc_server_->GetHealthCheckService()};
  if (!config_.health_listen.empty()) {
    grpc::ServerBuilder probes;
    probes.SetOption(std::make_unique<NoReflection>());  // health only
    int probe_port = 0;
    probes.AddListeningPort(config_.health_listen,
                            grpc::InsecureServerCredentials(), &probe_port);
    probes.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    probes.RegisterCallbackGenericService(&probe_fallback_);
    health_server_ = probes.BuildAndStart();
    if (health_server_ == nullptr || probe_port == 0) {
      return absl::UnavailableError(absl::StrCat(
          "IDEM_HEALTH_LISTEN: cannot listen on ", config_.health_listen));
    }
    health_services_.push_back(health_server_->GetHealthCheckService());
  }
  std::string host = config_.listen.substr(0, config_.listen.rfind(':'));
  log::Info("listening", {{"address", absl::StrCat(host, ":", port)},
                          {"tls", !config_.tls_cert.empty()},
                          {"tables", log::FirstNames(config_.tables)}});
  return absl::OkStatus();
}

void Server::StartBackgroundWork() {
  // A second, so that readiness follows the database within seconds; an
  // answer later than 3 s is an outage, as a lost connection is.
  constexpr absl::Duration kAnswerWithin = absl::Seconds(3);
  health_monitor_ = std::make_unique<HealthMonitor>(
      health_services_, config_.database_url, absl::Seconds(1), kAnswerWithin,
      &pool_->clock(),
      // The calls that wait on it as long end as on a lost connection
      // (UNAVAILABLE, or COMMIT_UNKNOWN for a COMMIT), and their sessions
      // go: after a failover the pool's next sessions reach the new primary.
      [pool = pool_.get(), kAnswerWithin] {
        pool->EndWaitsLongerThan(kAnswerWithin);
      },
      [metrics = metrics_.get()](bool up) { metrics->RecordDatabaseUp(up); });
  reaper_ = std::make_unique<keys::KeyReaper>(
      *pool_, config_.reaper_interval, config_.reaper_batch,
      [metrics = metrics_.get()](const keys::KeyReaper::Pass& pass) {
        metrics->RecordReaped(pass.deleted);
        metrics->RecordKeys(pass.keys.in_flight, pass.keys.finished,
                            pass.keys.expired);
      });
  catalog_refresher_ =
      std::make_unique<CatalogRefresher>(*catalog_, kCatalogRefreshInterval);
}

void Server::RunUntilSignalled() {
  const sigset_t signals = ShutdownSignals();
  int signal_number = 0;
  do {
    sigwait(&signals, &signal_number);
  } while (!Stops(signal_number));
  log::Info("draining", {{"signal", signal_number},
                         {"drain_delay_ms",
                          absl::ToInt64Milliseconds(config_.drain_delay)}});
  const absl::Time drain_over = absl::Now() + config_.drain_delay;
  const absl::Time grace_over = drain_over + config_.shutdown_grace;
  // A database that stopped answering (its processes or disk stalled)
  // returns neither the calls' statements, nor the requests that cancel
  // them, nor the reaper's and the catalog's own queries, and the steps
  // below would wait for it for ever: a few seconds after the grace the
  // process ends regardless, as a kill would end it.
  absl::Notification stopped;
  // The calls still running then end without a request line of their own:
  // this line counts them by tenant (their callers see the connection drop
  // and retry under their keys).
  std::thread backstop([&stopped, grace_over, limiter = limiter_.get()] {
    if (!stopped.WaitForNotificationWithDeadline(grace_over +
                                                 kStuckWorkBackstop)) {
      log::Error(
          "stopping with work stuck on the database",
          {{"after_grace_ms", absl::ToInt64Milliseconds(kStuckWorkBackstop)},
           {"calls_cut", limiter->in_flight_by_tenant()}});
      std::_Exit(1);
    }
  });
  health_monitor_.reset();  // returns at once, whatever its probe waits on
  // NOT_SERVING for good, so that endpoints drop this replica while it
  // still serves the calls that arrive meanwhile.
  grpc_server_->GetHealthCheckService()->Shutdown();
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->Shutdown();
  }
  absl::SleepFor(drain_over - absl::Now());
  // When the grace is over, gRPC answers every call still running
  // UNAVAILABLE, and its Shutdown waits for their handlers. What those
  // calls do must then not commit behind their callers' backs (when the
  // row lock they wait for goes), nor be tried again: the pool closes and
  // their statements are cancelled, so that they roll back and end; file
  // copies stop at their next chunk, before their rename.
  absl::Notification shut_down;
  std::thread cut_off([&] {
    if (!shut_down.WaitForNotificationWithDeadline(grace_over)) {
      pool_->Close();
      pool_->CancelRunningStatements();
      if (storage_root_ != nullptr) storage_root_->StopCopies();
    }
  });
  // gRPC's own cut-off comes a little later, so that the calls whose
  // statements were cancelled at grace_over answer first with their own
  // status (SHUTTING_DOWN and its ErrorInfo), not gRPC's bare UNAVAILABLE.
  grpc_server_->Shutdown(absl::ToChronoTime(grace_over + kAnswerCutOffWithin));
  shut_down.Notify();
  cut_off.join();
  if (health_server_ != nullptr) health_server_->Shutdown();
  // These wait for a query of theirs that runs, which a stalled database
  // may never answer: only now, when no call waits behind them.
  reaper_.reset();
  catalog_refresher_.reset();
  workers_.reset();    // drops what is still queued: its RPC was cancelled
  committer_.reset();  // commits what the workers handed over
  pool_->Close();
  stopped.Notify();
  backstop.join();
  log::Info("stopped");
}

}  // namespace idem
