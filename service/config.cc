#include "service/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>
#include <regex>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "service/available_cores.h"
#include "service/db/connection_string.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC address (host:port)");
ABSL_FLAG(std::string, database_url, "",
          "libpq connection string or URI (several hosts for a primary with "
          "standbys); empty: libpq's PG* variables");
ABSL_FLAG(std::string, notify_database_url, "",
          "libpq connection string or URI for the session on which the "
          "replay cache hears of forgotten keys (LISTEN): PostgreSQL's "
          "primary itself, never a pooler in transaction mode; empty: "
          "database_url");
ABSL_FLAG(absl::Duration, db_tcp_timeout, absl::Seconds(10),
          "a database connection silent this long is given up (TCP "
          "keepalives, tcp_user_timeout, connect_timeout, and the database's "
          "side of the same), so that calls on a dropped connection answer "
          "UNAVAILABLE; 0: the kernel's defaults (hours)");
ABSL_FLAG(std::vector<std::string>, tables, {},
          "comma-separated allow-list of tables (schema.name or name); "
          "empty: Insert and Update refuse every table");
ABSL_FLAG(std::string, storage_root, "",
          "root folder for CopyFile; empty: CopyFile is refused");
ABSL_FLAG(absl::Duration, key_retention, absl::Hours(24),
          "how long idempotency keys are kept, e.g. 24h, 90s");
ABSL_FLAG(int, pool_size, 0,
          "database connections; 0: workers + batch_threads");
ABSL_FLAG(bool, prepared_statements, true,
          "prepare each statement once per connection; false: send every "
          "statement unnamed and set timeouts per transaction, for PgBouncer "
          "in transaction mode (before 1.21)");
ABSL_FLAG(int, workers, 0,
          "threads running database work; 0: four per core, at least 16");
ABSL_FLAG(int, max_queued, 4096,
          "requests waiting for a worker before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, batch_threads, 0,
          "Insert and KeyedCall batches committed at once (group commit), "
          "each on its own connection; 0: two per core, at least 4");
ABSL_FLAG(int, batch_max_calls, 64,
          "calls committed together in one transaction at most; 1: no "
          "batching");
ABSL_FLAG(int64_t, replay_cache_bytes, 16 << 20,
          "memory for finished KeyedCall answers, so that replays are "
          "answered without a database read; 0: off");
ABSL_FLAG(std::string, request_log, "errors",
          "which finished calls get a `request` log line: errors (every call "
          "that did not end OK) or all; metrics count every call either way");
ABSL_FLAG(std::string, metrics_listen, "",
          "HTTP address for Prometheus metrics; empty: off");
ABSL_FLAG(std::string, health_listen, "",
          "plaintext address serving only the gRPC health service (for "
          "Kubernetes probes when the main port is TLS); empty: off");
ABSL_FLAG(std::string, tls_cert, "", "server certificate (PEM file)");
ABSL_FLAG(std::string, tls_key, "", "server private key (PEM file)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA (PEM file) that client certificates must chain to: mutual TLS");
ABSL_FLAG(bool, allow_plaintext, false,
          "serve without TLS; without TLS settings and without this, the "
          "server refuses to start");
ABSL_FLAG(std::string, auth_tokens, "",
          "JSON file of accepted bearer-token hashes; empty: one default "
          "tenant, no authentication");
ABSL_FLAG(absl::Duration, credentials_reload, absl::Seconds(60),
          "how often the TLS certificate, key and client CA and the tokens "
          "file are read again, so that rotated ones apply without a restart "
          "(a file that does not load is logged and the last good one kept)");
ABSL_FLAG(std::string, reflection, "auto",
          "gRPC server reflection: true, false, or auto (on without "
          "IDEM_AUTH_TOKENS, off with it: reflection answers without "
          "credentials)");
ABSL_FLAG(int, tenant_max_in_flight, 1000,
          "calls one tenant may have in flight before RESOURCE_EXHAUSTED, so "
          "that one tenant cannot fill the queue for all; the default holds "
          "the largest Batch (1000 calls, each one call)");
