#ifndef IDEM_SERVICE_FILES_HELPER_THREAD_H_
#define IDEM_SERVICE_FILES_HELPER_THREAD_H_

#include <functional>
#include <thread>

namespace idem::files {

// Starts `body` on a new thread held in `thread`. False, with nothing
// started, when the system gives no thread (a container's pids limit
// reached): the caller then does the work itself, later, instead of
// failing the copy or, through std::thread's exception, the server.
bool StartHelperThread(std::thread& thread, std::function<void()> body);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_HELPER_THREAD_H_
