#ifndef IDEM_TESTS_SUPPORT_SOCKET_IO_H_
#define IDEM_TESTS_SUPPORT_SOCKET_IO_H_

#include <cstddef>

namespace idem::testing {

// Writes all of `data` to the socket `fd`, retrying short writes and EINTR;
// false when the peer is gone. Never raises SIGPIPE.
bool SendAll(int fd, const char* data, size_t size);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_SOCKET_IO_H_
