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

}  // namespace agora::auth
