#pragma once

#include <string>

namespace agora::auth {

/// Challenge-response authentication over an actor connection:
///
/// 1. the client names its principal and role (`auth_start`);
/// 2. the master answers with a fresh random nonce (`auth_challenge`);
/// 3. the client answers with `proof(secret, role, principal, nonce)`
///    (`auth_proof`), which the master recomputes with the secret from its
///    credentials file and compares in constant time.
///
/// The secret itself never crosses the connection, and a proof is good for
/// one nonce only. The master binds the principal to the actor that
/// answered (see docs/security.md: what this does and does not protect
/// without TLS).

/// Returns 32 bytes from OpenSSL's CSPRNG, hex-encoded (64 characters).
/// Throws `std::runtime_error` if the generator fails.
std::string make_nonce();

/// Returns HMAC-SHA256, keyed with `secret`, of a message that names the
/// protocol version, the role (`framework` or `agent`), the principal and
/// the nonce, hex-encoded (64 characters).
std::string proof(const std::string& secret, const std::string& role, const std::string& principal,
                  const std::string& nonce);

/// Returns true if `got` equals `expected`, in time independent of where
/// they differ (OpenSSL's `CRYPTO_memcmp`); false for different lengths.
bool same_proof(const std::string& expected, const std::string& got);

}  // namespace agora::auth