ABSL_FLAG(int64_t, max_bytes_in_flight, 64 << 20,
          "bytes of the requests in flight and of the answers not yet sent "
          "before RESOURCE_EXHAUSTED OVERLOADED (a call alone always runs): "
          "a call holds its rows several times over while it runs, so this "
          "bounds the server's memory; 1 KiB to 64 GiB");
ABSL_FLAG(int64_t, max_transport_bytes, 256 << 20,
          "memory gRPC's transport may hold for all connections (requests "
          "still arriving, answers still leaving) before it closes "
          "connections and resets calls instead of growing; 1 MiB to 64 GiB");
ABSL_FLAG(int64_t, max_rows, 10000, "rows per Insert request");
ABSL_FLAG(int64_t, max_message_bytes, 16 << 20,
          "largest request message in bytes");
ABSL_FLAG(absl::Duration, acquire_timeout, absl::Seconds(5),
          "wait for a free database connection before UNAVAILABLE");
ABSL_FLAG(absl::Duration, statement_timeout, absl::Seconds(30),
          "PostgreSQL statement_timeout of the server's sessions");
ABSL_FLAG(absl::Duration, lock_timeout, absl::Seconds(5),
          "longest wait behind a row lock (e.g. a key in flight)");
ABSL_FLAG(absl::Duration, drain_delay, absl::Seconds(5),
          "after SIGTERM: keep serving this long with health NOT_SERVING");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "after the drain delay: longest wait for in-flight calls");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "clients reconnect after this, so new replicas receive traffic");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Seconds(30),
          "how often the server pings each client connection");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(10),
          "a connection whose peer answers no ping within this is closed");
ABSL_FLAG(absl::Duration, reaper_interval, absl::Minutes(1),
          "how often expired idempotency keys are removed");
ABSL_FLAG(int, reaper_batch, 1000, "keys removed per reaper statement");
ABSL_FLAG(absl::Duration, max_key_retention, absl::Hours(24 * 7),
          "the longest retention a KeyedCall may ask for");
ABSL_FLAG(absl::Duration, tombstone_retention, absl::Hours(24 * 30),
          "how long a finished key's fingerprint is remembered after its "
          "answer expired, so that a late retry does not run again; 0: off");
ABSL_FLAG(absl::Duration, copy_lease, absl::Seconds(15),
          "how long a keyed CopyFile's claim of its key lives without a "
          "renewal (a running copy renews it every third of this): after a "
          "crash, how long until a retry may take the key over");

namespace idem {
namespace {

constexpr const char* kFlagNames[] = {"listen",
                                      "database_url",
                                      "notify_database_url",
                                      "db_tcp_timeout",
                                      "tables",
                                      "storage_root",
                                      "key_retention",
                                      "pool_size",
                                      "prepared_statements",
                                      "workers",
                                      "max_queued",
                                      "batch_threads",
                                      "batch_max_calls",
                                      "replay_cache_bytes",
                                      "request_log",
                                      "metrics_listen",
                                      "health_listen",
                                      "tls_cert",
                                      "tls_key",
                                      "tls_client_ca",
                                      "allow_plaintext",
                                      "auth_tokens",
                                      "credentials_reload",
                                      "max_rows",
                                      "max_message_bytes",
                                      "acquire_timeout",
                                      "statement_timeout",
                                      "lock_timeout",
                                      "drain_delay",
                                      "shutdown_grace",
                                      "max_connection_age",
                                      "keepalive_time",
                                      "keepalive_timeout",
                                      "reaper_interval",
                                      "reaper_batch",
                                      "copy_lease",
                                      "max_key_retention",
                                      "tombstone_retention",
                                      "reflection",
                                      "tenant_max_in_flight",
                                      "max_bytes_in_flight",
                                      "max_transport_bytes"};

std::string EnvName(absl::string_view flag) {
  return absl::StrCat("IDEM_", absl::AsciiStrToUpper(flag));
}

// IDEM_* variables become the flags' values before the command line is
// parsed, so that the command line overrides them.
// What a value of `flag`'s type is written as, for a value that did not
// parse (abseil says only "Illegal value").
std::string WrittenAs(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<absl::Duration>()) {
    return "a duration: a number and a unit, e.g. 500ms, 90s, 5m, 24h (no "
           "days: 168h)";
  }
  if (flag.IsOfType<bool>()) return "true or false";
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>()) {
    return absl::EndsWith(flag.Name(), "_bytes")
               ? "a whole number of bytes: 16777216, not 16MiB"
               : "a whole number";
  }
  return "";
}

