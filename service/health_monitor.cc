#include "service/health_monitor.h"

#include <malloc.h>

#include <memory>
#include <pqxx/nontransaction>

#include "service/db/pg_session.h"
#include "service/observability/log.h"

namespace idem {

HealthMonitor::HealthMonitor(
    std::vector<grpc::HealthCheckServiceInterface*> health,
    std::string database_url, absl::Duration interval)
    : health_(std::move(health)),
      database_url_(std::move(database_url)),
      interval_(interval),
      thread_([this] { Run(); }) {}

HealthMonitor::~HealthMonitor() {
  stop_.Notify();
  thread_.join();
}

void HealthMonitor::Run() {
  for (grpc::HealthCheckServiceInterface* service : health_) {
    service->SetServingStatus(std::string(kLivenessService), true);
  }
  std::unique_ptr<db::PgSession> session;
  bool last = true;
  do {
    bool serving = false;
    try {
      if (session == nullptr || !session->is_open()) {
        session = std::make_unique<db::PgSession>(database_url_);
      }
      pqxx::nontransaction(session->connection()).exec("SELECT 1");
      serving = true;
    } catch (const std::exception&) {
      session.reset();
    }
    for (grpc::HealthCheckServiceInterface* service : health_) {
      service->SetServingStatus(serving);
    }
    // Hand memory freed by large requests back to the system: glibc keeps
    // freed small chunks in per-thread arenas otherwise, and a replica that
    // once parsed a 16 MiB request would keep its peak RSS for good.
    malloc_trim(0);
    if (serving != last) {
      log::Info("health", {{"serving", serving}});
      last = serving;
    }
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace idem
