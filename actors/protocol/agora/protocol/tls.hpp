#pragma once

#include <string>

namespace agora::protocol {

/// A process's TLS identity: `--tls-cert`, `--tls-key` and `--tls-ca`.
///
/// With all three set, every actor connection of the process speaks TLS
/// (see `load_transport`), and so do its HTTP endpoints: mutual TLS, each
/// side shows its certificate and accepts only a peer whose certificate
/// `ca_file` signed. Any certificate of the CA is accepted, whatever names
/// it holds: the CA decides who belongs to the cluster.
struct tls_options {
  /// This process's certificate (PEM), optionally followed by
  /// intermediate certificates.
  std::string cert_file;
  /// The certificate's private key (PEM, not encrypted).
  std::string key_file;
  /// The certificate(s) of the CA that signs every peer (PEM).
  std::string ca_file;

  /// Returns true if any of the three is set (`check_tls_options` then
  /// requires all three).
  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
};

/// Returns the first problem with `opts` as `--tls-...: why` ("" when none,
/// including when TLS is off): only some of the three flags given, a file
/// that cannot be read or holds no PEM object of its kind, an encrypted
/// key, a key that does not belong to the certificate, or a certificate
/// that the CA did not sign (peers would refuse it). Callers report it and
/// exit with status 2 before starting anything.
std::string check_tls_options(const tls_options& opts);

/// Returns the reason of the last OpenSSL error of this thread ("" if
/// none), and clears the thread's error queue. (For the transport and the
/// checks above.)
std::string openssl_reason();

}  // namespace agora::protocol
