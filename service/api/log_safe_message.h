#ifndef IDEM_SERVICE_API_LOG_SAFE_MESSAGE_H_
#define IDEM_SERVICE_API_LOG_SAFE_MESSAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace idem::api {

// `message` as the request log may keep it: every text in double quotes
// that is not the name of something (a column, table, constraint, type,
// ...: the word before it says) becomes "...". A caller's failure answer
// quotes the value PostgreSQL refused ('invalid input syntax for type
// bigint: "jane.doe@example.com"', 'value "9e99" is out of range for type
// integer'), which is the caller's to see, but logs travel where the data
// of a pipeline's rows must not. After a colon a quoted value runs to the
// message's last quote, so that quotes inside the value cannot end it.
std::string LogSafeMessage(absl::string_view message);

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_LOG_SAFE_MESSAGE_H_
