// idem-server: settings in, server out. See service/config.h for settings.
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "service/config.h"
#include "service/freed_memory.h"
#include "service/observability/library_logs.h"
#include "service/observability/log.h"
#include "service/server.h"

int main(int argc, char** argv) {
  idem::ReturnFreedMemoryPromptly();
  // Debian's abseil keeps absl::Mutex's deadlock detection on: a debugging
  // aid that records every pair of locks held together in a global graph,
  // a few percent of the server's CPU under load. Lock order is checked by
  // the ThreadSanitizer runs instead (scripts/sanitize thread).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  idem::BlockShutdownSignals();
  idem::log::RouteLibraryLogs();
  // First: a misspelt setting is often what the refusal below is about.
  for (const idem::UnknownSetting& unknown : idem::UnknownSettings(environ)) {
    nlohmann::json fields = {
        {"name", unknown.name},
        {"message",
         unknown.name + " is not a setting of idem-server: ignored"}};
    if (!unknown.did_you_mean.empty()) {
      fields["did_you_mean"] = unknown.did_you_mean;
    }
    idem::log::Warn("unknown_setting", std::move(fields));
  }
  absl::StatusOr<idem::Config> config = idem::LoadConfig(argc, argv);
  if (!config.ok()) {
    idem::log::Error("config", {{"message", config.status().message()}});
    return 2;
  }
  if (config->command == idem::Config::Command::kMigrate) {
    absl::Status migrated = idem::StartUnlessStopped(
        [&config] { return idem::RunMigrations(*config); },
        /*stopped_status=*/1);
    if (!migrated.ok()) {
      idem::log::Error("migrations", {{"message", migrated.message()}});
      return 1;
    }
    return 0;
  }
  absl::StatusOr<std::unique_ptr<idem::Server>> server;
  absl::Status started = idem::StartUnlessStopped(
      [&] {
        server = idem::Server::Prepare(*config);
        return server.status();
      },
      /*stopped_status=*/0);
  // From here a signal drains: once listening, calls may be in flight.
  if (started.ok()) started = (*server)->Serve();
  if (!started.ok()) {
    idem::log::Error("startup", {{"message", started.message()}});
    return 1;
  }
  (*server)->RunUntilSignalled();
  return 0;
}
