#ifndef IDEM_SERVICE_DB_DATABASE_CLOCK_H_
#define IDEM_SERVICE_DB_DATABASE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace idem::db {

// The database's wall clock as this replica estimates it. A key record's
// times (first execution, expiry) are compared with the database's clock
// (clock_timestamp()) when the key is read, by every replica; stamped with
// a replica's own clock, a record written by a replica whose clock is
// behind would expire early (a key kept less than its retention, and a
// resend applied again), one ahead would be kept too long. So the records
// are stamped with this estimate: this replica's clock plus the offset last
// measured against the database, off by at most half the measuring query's
// round trip. Until a first measurement, this replica's clock. Thread-safe.
class DatabaseClock {
 public:
  absl::Time Now() const;

  // A reading of the database's clock, `database_time`, taken by a query
  // sent at `sent` and answered at `received` (this replica's clock). A
  // reading whose round trip took longer than a second is ignored: its
  // error could be that large.
  void Observe(absl::Time sent, absl::Time database_time, absl::Time received);

  absl::Duration offset() const;

 private:
  std::atomic<int64_t> offset_nanos_{0};
};

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_DATABASE_CLOCK_H_
