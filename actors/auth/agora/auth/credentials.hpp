#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace agora::auth {

/// The principals a master accepts and their secrets, from `--credentials
/// FILE`: JSON in the shape of Mesos' credentials file,
/// `{"credentials": [{"principal": "ops", "secret": "..."}]}`.
class credential_store {
 public:
  /// Loads `path` into `out`. Refuses (false, `error` set) a file that is
  /// not a regular file, that users other than its owner may read or write
  /// (the secrets would not be secret), that is not valid JSON of that
  /// shape, or that names a principal twice or none at all, or has an
  /// empty principal or secret. Errors never quote a secret.
  static bool load(const std::string& path, credential_store& out, std::string& error);

  /// Returns the secret of `principal`, or null for an unknown principal.
  const std::string* secret(const std::string& principal) const;

  std::size_t size() const { return secrets_.size(); }

  /// Calls `f(principal, secret)` for every credential, in principal order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [principal, secret] : secrets_) f(principal, secret);
  }

  /// Adds a principal (tests and embedding; `load` for files).
  void add(const std::string& principal, const std::string& secret) {
    secrets_[principal] = secret;
  }

 private:
  std::map<std::string, std::string> secrets_;
};

/// Reads a client's secret from `--secret-file`: the whole file, without
/// one trailing newline. The same rules as for the credentials file hold:
/// a regular file that only its owner may read, and not empty.
bool read_secret_file(const std::string& path, std::string& secret, std::string& error);

/// Returns an error (empty when none) if `path` is not a regular file that
/// only its owner may read and write; `what` names it in the message.
std::string check_private_file(const std::string& path);

}  // namespace agora::auth
