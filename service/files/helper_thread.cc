#include "service/files/helper_thread.h"

#include <cerrno>
#include <system_error>
#include <utility>

#include "service/files/fault_points.h"

namespace idem::files {

bool StartHelperThread(std::thread& thread, std::function<void()> body) {
  try {
#ifdef IDEM_FILES_FAULT_POINTS
    if (testing::Faults().refuse_threads) {
      throw std::system_error(EAGAIN, std::generic_category());
    }
#endif
    thread = std::thread(std::move(body));
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

}  // namespace idem::files
