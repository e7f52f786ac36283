#ifndef IDEM_SERVICE_OBSERVABILITY_LOG_H_
#define IDEM_SERVICE_OBSERVABILITY_LOG_H_

#include <string>
#include <string_view>
#include <vector>

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

// `names` for a field of a log line: the first 20, then "(N more)", so that
// an allow-list of thousands of tables does not make lines of hundreds of
// kilobytes, which log pipelines cut or drop.
nlohmann::json FirstNames(const std::vector<std::string>& names);

}  // namespace idem::log

#endif  // IDEM_SERVICE_OBSERVABILITY_LOG_H_