// Sets `flag` from `value`; when it does not parse, what is wrong and how
// such a value is written. The same words for a variable and a flag.
std::optional<std::string> ParseProblem(absl::CommandLineFlag& flag,
                                        absl::string_view value) {
  std::string error;
  if (flag.ParseFrom(value, &error)) return std::nullopt;
  const std::string written_as = WrittenAs(flag);
  return absl::StrCat(
      error, written_as.empty() ? "" : absl::StrCat("; expected ", written_as));
}

absl::Status ApplyEnvironment() {
  for (const char* name : kFlagNames) {
    const char* value = std::getenv(EnvName(name).c_str());
    if (value == nullptr) continue;
    if (std::optional<std::string> problem =
            ParseProblem(*absl::FindCommandLineFlag(name), value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(EnvName(name), ": ", *problem));
    }
  }
  return absl::OkStatus();
}

// The edits (characters inserted, deleted or replaced) that turn `a` into
// `b` (Levenshtein distance).
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The setting whose name, as `as` writes it (EnvName, or the flag's own),
// is closest to `name` by at most 3 edits; "" when none is. Farther than
// that from every setting, a name is not a misspelling of one
// (IDEM_TABLE and IDEM_LOCKTIMEOUT are 1 away from theirs).
std::string ClosestSetting(absl::string_view name,
                           const std::function<std::string(const char*)>& as) {
  constexpr size_t kMostEdits = 3;
  std::string closest;
  size_t fewest = kMostEdits + 1;
  for (const char* flag : kFlagNames) {
    const std::string written = as(flag);
    if (const size_t edits = EditDistance(name, written); edits < fewest) {
      fewest = edits;
      closest = written;
    }
  }
  return closest;
}

// The variables Kubernetes sets for a Service named e.g. "idem" or
// "idem-metrics": NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME],
// NAME_PORT, NAME_PORT_<port>_<PROTOCOL>[_PROTO|_PORT|_ADDR].
bool IsServiceLink(const std::string& name, absl::string_view value) {
  static const std::regex kServiceLink(
      "[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|"
      "PORT_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)");
  // <SERVICE>_PORT alone is a link only with a link's value
  // (tcp://10.0.0.1:50051): IDEM_LISTEN_PORT=50051 is a setting misnamed.
  static const std::regex kLinkAddress("[A-Z0-9_]+_PORT");
  return std::regex_match(name, kServiceLink) ||
         (std::regex_match(name, kLinkAddress) &&
          (absl::StartsWith(value, "tcp://") ||
           absl::StartsWith(value, "udp://") ||
           absl::StartsWith(value, "sctp://")));
}

absl::Status Invalid(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " (", EnvName(flag), "): ", why));
}

// `value` within [`least`, `most`], or the setting's error saying so.
absl::Status DurationWithin(absl::string_view flag, absl::Duration value,
                            absl::Duration least, absl::Duration most) {
  if (value >= least && value <= most) return absl::OkStatus();
  return Invalid(flag,
                 absl::StrCat("must be between ", absl::FormatDuration(least),
                              " and ", absl::FormatDuration(most)));
}

struct HostPort {
  std::string host;
  int port = 0;
};

