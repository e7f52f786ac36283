#ifndef IDEM_SERVICE_FREED_MEMORY_H_
#define IDEM_SERVICE_FREED_MEMORY_H_

namespace idem {

// Makes the allocator give freed memory back to the system soon, so that a
// burst of large requests (up to twice IDEM_MAX_MESSAGE_BYTES each) does
// not leave the server's resident memory high for good: on Kubernetes that
// memory counts against the pod's limit. Call first thing in main.
void ReturnFreedMemoryPromptly();

}  // namespace idem

#endif  // IDEM_SERVICE_FREED_MEMORY_H_
