#ifndef IDEM_SERVICE_DB_CONNECTION_STRING_H_
#define IDEM_SERVICE_DB_CONNECTION_STRING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace idem::db {

// How long a database connection may stay silent before either end gives it
// up, in the units of the TCP settings that enforce it. A dropped connection
// (a partition, a host that vanished) sends no reset: without these a
// statement or COMMIT on it waits for the kernel's own timeouts, which take
// minutes to hours, while the server's thread and the database's row locks
// stay held.
struct TcpTimeouts {
  int keepalives_idle_s = 0;      // silence before the first probe
  int keepalives_interval_s = 0;  // between probes
  int keepalives_count = 0;       // probes unanswered before giving up
  int64_t user_timeout_ms = 0;    // data unacknowledged before giving up
  int connect_timeout_s = 0;      // per host, for a new connection
};

// Keepalive probes start after half of `timeout` of silence, so that an idle
// connection and one waiting for an answer are both given up after about
// `timeout`; `timeout` must be at least 2 s (libpq's connect_timeout floor).
TcpTimeouts TcpTimeoutsFor(absl::Duration timeout);

// The connection string the server connects with: `url` (a libpq connection
// string or URI; empty for libpq's PG* variables) plus the following, each
// only where neither `url` nor its libpq environment variable sets it:
//   target_session_attrs=read-write: with several hosts, only the primary
//     is used (a standby, or a former primary that came back as one, is
//     passed over at connect time);
//   keepalives, keepalives_idle/_interval/_count, tcp_user_timeout and
//     connect_timeout from TcpTimeoutsFor(tcp_timeout), unless tcp_timeout
//     is zero (then libpq's and the kernel's defaults stay).
// INVALID_ARGUMENT when libpq cannot parse `url`; the message never repeats
// the string, which may hold a password.
absl::StatusOr<std::string> ServerConnectionString(const std::string& url,
                                                   absl::Duration tcp_timeout);

// `url` (a connection string or URI libpq parses) with `keyword` set to
// `value`, appended: libpq takes a keyword's last value.
std::string ConnectionStringWith(const std::string& url,
                                 absl::string_view keyword,
                                 absl::string_view value);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_CONNECTION_STRING_H_
