#pragma once

// Certificates for TLS tests, made at test time with the `openssl` command.

#include <string>
#include <vector>

namespace agora::test {

/// A certificate, its key and the CA that signed it (PEM file paths), in
/// the form `--tls-cert`, `--tls-key` and `--tls-ca` take them.
struct tls_identity {
  std::string cert;
  std::string key;
  std::string ca;

  /// Returns `--tls-cert=...`, `--tls-key=...`, `--tls-ca=...`.
  std::vector<std::string> flags() const {
    return {"--tls-cert=" + cert, "--tls-key=" + key, "--tls-ca=" + ca};
  }
};

/// The files of a TLS test, all under one directory.
struct tls_files {
  /// The cluster's CA (`ca.pem`).
  std::string ca;
  /// A certificate the cluster's CA signed, for masters, agents and clients
  /// alike (no extended key usage: it serves and connects).
  tls_identity node;
  /// A second certificate of the cluster's CA (another member).
  tls_identity other_node;
  /// A certificate signed by a foreign CA, with the cluster's CA as its
  /// `ca` (it trusts the cluster, the cluster does not trust it).
  tls_identity foreign;
  /// The foreign CA itself (`foreign-ca.pem`).
  std::string foreign_ca;
};

/// Makes a CA, two certificates it signs (with 127.0.0.1 and localhost as
/// subject alternative names) and a foreign CA with one certificate, all
/// EC P-256, in `dir`. Throws std::runtime_error with openssl's output if
/// a command fails.
tls_files make_tls_files(const std::string& dir);

}  // namespace agora::test
