#include "agora/protocol/tls.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace agora::protocol {
namespace {

/// Reads `path` whole; false with `error` set (naming `flag`) if it cannot.
bool read_file(const std::string& flag, const std::string& path, std::string& text,
               std::string& error) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    error = flag + ": cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = flag + ": cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

/// Never asked for: an encrypted key is refused before OpenSSL reads it.
/// Installed anyway, so that OpenSSL never prompts on the terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

struct ctx_deleter {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct store_ctx_deleter {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};

}  // namespace

std::string check_tls_options(const tls_options& o) {
  if (!o.enabled()) return {};
  const char* together = " (--tls-cert, --tls-key and --tls-ca go together)";
  if (o.cert_file.empty()) return std::string{"--tls-cert: missing"} + together;
  if (o.key_file.empty()) return std::string{"--tls-key: missing"} + together;
  if (o.ca_file.empty()) return std::string{"--tls-ca: missing"} + together;
  std::string text, error;
  // Each file is read here first, so a missing or unreadable one is named
  // with the system's reason rather than OpenSSL's.
  if (!read_file("--tls-cert", o.cert_file, text, error)) return error;
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return "--tls-cert: '" + o.cert_file + "' holds no PEM certificate";
  if (!read_file("--tls-ca", o.ca_file, text, error)) return error;
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return "--tls-ca: '" + o.ca_file + "' holds no PEM certificate";
  if (!read_file("--tls-key", o.key_file, text, error)) return error;
  if (text.find("PRIVATE KEY-----") == std::string::npos)
    return "--tls-key: '" + o.key_file + "' holds no PEM private key";
  if (text.find("ENCRYPTED") != std::string::npos)
    return "--tls-key: '" + o.key_file +
           "' is encrypted, and a passphrase is not supported (decrypt it with `openssl pkey "
           "-in KEY -out PLAIN_KEY` and protect the file's permissions instead)";

  // Then loaded as the TLS layer loads them (CAF's `openssl::session`).
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, ctx_deleter> ctx{SSL_CTX_new(TLS_method())};
  if (!ctx) return "--tls-cert: cannot set up TLS: " + openssl_reason();
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1)
    return "--tls-cert: '" + o.cert_file + "': " + openssl_reason();
  // OpenSSL checks the key against the certificate as it loads it.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    auto why = openssl_reason();
    if (why == "key values mismatch")
      return "--tls-key: '" + o.key_file + "' is not the key of the certificate in --tls-cert ('" +
             o.cert_file + "')";
    return "--tls-key: '" + o.key_file + "': " + why;
  }
  if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1)
    return "--tls-ca: '" + o.ca_file + "': " + openssl_reason();

  // Peers check this process's certificate against the same CA: one it
  // did not sign (or one expired) would be refused by every peer, so say
  // so now rather than at each connection.
  X509* cert = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  std::unique_ptr<X509_STORE_CTX, store_ctx_deleter> verify{X509_STORE_CTX_new()};
  if (!verify ||
      X509_STORE_CTX_init(verify.get(), SSL_CTX_get_cert_store(ctx.get()), cert, chain) != 1)
    return "--tls-cert: cannot verify '" + o.cert_file + "': " + openssl_reason();
  if (X509_verify_cert(verify.get()) != 1) {
    auto why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(verify.get()));
    ERR_clear_error();
    return "--tls-cert: '" + o.cert_file + "' does not verify against the CA in --tls-ca ('" +
           o.ca_file + "'): " + why;
  }
  ERR_clear_error();
  return {};
}

std::string openssl_reason() {
  unsigned long last = 0;
  while (auto e = ERR_get_error()) last = e;
  if (last == 0) return {};
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(last);
}

}  // namespace agora::protocol
