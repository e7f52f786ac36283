#include "tests/support/polling.h"

#include <thread>

namespace idem::testing {

bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace idem::testing
