#include "tests/chaos/cluster.h"

#include <signal.h>

#include <fstream>
#include <iostream>
#include <pqxx/nontransaction>
#include <pqxx/pqxx>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/chaos/command.h"

namespace idem::chaos {
namespace {

const char kTables[] =
    "chaos_counters,chaos_keyed_rows,chaos_plain_rows,chaos_transfer_counters,"
    "chaos_transfers";

}  // namespace

Replicas::Replicas(const Options& options, int count)
    : options_(options), ports_(count, 0) {
  absl::MutexLock lock(&mu_);
  processes_.resize(count);
}

Replicas::~Replicas() {
  absl::MutexLock lock(&mu_);
  processes_.clear();  // ServerProcess kills what still runs
}

std::unique_ptr<testing::ServerProcess> Replicas::StartOne(int port) {
  testing::ServerProcess::Options server;
  server.env = {
      {"IDEM_DATABASE_URL", options_.database_url},
      {"IDEM_LISTEN", absl::StrCat("127.0.0.1:", port)},
      {"IDEM_TABLES", kTables},
      {"IDEM_STORAGE_ROOT", options_.storage_root},
      {"IDEM_COPY_LEASE", "2s"},
      {"IDEM_DRAIN_DELAY", "0s"},
      {"IDEM_SHUTDOWN_GRACE", "2s"},
      {"IDEM_POOL_SIZE", "6"},
      {"IDEM_ACQUIRE_TIMEOUT", "2s"},
      {"IDEM_LOCK_TIMEOUT", "2s"},
      {"IDEM_STATEMENT_TIMEOUT", "10s"},
  };
  return testing::ServerProcess::Start(server);
}

bool Replicas::StartAll() {
  for (int i = 0; i < size(); ++i) {
    try {
      std::unique_ptr<testing::ServerProcess> process = StartOne(0);
      const std::string& address = process->address();
      ports_[i] = std::stoi(address.substr(address.rfind(':') + 1));
      absl::MutexLock lock(&mu_);
      processes_[i] = std::move(process);
    } catch (const std::exception& e) {
      std::cerr << "idem_chaos: replica " << i << " did not start: " << e.what()
                << "\n";
      return false;
    }
  }
  WritePids();
  return true;
}

std::string Replicas::Address(int replica) const {
  return absl::StrCat("127.0.0.1:", ports_[replica]);
}

void Replicas::Kill(int replica) {
  std::unique_ptr<testing::ServerProcess> victim;
  {
    absl::MutexLock lock(&mu_);
    victim = std::move(processes_[replica]);
  }
  if (victim == nullptr) return;
  victim->Signal(SIGKILL);
  victim->Wait();
}

bool Replicas::Restart(int replica) {
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < deadline) {
    {
      absl::MutexLock lock(&mu_);
      if (processes_[replica] != nullptr) return true;
    }
    try {
      std::unique_ptr<testing::ServerProcess> process =
          StartOne(ports_[replica]);
      {
        absl::MutexLock lock(&mu_);
        processes_[replica] = std::move(process);
      }
      WritePids();
      return true;
    } catch (const std::exception&) {
      absl::SleepFor(absl::Milliseconds(200));  // database down, port busy
    }
  }
  std::cerr << "idem_chaos: replica " << replica << " did not restart\n";
  return false;
}

bool Replicas::EnsureAllUp() {
  bool ok = true;
  for (int i = 0; i < size(); ++i) ok = Restart(i) && ok;
  return ok;
}

void Replicas::WritePids() {
  if (options_.pid_file.empty()) return;
  absl::MutexLock lock(&mu_);
  std::ofstream out(options_.pid_file, std::ios::app);
  for (const auto& process : processes_) {
    if (process != nullptr) out << process->pid() << "\n";
  }
}

Database::Database(const Options& options)
    : options_(options),
      primary_(options.pg_dir),
      standby_(options.standby_dir) {}

bool Database::CrashAndRestart(absl::Duration down) {
  absl::MutexLock lock(&mu_);
  if (RunCommand({options_.pg_local, "crash", primary_}) != 0) return false;
  absl::SleepFor(down);
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (RunCommand({options_.pg_local, "restart", primary_}) == 0) return true;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return false;
}

bool Database::WaitForStandbyInSync() {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::string written;
  while (absl::Now() < deadline) {
    try {
      pqxx::connection connection(options_.database_url);
      pqxx::nontransaction txn(connection);
      if (written.empty()) {
        written =
            txn.exec("SELECT pg_current_wal_lsn()")[0][0].as<std::string>();
      }
      if (txn.exec("SELECT 1 FROM pg_stat_replication WHERE sync_state = "
                   "'sync' AND flush_lsn >= " +
                   txn.quote(written) + "::pg_lsn")
              .size() > 0) {
        return true;
      }
    } catch (const std::exception&) {
      // the primary restarts (a crash fault just ended)
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

Database::Failover Database::FailOver(absl::Duration down) {
  absl::MutexLock lock(&mu_);
  Failover result;
  if (!WaitForStandbyInSync()) return result;
  const absl::Time killed = absl::Now();
  if (RunCommand({options_.pg_local, "crash", primary_}) != 0) return result;
  absl::SleepFor(down);
  if (RunCommand({options_.pg_local, "promote", standby_}) != 0) return result;
  result.to_promoted = absl::Now() - killed;
  std::swap(primary_, standby_);
  std::string method;
  if (RunCommand({options_.pg_local, "rejoin", standby_, primary_}, &method) !=
      0) {
    return result;
  }
  result.to_rejoined = absl::Now() - killed;
  result.rewound = method.find("rewind") != std::string::npos;
  result.ok = true;
  return result;
}

bool Database::EnsureUp() {
  absl::MutexLock lock(&mu_);
  // "start" leaves a running cluster alone (the port matters only to initdb).
  for (const std::string& dir : {primary_, standby_}) {
    if (!dir.empty() &&
        RunCommand({options_.pg_local, "start", dir, "0"}) != 0) {
      return false;
    }
  }
  return true;
}

int Database::TerminateServerSessions() {
  try {
    pqxx::connection connection(options_.database_url);
    pqxx::nontransaction txn(connection);
    pqxx::result r = txn.exec(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
        "FROM pg_stat_activity WHERE application_name = 'idem-server' "
        "AND pid <> pg_backend_pid()");
    return r[0][0].as<int>();
  } catch (const std::exception&) {
    return -1;
  }
}

bool Database::Exec(const std::string& sql) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    try {
      pqxx::connection connection(options_.database_url);
      pqxx::nontransaction txn(connection);
      txn.exec(sql);
      return true;
    } catch (const std::exception& e) {
      if (absl::Now() > deadline) {
        std::cerr << "idem_chaos: SQL failed: " << e.what() << "\n";
        return false;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
}

}  // namespace idem::chaos
