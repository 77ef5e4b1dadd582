#include "agora/auth/challenge.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace agora::auth {
namespace {

std::string hex(const unsigned char* data, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string make_nonce() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("OpenSSL's random generator failed");
  return hex(bytes, sizeof bytes);
}

std::string proof(const std::string& secret, const std::string& role, const std::string& principal,
                  const std::string& nonce) {
  // Every field is followed by a newline, and none may hold one (the master
  // refuses such principals and roles; nonces are hex): the message cannot
  // be read two ways.
  std::string message = "agora-auth-v1\n" + role + "\n" + principal + "\n" + nonce + "\n";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
           &len) == nullptr)
    throw std::runtime_error("OpenSSL's HMAC-SHA256 failed");
  return hex(mac, len);
}

bool same_proof(const std::string& expected, const std::string& got) {
  return expected.size() == got.size() &&
         CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
}

}  // namespace agora::auth
