#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

namespace agora::observability::detail {

/// An OpenSSL context, freed with the last reference.
using ssl_context = std::shared_ptr<SSL_CTX>;

/// Returns a context for an HTTPS server presenting `cert_file` (PEM chain)
/// with `key_file`, or null with `error` set (naming the file). Clients are
/// not asked for certificates (see `http_server::options::tls_cert_file`).
ssl_context make_server_context(const std::string& cert_file, const std::string& key_file,
                                std::string& error);

/// Returns a context for an HTTPS client that accepts only a server whose
/// certificate `ca_file` verifies (whatever its names: the CA decides who
/// belongs to the cluster) and presents `cert_file` with `key_file` when a
/// server asks; null with `error` set on a bad file.
ssl_context make_client_context(const std::string& cert_file, const std::string& key_file,
                                const std::string& ca_file, std::string& error);

/// The reason of the last OpenSSL error of this thread ("" if none); clears
/// the thread's error queue.
std::string ssl_reason();

}  // namespace agora::observability::detail
