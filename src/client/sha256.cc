#include "client/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace cairn::client {
namespace {

void CheckOk(int ok) {
  if (ok != 1) std::abort();  // broken invariant: SHA-256 always exists
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  Reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Reset() { CheckOk(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr)); }

void Sha256::Update(std::string_view data) {
  CheckOk(EVP_DigestUpdate(ctx_, data.data(), data.size()));
}

std::string Sha256::HexDigest() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (copy == nullptr) std::abort();
  CheckOk(EVP_MD_CTX_copy_ex(copy, ctx_));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  CheckOk(EVP_DigestFinal_ex(copy, digest, &length));
  EVP_MD_CTX_free(copy);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.Update(data);
  return sha.HexDigest();
}

}  // namespace cairn::client
