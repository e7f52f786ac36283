#ifndef IDEM_SERVICE_OBSERVABILITY_LOG_H_
#define IDEM_SERVICE_OBSERVABILITY_LOG_H_

#include <string_view>

#include "nlohmann/json.hpp"

namespace idem::log {

// One JSON object per line on stderr: {"ts": ..., "level": ..., "event":
// ..., fields...}. Structured so that a log pipeline can index it.
void Info(std::string_view event,
          nlohmann::json fields = nlohmann::json::object());
void Warn(std::string_view event,
          nlohmann::json fields = nlohmann::json::object());
void Error(std::string_view event,
           nlohmann::json fields = nlohmann::json::object());

}  // namespace idem::log

#endif  // IDEM_SERVICE_OBSERVABILITY_LOG_H_
