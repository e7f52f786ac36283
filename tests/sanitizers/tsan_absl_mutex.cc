// Tells ThreadSanitizer about absl::Mutex. Debian's libabsl_synchronization
// is not built with -fsanitize=thread, so its lock and unlock (atomics and
// futex calls inside the library) are invisible to TSan, and every access
// to data guarded by an absl::Mutex in our instrumented code would be
// reported as a race. scripts/sanitize thread builds this file as a shared
// library and LD_PRELOADs it: each function below takes the place of the
// library's, calls the library's own (dlsym RTLD_NEXT) and adds the
// happens-before edge (__tsan_acquire after locking, __tsan_release before
// unlocking) that an instrumented absl would have annotated itself. It
// suppresses nothing: a real race on such data is still reported.
//
// The TSan entry points are weak so that processes without TSan that inherit
// LD_PRELOAD (postgres, python3, ctest) load this library unharmed.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

extern "C" {
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
}

namespace {

void Acquire(void* mu) {
  if (__tsan_acquire != nullptr) __tsan_acquire(mu);
}
void Release(void* mu) {
  if (__tsan_release != nullptr) __tsan_release(mu);
}

template <typename Fn>
Fn Next(Fn, const char* symbol) {
  void* next = dlsym(RTLD_NEXT, symbol);
  if (next == nullptr) {
    // absl loaded later with dlopen (a Python extension): ask it directly.
    void* absl =
        dlopen("libabsl_synchronization.so.20220623", RTLD_NOW | RTLD_NOLOAD);
    if (absl != nullptr) next = dlsym(absl, symbol);
  }
  if (next == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: no %s\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(next);
}

#define IDEM_STR(x) #x
#define IDEM_XSTR(x) IDEM_STR(x)

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// The library's mangled names, e.g. _ZN4absl7debian35Mutex4LockEv: the
// inline namespace of the installed absl is part of them.
#define IDEM_NS IDEM_XSTR(ABSL_OPTION_INLINE_NAMESPACE_NAME)

namespace {
std::string Mangled(const char* member, const char* args) {
  std::string ns = IDEM_NS;
  return "_ZN4absl" + std::to_string(ns.size()) + ns + member + args;
}
template <typename Fn>
Fn Real(const char* member, const char* args) {
  return Next<Fn>(nullptr, Mangled(member, args).c_str());
}

// A condition is evaluated with the mutex held, possibly by another thread
// (one that unlocks): its reads get the same acquire/release bracket.
struct HeldCondition {
  Mutex* mu;
  const Condition* cond;
  static bool Eval(HeldCondition* held) {
    Acquire(held->mu);
    bool met = held->cond->Eval();
    Release(held->mu);
    return met;
  }
};
}  // namespace

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockE", "v");
  real(this);
  Acquire(this);
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockE", "v");
  Release(this);
  real(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockE", "v");
  bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockE", "v");
  real(this);
  Acquire(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockE", "v");
  Release(this);
  real(this);
}

bool Mutex::ReaderTryLock() {
  static const auto real =
      Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockE", "v");
  bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex8LockWhenE", "RKNS0_9ConditionE");
  HeldCondition held{this, &cond};
  real(this, Condition(&HeldCondition::Eval, &held));
  Acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
          "5Mutex19LockWhenWithTimeoutE", "RKNS0_9ConditionENS0_8DurationE");
  HeldCondition held{this, &cond};
  bool met = real(this, Condition(&HeldCondition::Eval, &held), timeout);
  Acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex5AwaitE", "RKNS0_9ConditionE");
  Release(this);
  HeldCondition held{this, &cond};
  real(this, Condition(&HeldCondition::Eval, &held));
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
          "5Mutex16AwaitWithTimeoutE", "RKNS0_9ConditionENS0_8DurationE");
  Release(this);
  HeldCondition held{this, &cond};
  bool met = real(this, Condition(&HeldCondition::Eval, &held), timeout);
  Acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineE", "RKNS0_9ConditionENS0_4TimeE");
  Release(this);
  HeldCondition held{this, &cond};
  bool met = real(this, Condition(&HeldCondition::Eval, &held), deadline);
  Acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real =
      Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitE", "PNS0_5MutexE");
  Release(mu);
  real(this, mu);
  Acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutE", "PNS0_5MutexENS0_8DurationE");
  Release(mu);
  bool timed_out = real(this, mu, timeout);
  Acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineE", "PNS0_5MutexENS0_4TimeE");
  Release(mu);
  bool timed_out = real(this, mu, deadline);
  Acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
