#include "service/api/log_safe_message.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace idem::api {
namespace {

// Words after which PostgreSQL's and idem's messages quote a name.
bool NamesSomething(absl::string_view word) {
  for (absl::string_view name :
       {"column",    "version_column", "table",    "relation", "constraint",
        "index",     "type",           "enum",     "schema",   "sequence",
        "function",  "trigger",        "database", "role",     "tenant",
        "operation", "field",          "command",  "encoding", "parameter"}) {
    if (word == name) return true;
  }
  return false;
}

// The word that ends right before `end` in `text`, skipping one space.
absl::string_view WordBefore(absl::string_view text, size_t end) {
  if (end > 0 && text[end - 1] == ' ') --end;
  size_t start = end;
  while (start > 0 &&
         (absl::ascii_isalnum(text[start - 1]) || text[start - 1] == '_')) {
    --start;
  }
  return text.substr(start, end - start);
}

}  // namespace

std::string LogSafeMessage(absl::string_view message) {
  std::string safe;
  size_t done = 0;
  while (done < message.size()) {
    const size_t open = message.find('"', done);
    if (open == absl::string_view::npos) break;
    safe.append(message.data() + done, open - done);
    const bool after_colon = open >= 2 && message.substr(open - 2, 2) == ": ";
    size_t close =
        after_colon ? message.rfind('"') : message.find('"', open + 1);
    if (close == absl::string_view::npos || close == open) {
      close = message.size();  // unclosed: withhold the rest
    }
    if (!after_colon && NamesSomething(WordBefore(message, open))) {
      safe.append(message.data() + open,
                  std::min(close + 1, message.size()) - open);
    } else {
      safe.append("\"...\"");
    }
    done = close + 1;
  }
  if (done < message.size()) {
    safe.append(message.data() + done, message.size() - done);
  }
  return safe;
}

}  // namespace idem::api
