#include "service/health_monitor.h"

#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <pqxx/nontransaction>

#include "absl/strings/str_cat.h"
#include "service/db/connection_string.h"
#include "service/db/pg_session.h"
#include "service/observability/log.h"

namespace idem {

HealthMonitor::HealthMonitor(
    std::vector<grpc::HealthCheckServiceInterface*> health,
    std::string database_url, absl::Duration interval,
    absl::Duration answer_within, db::DatabaseClock* clock,
    std::function<void()> unanswered, std::function<void(bool)> database_up)
    : health_(std::move(health)),
      // Connecting to a database that accepts connections but does not
      // answer is bounded by the same limit as the query.
      database_url_(db::ConnectionStringWith(
          db::ConnectionStringWith(database_url, "application_name",
                                   "idem-server-health"),
          "connect_timeout",
          absl::StrCat(
              std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(
                                       answer_within, absl::Seconds(1))))))),
      interval_(interval),
      answer_within_(answer_within),
      clock_(clock),
      unanswered_(std::move(unanswered)),
      database_up_(std::move(database_up)),
      thread_([this] { Run(); }),
      watchdog_([this] { Watch(); }) {}

HealthMonitor::~HealthMonitor() {
  stop_.Notify();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.Signal();
  }
  watchdog_.join();
  thread_.join();
}

void HealthMonitor::Watch() {
  absl::MutexLock lock(&mu_);
  while (true) {
    const bool waiting = probe_socket_ >= 0 && !probe_ended_;
    if (waiting && (stopping_ || absl::Now() >= probe_deadline_)) {
      // The query then fails at once on this side, as on a lost connection.
      shutdown(probe_socket_, SHUT_RDWR);
      probe_ended_ = true;
    }
    if (stopping_) return;
    changed_.WaitWithDeadline(&mu_, probe_socket_ >= 0 && !probe_ended_
                                        ? probe_deadline_
                                        : absl::InfiniteFuture());
  }
}

HealthMonitor::Outcome HealthMonitor::Probe(
    std::unique_ptr<db::PgSession>& session) {
  try {
    // Opening is bounded by the connection string's connect_timeout.
    if (session == nullptr || !session->is_open()) {
      session = std::make_unique<db::PgSession>(database_url_);
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return Outcome::kLate;
      // A descriptor of the watchdog's own for the socket: libpq closes
      // its one when the server ends the connection, and the number may
      // then name another connection of this process.
      probe_socket_ = dup(session->connection().sock());
      probe_deadline_ = absl::Now() + answer_within_;
      changed_.Signal();
    }
    const absl::Time sent = absl::Now();
    const pqxx::result clock = pqxx::nontransaction(session->connection())
                                   .exec(
                                       "SELECT (extract(epoch FROM "
                                       "clock_timestamp()) * 1000000)::int8");
    const absl::Time received = absl::Now();
    // Late, even if it came: the watchdog may have ended the connection.
    const bool in_time = EndProbe();
    if (!in_time) {
      session.reset();
      return Late();
    }
    clock_->Observe(sent, absl::FromUnixMicros(clock[0][0].as<int64_t>()),
                    received);
    return Outcome::kAnswered;
  } catch (const std::exception& error) {
    const bool late = !EndProbe();
    session.reset();
    // What libpq says of the connection the watchdog ended ("not
    // connected") would hide that the database did not answer.
    if (late) return Late();
    failure_ = error.what();
    failure_ = failure_.substr(0, failure_.find('\n'));
    return Outcome::kFailed;
  }
}

HealthMonitor::Outcome HealthMonitor::Late() {
  failure_ =
      absl::StrCat("no answer within ", absl::FormatDuration(answer_within_));
  return Outcome::kLate;
}

bool HealthMonitor::EndProbe() {
  absl::MutexLock lock(&mu_);
  const bool watched = !probe_ended_;
  if (probe_socket_ >= 0) close(probe_socket_);
  probe_socket_ = -1;
  probe_ended_ = false;
  return watched;
}

void HealthMonitor::Run() {
  for (grpc::HealthCheckServiceInterface* service : health_) {
    service->SetServingStatus(std::string(kLivenessService), true);
  }
  std::unique_ptr<db::PgSession> session;
  bool last = true;
  do {
    const bool reused = session != nullptr;
    Outcome outcome = Probe(session);
    // A session that failed at once may have been ended while it sat idle
    // (an operator's pg_terminate_backend, a pooler's restart, an idle
    // timeout), which says nothing of the database: a fresh one tells.
    if (outcome == Outcome::kFailed && reused) outcome = Probe(session);
    if (outcome == Outcome::kLate && !stop_.HasBeenNotified() && unanswered_) {
      unanswered_();
    }
    const bool serving = outcome == Outcome::kAnswered;
    if (database_up_) database_up_(serving);
    for (grpc::HealthCheckServiceInterface* service : health_) {
      // Readiness only: gRPC's SetServingStatus(bool) would set every
      // service, liveness too.
      service->SetServingStatus("", serving);
    }
    // Hand memory freed by large requests back to the system: glibc keeps
    // freed small chunks in per-thread arenas otherwise, and a replica that
    // once parsed a 16 MiB request would keep its peak RSS for good.
    malloc_trim(0);
    if (serving != last) {
      if (serving) {
        log::Info("health", {{"serving", true}});
      } else {
        log::Warn("health", {{"serving", false}, {"cause", failure_}});
      }
      last = serving;
    }
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace idem
