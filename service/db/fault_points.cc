#include "service/db/fault_points.h"

namespace idem::db::testing {

FaultPoints& Faults() {
  static FaultPoints* faults = new FaultPoints;
  return *faults;
}

}  // namespace idem::db::testing
