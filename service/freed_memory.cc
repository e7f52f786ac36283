#include "service/freed_memory.h"

#ifdef IDEM_TCMALLOC
#include <gperftools/malloc_extension.h>
#else
#include <malloc.h>
#endif

namespace idem {

void ReturnFreedMemoryPromptly() {
#ifdef IDEM_TCMALLOC
  // tcmalloc keeps the pages of freed spans for reuse and hands them back
  // slowly; decommitted at once they cost no measurable CPU here
  // (bench/README.md, "tcmalloc").
  MallocExtension::instance()->SetNumericProperty(
      "tcmalloc.aggressive_memory_decommit", 1);
#elif defined(M_MMAP_THRESHOLD)
  // Buffers of 1 MiB and more are mapped on their own and go back to the
  // system when freed. Left to itself glibc raises this threshold after the
  // first such buffer is freed and keeps later ones in per-thread arenas.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace idem