// host:port with a port gRPC can listen on (0: any free one); gRPC itself
// takes a larger number modulo 65536. A Unix socket (unix:path) has none:
// nullopt. A host written as an address must be one: a resolver would take
// 999.1.1.1 for 231.1.1.1 (a number past 255 carries into the octet before).
// A missing host gRPC takes and fails to bind, with its own words.
absl::StatusOr<std::optional<HostPort>> ListenAddress(
    absl::string_view flag, const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return std::nullopt;
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      absl::c_any_of(address, [](char c) { return absl::ascii_isspace(c); }) ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return Invalid(flag, "must be host:port, with a port from 0 to 65535");
  }
  const std::string host = address.substr(0, colon);
  if (host.empty()) {
    return Invalid(flag, absl::StrCat("needs a host: 0.0.0.0:", port,
                                      " for every interface, 127.0.0.1:", port,
                                      " for this machine only"));
  }
  in_addr ipv4;
  in6_addr ipv6;
  const bool written_as_ipv4 =
      !host.empty() && absl::c_all_of(host, [](char c) {
        return absl::ascii_isdigit(c) || c == '.';
      });
  if (written_as_ipv4 && inet_pton(AF_INET, host.c_str(), &ipv4) != 1) {
    return Invalid(flag, absl::StrCat("\"", host, "\" is no IPv4 address"));
  }
  if (absl::StartsWith(host, "[") &&
      (!absl::EndsWith(host, "]") ||
       inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &ipv6) !=
           1)) {
    return Invalid(flag, absl::StrCat("\"", host, "\" is no IPv6 address"));
  }
  return HostPort{host, port};
}

bool AnyInterface(const std::string& host) {
  return host == "0.0.0.0" || host == "[::]";
}

// The listeners besides gRPC's, each parsed and on a port of its own: one
// on gRPC's port would bind first and leave gRPC's refusal to blame
// IDEM_LISTEN.
absl::Status ValidateListeners(const Config& config) {
  if (config.listen.empty()) return Invalid("listen", "must not be empty");
  absl::StatusOr<std::optional<HostPort>> grpc =
      ListenAddress("listen", config.listen);
  if (!grpc.ok()) return grpc.status();
  for (const auto& [flag, address] :
       {std::pair<absl::string_view, const std::string&>{"health_listen",
                                                         config.health_listen},
        {"metrics_listen", config.metrics_listen}}) {
    if (address.empty()) continue;
    absl::StatusOr<std::optional<HostPort>> other =
        ListenAddress(flag, address);
    if (!other.ok()) return other.status();
    if (!grpc->has_value() || !other->has_value()) continue;
    const HostPort& a = **grpc;
    const HostPort& b = **other;
    if (a.port != 0 && a.port == b.port &&
        (a.host == b.host || AnyInterface(a.host) || AnyInterface(b.host))) {
      return Invalid(flag, absl::StrCat("uses the port of IDEM_LISTEN (",
                                        config.listen, "): give it another"));
    }
  }
  return absl::OkStatus();
}

