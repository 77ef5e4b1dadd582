#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agora/auth/acls.hpp"
#include "agora/auth/credentials.hpp"

namespace agora::auth {

/// A flag's value check (`cli::flags::add_custom`): loads the file named
/// by the value into `*out`, or fails with the loader's error.
using flag_loader = std::function<bool(const std::string& value, std::string& error)>;

/// For `--credentials FILE` (credential_store::load).
inline flag_loader load_credentials_flag(std::shared_ptr<const credential_store>* out) {
  return [out](const std::string& v, std::string& err) {
    auto store = std::make_shared<credential_store>();
    if (!credential_store::load(v, *store, err)) return false;
    *out = std::move(store);
    return true;
  };
}

/// For `--acls FILE` (acls::load).
inline flag_loader load_acls_flag(std::shared_ptr<const acls>* out) {
  return [out](const std::string& v, std::string& err) {
    auto rules = std::make_shared<acls>();
    if (!acls::load(v, *rules, err)) return false;
    *out = std::move(rules);
    return true;
  };
}

/// For a client's `--principal` and `--secret-file`: reads the secret into
/// `secret` when the file is given. Returns "" or the problem, naming the
/// flag: a secret file without a principal, a file `read_secret_file`
/// refuses, or (`principal_needs_secret`: agents and HTTP clients, whose
/// principal only serves to authenticate) a principal without a secret.
inline std::string read_client_secret(const std::string& principal, const std::string& secret_file,
                                      bool principal_needs_secret, std::string& secret) {
  if (secret_file.empty())
    return principal_needs_secret && !principal.empty() ? "--principal: needs --secret-file" : "";
  if (principal.empty()) return "--secret-file: needs --principal";
  std::string error;
  if (!read_secret_file(secret_file, secret, error)) return "--secret-file: " + error;
  return {};
}

}  // namespace agora::auth
