#ifndef IDEM_TESTS_SUPPORT_POLLING_H_
#define IDEM_TESTS_SUPPORT_POLLING_H_

#include <chrono>
#include <functional>

namespace idem::testing {

// Polls `condition` every 20 ms until it holds or `bound` passes; true when
// it held. Tests wait for states this way, never for a fixed time.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds bound = std::chrono::seconds(60));

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_POLLING_H_
