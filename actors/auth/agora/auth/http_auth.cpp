#include "agora/auth/http_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <filesystem>
#include <vector>

namespace agora::auth {
namespace {

/// Decodes standard base64 (with padding); false on bad input.
bool base64_decode(const std::string& in, std::string& out) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 8192) return false;
  std::vector<unsigned char> buf(in.size() / 4 * 3 + 1);
  int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding's bytes as zeros: drop them.
  size_t pad = 0;
  if (in[in.size() - 1] == '=') ++pad;
  if (in[in.size() - 2] == '=') ++pad;
  out.assign(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n) - pad);
  return true;
}

bool equal_secrets(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// Returns true if `header` starts with `scheme` and a space (scheme case
/// insensitive), leaving the rest in `rest`.
bool scheme_is(const std::string& header, const std::string& scheme, std::string& rest) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
  rest = header.substr(scheme.size() + 1);
  while (!rest.empty() && rest.front() == ' ') rest.erase(rest.begin());
  while (!rest.empty() && rest.back() == ' ') rest.pop_back();
  return true;
}

}  // namespace

http_identity authenticate_http(const credential_store& store, const std::string& authorization) {
  http_identity id;
  if (authorization.empty()) return id;
  std::string rest;
  if (scheme_is(authorization, "basic", rest)) {
    std::string decoded;
    auto colon = std::string::npos;
    if (!base64_decode(rest, decoded) || (colon = decoded.find(':')) == std::string::npos) {
      id.ok = false;
      id.error = "malformed Basic credentials";
      return id;
    }
    auto principal = decoded.substr(0, colon);
    const std::string* secret = store.secret(principal);
    // The same comparison for an unknown principal as for a wrong secret.
    bool good = equal_secrets(secret ? *secret : std::string(decoded.size() - colon - 1, '\0'),
                              decoded.substr(colon + 1)) &&
                secret != nullptr;
    if (!good) {
      id.ok = false;
      id.error = "wrong principal or secret";
      return id;
    }
    id.principal = principal;
    return id;
  }
  if (scheme_is(authorization, "bearer", rest)) {
    const std::string* found = nullptr;
    store.for_each([&](const std::string& principal, const std::string& secret) {
      if (equal_secrets(secret, rest) && found == nullptr) found = &principal;
    });
    if (found == nullptr) {
      id.ok = false;
      id.error = "unknown bearer token";
      return id;
    }
    id.principal = *found;
    return id;
  }
  id.ok = false;
  id.error = "unsupported authorization scheme (Basic or Bearer)";
  return id;
}

std::string basic_authorization(const std::string& principal, const std::string& secret) {
  std::string plain = principal + ":" + secret;
  std::vector<unsigned char> out((plain.size() + 2) / 3 * 4 + 1);
  int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size()));
  return "Basic " + std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(n));
}

http_verdict check_http(const http_access& access, const std::string& authorization,
                        const std::string& read_endpoint) {
  http_verdict v;
  if (!authorization.empty()) {
    if (!access.credentials) {
      v.status = 401;
      v.error = "this server has no credentials (--credentials) to check the Authorization header";
      return v;
    }
    auto id = authenticate_http(*access.credentials, authorization);
    if (!id.ok) {
      v.status = 401;
      v.error = "authentication failed: " + id.error;
      return v;
    }
    v.principal = id.principal;
  } else if (access.required) {
    v.status = 401;
    v.error =
        "authentication required (--authenticate-http): send Basic credentials or a Bearer "
        "token";
    return v;
  }
  if (access.rules && !read_endpoint.empty() &&
      !access.rules->allowed(acls::action::read_endpoints, v.principal, read_endpoint)) {
    v.status = 403;
    v.error = denied(acls::action::read_endpoints, v.principal, read_endpoint);
  }
  return v;
}

std::string sandbox_framework(const std::string& path, const std::string& root) {
  // Lexically normal first: `frameworks/A/tasks/t/../../../B` is B's.
  auto normal = std::filesystem::path(path).lexically_normal().string();
  if (!root.empty()) {
    auto base = std::filesystem::path(root).lexically_normal().string();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    if (normal.compare(0, base.size(), base) != 0 || normal.size() <= base.size() + 1 ||
        normal[base.size()] != '/')
      return {};
    auto rest = normal.substr(base.size() + 1);
    return rest.substr(0, rest.find('/'));
  }
  // Without the root: the segment after the first `frameworks`. A path
  // that names more (a directory called `frameworks` inside a sandbox, or
  // in the agent's work directory) is attributed to the first, so a
  // client cannot append another framework's name to reach a sandbox.
  std::vector<std::string> parts;
  for (size_t start = 0; start <= normal.size();) {
    auto end = normal.find('/', start);
    if (end == std::string::npos) end = normal.size();
    parts.push_back(normal.substr(start, end - start));
    start = end + 1;
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i] == "frameworks")
      return parts[i + 1] == "." || parts[i + 1] == ".." ? "" : parts[i + 1];
  return {};
}

}  // namespace agora::auth
