// CAIRN_CHECK(cond) << "context": crashes the process, with the condition,
// its place and the context on stderr, when an invariant is broken. Only for
// invariants of our own code: bad input and environment errors (disk,
// network, a peer's reply) are Statuses, never checks.
#ifndef CAIRN_COMMON_CHECK_H_
#define CAIRN_COMMON_CHECK_H_

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace cairn::internal {

// Collects the message of a failed check and aborts when destroyed.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": check failed: " << condition << " ";
  }
  [[noreturn]] ~CheckFailure() {
    std::cerr << stream_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Gives the `cond ? (void)0 : stream` expression of the macro one type.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace cairn::internal

#define CAIRN_CHECK(cond)                 \
  (cond) ? (void)0                        \
         : ::cairn::internal::Voidify() & \
               ::cairn::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#endif  // CAIRN_COMMON_CHECK_H_