// The settings that bound waits and intervals. Zero or negative would mean
// "no limit" to PostgreSQL, a busy loop to the reaper, and overflow gRPC's
// millisecond channel arguments past 2^31 ms (24 days).
absl::Status ValidateDurations(const Config& config) {
  constexpr absl::Duration kLongestRetention = absl::Hours(24 * 365 * 100);
  const struct {
    absl::string_view flag;
    absl::Duration value, least, most;
  } bounded[] = {
      {"acquire_timeout", config.acquire_timeout, absl::Milliseconds(1),
       absl::Hours(1)},
      {"statement_timeout", config.statement_timeout, absl::Milliseconds(1),
       absl::Hours(24)},
      {"lock_timeout", config.lock_timeout, absl::Milliseconds(1),
       absl::Hours(24)},
      {"drain_delay", config.drain_delay, absl::ZeroDuration(), absl::Hours(1)},
      {"shutdown_grace", config.shutdown_grace, absl::ZeroDuration(),
       absl::Hours(1)},
      {"max_connection_age", config.max_connection_age, absl::Seconds(1),
       absl::Hours(24 * 24)},
      {"keepalive_time", config.keepalive_time, absl::Seconds(1),
       absl::Hours(24)},
      {"keepalive_timeout", config.keepalive_timeout, absl::Seconds(1),
       absl::Hours(1)},
      {"reaper_interval", config.reaper_interval, absl::Milliseconds(10),
       absl::Hours(24)},
      // Expiry times must fit PostgreSQL's timestamps and protobuf's
      // Duration: a century is plenty, "inf" is not a retention.
      {"max_key_retention", config.max_key_retention, absl::Minutes(1),
       kLongestRetention},
      {"tombstone_retention", config.tombstone_retention, absl::ZeroDuration(),
       kLongestRetention},
  };
  for (const auto& setting : bounded) {
    if (absl::Status s = DurationWithin(setting.flag, setting.value,
                                        setting.least, setting.most);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const Config& config) {
  if (absl::Status s = ValidateListeners(config); !s.ok()) return s;
  if (absl::Status s = ValidateDurations(config); !s.ok()) return s;
  if (config.max_queued < 1 || config.max_queued > 1000000) {
    return Invalid("max_queued", "must be between 1 and 1000000");
  }
  if (config.key_retention <= absl::ZeroDuration()) {
    return Invalid("key_retention", "must be positive");
  }
  if (config.pool_size < 1 || config.pool_size > 1000) {
    return Invalid("pool_size", "must be between 1 and 1000");
  }
  if (config.workers < 1 || config.workers > 1000) {
    return Invalid("workers", "must be between 1 and 1000");
  }
  if (config.batch_threads < 2 || config.batch_threads > 256) {
    return Invalid("batch_threads", "must be between 2 and 256");
  }
  if (config.batch_max_calls < 1 || config.batch_max_calls > 1000) {
    return Invalid("batch_max_calls", "must be between 1 and 1000");
  }
  if (config.replay_cache_bytes < 0 ||
      config.replay_cache_bytes > (int64_t{1} << 34)) {
    return Invalid("replay_cache_bytes", "must be between 0 and 16 GiB");
  }
  if (config.max_rows < 1) return Invalid("max_rows", "must be positive");
  if (config.max_message_bytes < 1024 ||
      config.max_message_bytes > (1u << 30)) {
    return Invalid("max_message_bytes", "must be between 1 KiB and 1 GiB");
  }
  if (config.max_bytes_in_flight < 1024 ||
      config.max_bytes_in_flight > (int64_t{1} << 36)) {
    return Invalid("max_bytes_in_flight", "must be between 1 KiB and 64 GiB");
  }
  if (config.max_transport_bytes < (int64_t{1} << 20) ||
      config.max_transport_bytes > (int64_t{1} << 36)) {
    return Invalid("max_transport_bytes", "must be between 1 MiB and 64 GiB");
  }
  if (config.tenant_max_in_flight < 1) {
    return Invalid("tenant_max_in_flight", "must be positive");
  }
  if (config.credentials_reload < absl::Seconds(1) ||
      config.credentials_reload > absl::Hours(24)) {
    return Invalid("credentials_reload", "must be between 1s and 24h");
  }
  if (config.db_tcp_timeout != absl::ZeroDuration() &&
      (config.db_tcp_timeout < absl::Seconds(2) ||
       config.db_tcp_timeout > absl::Hours(1))) {
    return Invalid("db_tcp_timeout", "must be 0 or between 2s and 1h");
  }
  if (config.reaper_batch < 1)
    return Invalid("reaper_batch", "must be positive");
  if (config.key_retention > config.max_key_retention) {
    return Invalid("key_retention",
                   "must not exceed --max_key_retention "
                   "(IDEM_MAX_KEY_RETENTION)");
  }
  if (config.copy_lease < absl::Seconds(1)) {
    return Invalid("copy_lease", "must be at least 1s");
  }
  if (config.key_retention < config.copy_lease) {
    return Invalid("key_retention",
                   "must be at least --copy_lease (IDEM_COPY_LEASE): a key "
                   "record must outlive the lease that holds it");
  }
  for (const std::string& table : config.tables) {
    if (table.empty()) return Invalid("tables", "has an empty entry");
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Invalid("tls_cert", "needs --tls_key too, and the other way round");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    return Invalid("tls_client_ca", "needs --tls_cert and --tls_key");
  }
  if (config.command == Config::Command::kServe && config.tls_cert.empty() &&
      !config.allow_plaintext) {
    return absl::InvalidArgumentError(
        "refusing to serve without TLS: set IDEM_TLS_CERT and IDEM_TLS_KEY, "
        "or IDEM_ALLOW_PLAINTEXT=true to serve plaintext on purpose");
  }
  return absl::OkStatus();
}

// Threads and connections: defaults scale with the cores.
void ReadThreads(Config& config) {
  const int cores = AvailableCores();
  config.workers = absl::GetFlag(FLAGS_workers);
  if (config.workers == 0) config.workers = std::max(16, 4 * cores);
  config.batch_threads = absl::GetFlag(FLAGS_batch_threads);
  if (config.batch_threads == 0) config.batch_threads = std::max(4, 2 * cores);
  config.batch_max_calls = absl::GetFlag(FLAGS_batch_max_calls);
  // A connection for every thread that holds one: no worker or committer
  // waits for another's connection.
  config.pool_size = absl::GetFlag(FLAGS_pool_size);
  if (config.pool_size == 0) {
    config.pool_size = std::min(1000, config.workers + config.batch_threads);
  }
}

// Logging, listeners, TLS and credentials.
absl::Status ReadServing(Config& config) {
  const std::string request_log =
      absl::AsciiStrToLower(absl::GetFlag(FLAGS_request_log));
  if (request_log != "errors" && request_log != "all") {
    return Invalid("request_log", "must be errors or all");
  }
  config.log_every_request = request_log == "all";
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  config.health_listen = absl::GetFlag(FLAGS_health_listen);
  config.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  config.tls_key = absl::GetFlag(FLAGS_tls_key);
  config.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  config.allow_plaintext = absl::GetFlag(FLAGS_allow_plaintext);
  config.auth_tokens = absl::GetFlag(FLAGS_auth_tokens);
  config.credentials_reload = absl::GetFlag(FLAGS_credentials_reload);
  const std::string reflection =
      absl::AsciiStrToLower(absl::GetFlag(FLAGS_reflection));
  if (reflection != "auto" && reflection != "true" && reflection != "false") {
    return Invalid("reflection", "must be true, false or auto");
  }
  config.reflection =
      reflection == "auto" ? config.auth_tokens.empty() : reflection == "true";
  return absl::OkStatus();
}

// Flags abseil defines and handles itself (--help, --version, ...).
bool IsAbseilFlag(absl::string_view name) {
  static constexpr absl::string_view kAbseil[] = {
      "help",     "helpfull",  "helpshort",  "helppackage",
      "helpon",   "helpmatch", "version",    "only_check_args",
      "flagfile", "fromenv",   "tryfromenv", "undefok"};
  return absl::c_linear_search(kAbseil, name);
}

// Every setting given on the command line, checked as ApplyEnvironment
// checks variables, so that a mistake there is refused in the same words
// (and by main as a JSON line) instead of abseil's text on stderr and exit 1.
// What passes is then parsed by absl::ParseCommandLine, which also answers
// --help.
absl::Status CheckCommandLine(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg(argv[i]);
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "-")) continue;  // the command
    absl::ConsumePrefix(&arg, "-");
    const size_t equals = arg.find('=');
    std::string name(arg.substr(0, equals));
    if (IsAbseilFlag(name)) continue;
    absl::CommandLineFlag* flag = absl::c_linear_search(kFlagNames, name)
                                      ? absl::FindCommandLineFlag(name)
                                      : nullptr;
    if (flag == nullptr && absl::StartsWith(name, "no") &&
        absl::c_linear_search(kFlagNames, name.substr(2))) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated->IsOfType<bool>() && equals == absl::string_view::npos) {
        continue;
      }
    }
    if (flag == nullptr) {
      const std::string closest = ClosestSetting(
          name, [](const char* setting) { return std::string(setting); });
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " is not a flag of idem-server",
          closest.empty() ? ""
                          : absl::StrCat("; did you mean --", closest, "?"),
          " (see --help)"));
    }
    std::string value;
    if (equals != absl::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Invalid(name, "needs a value: --" + name + "=...");
    }
    if (std::optional<std::string> problem = ParseProblem(*flag, value)) {
      return Invalid(name, *problem);
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<UnknownSetting> UnknownSettings(char** environment) {
  std::vector<UnknownSetting> unknown;
  for (char** entry = environment; *entry != nullptr; ++entry) {
    const absl::string_view variable(*entry);
    const size_t equals = variable.find('=');
    const std::string name(variable.substr(0, equals));
    const absl::string_view value =
        equals == absl::string_view::npos ? "" : variable.substr(equals + 1);
    if (!absl::StartsWith(name, "IDEM_") || IsServiceLink(name, value) ||
        absl::c_any_of(kFlagNames, [&](const char* flag) {
          return EnvName(flag) == name;
        })) {
      continue;
    }
    unknown.push_back({name, ClosestSetting(name, [](const char* flag) {
                         return EnvName(flag);
                       })});
  }
  return unknown;
}

absl::StatusOr<Config> LoadConfig(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "exactly-once data operations on PostgreSQL over gRPC.\n\n"
      "usage: idem-server [flags]          serve\n"
      "       idem-server migrate [flags]  apply the database migrations and "
      "exit\n\n"
      "Every flag --name may also be set by the environment variable "
      "IDEM_NAME;\nthe command line wins.");
  // --help lists the flags of this file, where every setting is defined
  // (abseil's default looks for them in the file that holds main).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "service/config.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  if (absl::Status env = ApplyEnvironment(); !env.ok()) return env;
  if (absl::Status args = CheckCommandLine(argc, argv); !args.ok()) return args;
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);

  Config config;
  if (positional.size() == 2 && absl::string_view(positional[1]) == "migrate") {
    config.command = Config::Command::kMigrate;
  } else if (positional.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command \"", positional[1], "\"; see --help"));
  }
  ReadThreads(config);
  if (absl::Status read = ReadServing(config); !read.ok()) return read;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.db_tcp_timeout = absl::GetFlag(FLAGS_db_tcp_timeout);
  for (std::string table : absl::GetFlag(FLAGS_tables)) {
    config.tables.emplace_back(absl::StripAsciiWhitespace(table));
  }
  config.storage_root = absl::GetFlag(FLAGS_storage_root);
  config.key_retention = absl::GetFlag(FLAGS_key_retention);
  config.prepared_statements = absl::GetFlag(FLAGS_prepared_statements);
  config.max_queued = absl::GetFlag(FLAGS_max_queued);
  config.replay_cache_bytes = absl::GetFlag(FLAGS_replay_cache_bytes);
  config.tenant_max_in_flight = absl::GetFlag(FLAGS_tenant_max_in_flight);
  config.max_bytes_in_flight = absl::GetFlag(FLAGS_max_bytes_in_flight);
  config.max_transport_bytes = absl::GetFlag(FLAGS_max_transport_bytes);
  config.max_rows =
      static_cast<size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_max_rows)));
  config.max_message_bytes = static_cast<size_t>(
      std::max<int64_t>(0, absl::GetFlag(FLAGS_max_message_bytes)));
  config.acquire_timeout = absl::GetFlag(FLAGS_acquire_timeout);
  config.statement_timeout = absl::GetFlag(FLAGS_statement_timeout);
  config.lock_timeout = absl::GetFlag(FLAGS_lock_timeout);
  config.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  config.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  config.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  config.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  config.reaper_interval = absl::GetFlag(FLAGS_reaper_interval);
  config.reaper_batch = absl::GetFlag(FLAGS_reaper_batch);
  config.copy_lease = absl::GetFlag(FLAGS_copy_lease);
  config.max_key_retention = absl::GetFlag(FLAGS_max_key_retention);
  config.tombstone_retention = absl::GetFlag(FLAGS_tombstone_retention);
  if (absl::Status valid = Validate(config); !valid.ok()) return valid;
  absl::StatusOr<std::string> url = db::ServerConnectionString(
      absl::GetFlag(FLAGS_database_url), config.db_tcp_timeout);
  if (!url.ok()) return Invalid("database_url", url.status().message());
  config.database_url = *std::move(url);
  config.notify_database_url = config.database_url;
  if (const std::string notify = absl::GetFlag(FLAGS_notify_database_url);
      !notify.empty()) {
    absl::StatusOr<std::string> notify_url =
        db::ServerConnectionString(notify, config.db_tcp_timeout);
    if (!notify_url.ok()) {
      return Invalid("notify_database_url", notify_url.status().message());
    }
    config.notify_database_url = *std::move(notify_url);
  }
  return config;
}

}  // namespace idem
