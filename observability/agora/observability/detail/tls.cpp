#include "agora/observability/detail/tls.hpp"

#include <openssl/err.h>

namespace agora::observability::detail {
namespace {

/// Never prompts on the terminal for an encrypted key (the flags refuse
/// those before a server starts).
int no_passphrase(char*, int, int, void*) { return 0; }

ssl_context new_context(const SSL_METHOD* method, std::string& error) {
  ERR_clear_error();
  ssl_context ctx{SSL_CTX_new(method), SSL_CTX_free};
  if (!ctx) {
    error = "cannot set up TLS: " + ssl_reason();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A peer that closes without TLS's close_notify ends the stream as a
  // plain close would (responses carry Content-Length; nothing is cut).
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  // Writes resume from a buffer that may have grown (and moved) since the
  // write that returned SSL_ERROR_WANT_WRITE, and return what fit.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

bool load_identity(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                   std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    error = "cannot load the certificate '" + cert_file + "': " + ssl_reason();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    error = "cannot load the key '" + key_file + "': " + ssl_reason();
    return false;
  }
  return true;
}

}  // namespace

std::string ssl_reason() {
  unsigned long last = 0;
  while (auto e = ERR_get_error()) last = e;
  if (last == 0) return {};
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(last);
}

ssl_context make_server_context(const std::string& cert_file, const std::string& key_file,
                                std::string& error) {
  auto ctx = new_context(TLS_server_method(), error);
  if (!ctx || !load_identity(ctx.get(), cert_file, key_file, error)) return nullptr;
  return ctx;
}

ssl_context make_client_context(const std::string& cert_file, const std::string& key_file,
                                const std::string& ca_file, std::string& error) {
  auto ctx = new_context(TLS_client_method(), error);
  if (!ctx) return nullptr;
  if (!cert_file.empty() && !load_identity(ctx.get(), cert_file, key_file, error)) return nullptr;
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    error = "cannot load the CA '" + ca_file + "': " + ssl_reason();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

}  // namespace agora::observability::detail
