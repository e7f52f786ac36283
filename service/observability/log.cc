#include "service/observability/log.h"

#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace idem::log {
namespace {

spdlog::logger& Logger() {
  // spdlog does the thread-safe, line-atomic writing; the line is ours.
  static auto* logger = [] {
    auto* l = new spdlog::logger(
        "idem", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return *logger;
}

void Write(spdlog::level::level_enum level, std::string_view level_name,
           std::string_view event, nlohmann::json fields) {
  nlohmann::json line = {
      {"ts",
       absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone())},
      {"level", level_name},
      {"event", event}};
  line.update(fields);
  // Replace invalid UTF-8 rather than throw: a log line never fails.
  Logger().log(level, line.dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace));
}

}  // namespace

nlohmann::json FirstNames(const std::vector<std::string>& names) {
  constexpr size_t kShown = 20;
  if (names.size() <= kShown) return names;
  std::vector<std::string> first(names.begin(), names.begin() + kShown);
  first.push_back("(" + std::to_string(names.size() - kShown) + " more)");
  return first;
}

void Info(std::string_view event, nlohmann::json fields) {
  Write(spdlog::level::info, "info", event, std::move(fields));
}
void Warn(std::string_view event, nlohmann::json fields) {
  Write(spdlog::level::warn, "warn", event, std::move(fields));
}
void Error(std::string_view event, nlohmann::json fields) {
  Write(spdlog::level::err, "error", event, std::move(fields));
}

}  // namespace idem::log
