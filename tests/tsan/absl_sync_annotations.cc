// ThreadSanitizer annotations for Debian's absl::Mutex, linked into every
// executable of the TSan build (cmake/sanitizers.cmake, scripts/sanitize.sh
// thread).
//
// Debian's libabsl_synchronization is not built with TSan, so its Mutex
// annotates nothing: TSan sees none of the happens-before its locks give, and
// reports every ABSL_GUARDED_BY field touched by two threads as a race. This
// file defines the Mutex and CondVar calls in the executable (exported, so
// they take precedence for gRPC's and Abseil's own callers too), each calling
// Abseil's definition (dlsym RTLD_NEXT) between the annotations Abseil's
// mutex.cc makes when it is compiled with TSan. As there, memory accesses
// inside a lock call (a Condition evaluated there) are not checked.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

static_assert(ABSL_OPTION_USE_INLINE_NAMESPACE, "the mangled names below assume it");

namespace {

#define CAIRN_TSAN_STR2(x) #x
#define CAIRN_TSAN_STR(x) CAIRN_TSAN_STR2(x)

// Abseil's own definition of the symbol "_ZN4absl<ns>" + `rest`.
template <typename F>
F Real(const char* rest) {
  std::string ns = CAIRN_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + rest;
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "tsan annotations: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// Abseil's calls reach each other through the PLT, so through these too
// (AwaitWithTimeout calls AwaitWithDeadline): only the outermost annotates.
thread_local int depth = 0;
class Outer {
 public:
  Outer() : outer_(depth++ == 0) {}
  ~Outer() { --depth; }
  explicit operator bool() const { return outer_; }

 private:
  const bool outer_;
};

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock_failed;

// A call during which `mu`, held before and after, is released and taken
// again (Await, CondVar::Wait).
template <typename Call>
auto Released(absl::Mutex* mu, Call call) {
  Outer outer;
  if (!outer) return call();
  __tsan_mutex_pre_unlock(mu, 0);
  auto result = call();
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

using Cond = const absl::Condition&;

}  // namespace

void absl::Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  Outer outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void absl::Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  Outer outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, kRead);
  real(this);
  __tsan_mutex_post_lock(this, kRead, 0);
}

void absl::Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  Outer outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void absl::Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  Outer outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  __tsan_mutex_post_unlock(this, kRead);
}

bool absl::Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  Outer outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, kTry);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, locked ? kTry : kTry | kTryFailed, 0);
  return locked;
}

bool absl::Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  Outer outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, kRead | kTry);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, locked ? kRead | kTry : kRead | kTry | kTryFailed, 0);
  return locked;
}

void absl::Mutex::LockWhen(Cond cond) {
  static auto real = Real<void (*)(Mutex*, Cond)>("5Mutex8LockWhenERKNS0_9ConditionE");
  Outer outer;
  if (!outer) return real(this, cond);
  __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  __tsan_mutex_post_lock(this, 0, 0);
}

void absl::Mutex::ReaderLockWhen(Cond cond) {
  static auto real = Real<void (*)(Mutex*, Cond)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Outer outer;
  if (!outer) return real(this, cond);
  __tsan_mutex_pre_lock(this, kRead);
  real(this, cond);
  __tsan_mutex_post_lock(this, kRead, 0);
}

bool absl::Mutex::LockWhenWithTimeout(Cond cond, absl::Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, Cond, absl::Duration)>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outer outer;
  if (!outer) return real(this, cond, timeout);
  __tsan_mutex_pre_lock(this, 0);
  bool met = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, 0, 0);
  return met;
}

bool absl::Mutex::LockWhenWithDeadline(Cond cond, absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, Cond, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outer outer;
  if (!outer) return real(this, cond, deadline);
  __tsan_mutex_pre_lock(this, 0);
  bool met = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return met;
}

bool absl::Mutex::ReaderLockWhenWithTimeout(Cond cond, absl::Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, Cond, absl::Duration)>(
      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outer outer;
  if (!outer) return real(this, cond, timeout);
  __tsan_mutex_pre_lock(this, kRead);
  bool met = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, kRead, 0);
  return met;
}

bool absl::Mutex::ReaderLockWhenWithDeadline(Cond cond, absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, Cond, absl::Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outer outer;
  if (!outer) return real(this, cond, deadline);
  __tsan_mutex_pre_lock(this, kRead);
  bool met = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, kRead, 0);
  return met;
}

void absl::Mutex::Await(Cond cond) {
  static auto real = Real<void (*)(Mutex*, Cond)>("5Mutex5AwaitERKNS0_9ConditionE");
  Released(this, [&] {
    real(this, cond);
    return 0;
  });
}

bool absl::Mutex::AwaitWithTimeout(Cond cond, absl::Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, Cond, absl::Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Released(this, [&] { return real(this, cond, timeout); });
}

bool absl::Mutex::AwaitWithDeadline(Cond cond, absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, Cond, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Released(this, [&] { return real(this, cond, deadline); });
}

void absl::CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  Released(mu, [&] {
    real(this, mu);
    return 0;
  });
}

bool absl::CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return Released(mu, [&] { return real(this, mu, timeout); });
}

bool absl::CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Released(mu, [&] { return real(this, mu, deadline); });
}
