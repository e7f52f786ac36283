#include "service/db/connection_string.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace idem::db {
namespace {

// The keywords that `url`, or the environment libpq would read them from,
// already sets.
absl::StatusOr<std::set<std::string>> KeywordsSet(const std::string& url) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &error), &PQconninfoFree);
  if (options == nullptr) {
    PQfreemem(error);
    return absl::InvalidArgumentError(
        "not a libpq connection string or URI (key=value pairs, or "
        "postgresql://...)");
  }
  std::set<std::string> set;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr ||
        (o->envvar != nullptr && std::getenv(o->envvar) != nullptr)) {
      set.insert(o->keyword);
    }
  }
  return set;
}

bool IsUri(const std::string& url) {
  return absl::StartsWith(url, "postgresql://") ||
         absl::StartsWith(url, "postgres://");
}

}  // namespace

TcpTimeouts TcpTimeoutsFor(absl::Duration timeout) {
  const int seconds = static_cast<int>(std::max<int64_t>(
      2, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1)))));
  TcpTimeouts t;
  t.keepalives_idle_s = seconds / 2;
  t.keepalives_interval_s = std::max(1, seconds / 10);
  // Where the kernel has no tcp_user_timeout, idle + count * interval is
  // still about `timeout`.
  t.keepalives_count =
      std::max(1, (seconds - t.keepalives_idle_s) / t.keepalives_interval_s);
  t.user_timeout_ms = absl::ToInt64Milliseconds(timeout);
  t.connect_timeout_s = seconds;
  return t;
}

absl::StatusOr<std::string> ServerConnectionString(const std::string& url,
                                                   absl::Duration tcp_timeout) {
  absl::StatusOr<std::set<std::string>> set = KeywordsSet(url);
  if (!set.ok()) return set.status();
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"target_session_attrs", "read-write"}};
  if (tcp_timeout > absl::ZeroDuration()) {
    const TcpTimeouts t = TcpTimeoutsFor(tcp_timeout);
    defaults.insert(
        defaults.end(),
        {{"keepalives", "1"},
         {"keepalives_idle", absl::StrCat(t.keepalives_idle_s)},
         {"keepalives_interval", absl::StrCat(t.keepalives_interval_s)},
         {"keepalives_count", absl::StrCat(t.keepalives_count)},
         {"tcp_user_timeout", absl::StrCat(t.user_timeout_ms)},
         {"connect_timeout", absl::StrCat(t.connect_timeout_s)}});
  }
  std::string result = url;
  for (const auto& [keyword, value] : defaults) {
    if (set->count(keyword) == 0)
      result = ConnectionStringWith(result, keyword, value);
  }
  return result;
}

std::string ConnectionStringWith(const std::string& url,
                                 absl::string_view keyword,
                                 absl::string_view value) {
  std::string result = url;
  if (IsUri(url)) {
    const char last = result.back();
    if (last != '?' && last != '&') {
      absl::StrAppend(&result,
                      result.find('?') == std::string::npos ? "?" : "&");
    }
  } else if (!result.empty()) {
    result += ' ';
  }
  absl::StrAppend(&result, keyword, "=", value);
  return result;
}

}  // namespace idem::db
