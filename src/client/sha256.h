// Incremental SHA-256 over streamed bytes (OpenSSL EVP).
#ifndef CAIRN_CLIENT_SHA256_H_
#define CAIRN_CLIENT_SHA256_H_

#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace cairn::client {

// Not thread-safe. Crashes only if OpenSSL cannot allocate a digest context.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);

  // Lowercase hex digest of everything passed to Update() since
  // construction or the last Reset(). Does not change the state.
  std::string HexDigest() const;

  void Reset();

 private:
  evp_md_ctx_st* ctx_;
};

// SHA-256 of `data` in lowercase hex.
std::string Sha256Hex(std::string_view data);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SHA256_H_
