#include "service/files/fault_points.h"

namespace idem::files::testing {

FaultPoints& Faults() {
  static FaultPoints* faults = new FaultPoints;
  return *faults;
}

}  // namespace idem::files::testing
