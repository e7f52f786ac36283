#ifndef IDEM_SERVICE_CONFIG_H_
#define IDEM_SERVICE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace idem {

// Every setting of the server. Each is a flag, and each flag
// --name can also be set by the environment variable IDEM_NAME (upper
// case), so that a Kubernetes ConfigMap can set it; a flag on the command
// line wins over the variable.
struct Config {
  enum class Command { kServe, kMigrate };
  Command command = Command::kServe;

  std::string listen;
  // IDEM_DATABASE_URL as given (empty: libpq's PG* variables) with the
  // server's connection defaults added (db::ServerConnectionString).
  std::string database_url;
  // The forget listener's session (IDEM_NOTIFY_DATABASE_URL, else
  // database_url), with the same defaults: it must reach PostgreSQL itself.
  std::string notify_database_url;
  absl::Duration db_tcp_timeout;  // zero: the kernel's TCP defaults
  std::vector<std::string> tables;
  std::string storage_root;  // empty: CopyFile answers FAILED_PRECONDITION
  absl::Duration key_retention;
  int pool_size = 0;
  // false: unnamed statements and per-transaction settings, for PgBouncer
  // in transaction mode (db::StatementMode::kUnnamed).
  bool prepared_statements = true;
  int workers = 0;          // threads that run database work
  int max_queued = 0;       // requests waiting for a worker; then overload
  int batch_threads = 0;    // group-commit batches in flight at once
  int batch_max_calls = 0;  // calls per group-commit batch
  int64_t replay_cache_bytes = 0;  // finished KeyedCall answers; 0: none
  bool log_every_request = false;  // else only calls that did not end OK
  std::string metrics_listen;      // empty: no metrics endpoint
  // A plaintext listener serving only grpc.health.v1, for kubelet's native
  // gRPC probes (which cannot speak TLS); empty: none.
  std::string health_listen;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  bool allow_plaintext = false;
  std::string auth_tokens;  // path of the tokens file; empty: no auth
  // How often the TLS files and the tokens file are read again.
  absl::Duration credentials_reload;
  // Server reflection; "auto" resolves to on only without authentication,
  // because reflection (like health) answers without credentials.
  bool reflection = true;
  int tenant_max_in_flight = 0;     // calls in flight per tenant
  int64_t max_bytes_in_flight = 0;  // requests and unsent answers, all calls
  // gRPC's memory quota: what its transport holds for all connections,
  // including requests still arriving, which the service sees only whole.
  int64_t max_transport_bytes = 0;

  size_t max_rows = 0;
  size_t max_message_bytes = 0;
  absl::Duration acquire_timeout;
  absl::Duration statement_timeout;
  absl::Duration lock_timeout;
  absl::Duration drain_delay;
  absl::Duration shutdown_grace;
  absl::Duration max_connection_age;
  // The server pings every connection this often; one whose peer does not
  // answer within the timeout (a frozen process, a vanished node) is
  // closed, and the calls and unsent answers it held go with it.
  absl::Duration keepalive_time;
  absl::Duration keepalive_timeout;
  absl::Duration reaper_interval;
  int reaper_batch = 0;
  absl::Duration copy_lease;
  absl::Duration max_key_retention;    // per-call retention's upper bound
  absl::Duration tombstone_retention;  // 0: no tombstones
};

// Reads flags, with IDEM_* variables as their defaults, and validates them.
// Exits with usage on --help; returns INVALID_ARGUMENT naming the setting
// (flag and variable) for a bad value.
absl::StatusOr<Config> LoadConfig(int argc, char** argv);

// An IDEM_* variable in the environment that names no setting: a setting
// misspelled would otherwise be ignored without a word.
struct UnknownSetting {
  std::string name;
  std::string did_you_mean;  // the closest setting's variable, or empty
};

// The unknown settings among `environment` (as `environ`: NAME=value, null
// at the end). Kubernetes' service links, which a Service whose name starts
// with "idem" puts into every pod of its namespace (IDEM_SERVICE_HOST,
// IDEM_PORT_50051_TCP, ...), are not counted.
std::vector<UnknownSetting> UnknownSettings(char** environment);

}  // namespace idem

#endif  // IDEM_SERVICE_CONFIG_H_
