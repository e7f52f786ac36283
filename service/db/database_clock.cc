#include "service/db/database_clock.h"

#include "absl/time/clock.h"

namespace idem::db {

absl::Time DatabaseClock::Now() const { return absl::Now() + offset(); }

void DatabaseClock::Observe(absl::Time sent, absl::Time database_time,
                            absl::Time received) {
  const absl::Duration round_trip = received - sent;
  if (round_trip < absl::ZeroDuration() || round_trip > absl::Seconds(1)) {
    return;
  }
  // The database read its clock somewhere within the round trip: the
  // middle is off by at most half of it.
  const absl::Time read_at = sent + round_trip / 2;
  offset_nanos_.store(absl::ToInt64Nanoseconds(database_time - read_at),
                      std::memory_order_relaxed);
}

absl::Duration DatabaseClock::offset() const {
  return absl::Nanoseconds(offset_nanos_.load(std::memory_order_relaxed));
}

}  // namespace idem::db
