#include "random_bytes.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace idem::internal {

void FillRandom(void* out, size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  size_t filled = 0;
  while (filled < size) {
    const ssize_t n = getrandom(bytes + filled, size - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "idem: getrandom failed: %s\n",
                   std::strerror(errno));
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
}

}  // namespace idem::internal
