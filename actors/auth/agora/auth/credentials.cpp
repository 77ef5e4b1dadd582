#include "agora/auth/credentials.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace agora::auth {
namespace {

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool read_whole(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    error = path + ": cannot be read (" + std::strerror(errno) + ")";
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

}  // namespace

std::string check_private_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file";
  if ((st.st_mode & 077) != 0)
    return path + ": other users may read or write it (mode " + mode_text(st.st_mode) +
           "); make it private with chmod 600";
  return {};
}

bool credential_store::load(const std::string& path, credential_store& out, std::string& error) {
  if (auto why = check_private_file(path); !why.empty()) {
    error = why;
    return false;
  }
  std::string text;
  if (!read_whole(path, text, error)) return false;
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) {
    // The offset, not the text around it: that could be part of a secret.
    error = path + ": not valid JSON (" + rapidjson::GetParseError_En(doc.GetParseError()) +
            " at byte " + std::to_string(doc.GetErrorOffset()) + ")";
    return false;
  }
  if (!doc.IsObject() || !doc.HasMember("credentials") || !doc["credentials"].IsArray()) {
    error = path + ": expected {\"credentials\": [{\"principal\": ..., \"secret\": ...}, ...]}";
    return false;
  }
  credential_store store;
  size_t index = 0;
  for (const auto& c : doc["credentials"].GetArray()) {
    auto where = path + ": credentials[" + std::to_string(index++) + "]";
    if (!c.IsObject() || !c.HasMember("principal") || !c["principal"].IsString() ||
        !c.HasMember("secret") || !c["secret"].IsString()) {
      error = where + ": needs a string \"principal\" and a string \"secret\"";
      return false;
    }
    std::string principal{c["principal"].GetString(), c["principal"].GetStringLength()};
    std::string secret{c["secret"].GetString(), c["secret"].GetStringLength()};
    if (principal.empty() || secret.empty()) {
      error = where + ": the principal and the secret must not be empty";
      return false;
    }
    for (char ch : principal)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        error = where + ": the principal holds a control character";
        return false;
      }
    if (store.secrets_.count(principal) != 0) {
      error = where + ": principal '" + principal + "' is listed twice";
      return false;
    }
    store.secrets_.emplace(std::move(principal), std::move(secret));
  }
  if (store.secrets_.empty()) {
    error = path + ": lists no credentials";
    return false;
  }
  out = std::move(store);
  return true;
}

const std::string* credential_store::secret(const std::string& principal) const {
  auto it = secrets_.find(principal);
  return it == secrets_.end() ? nullptr : &it->second;
}

bool read_secret_file(const std::string& path, std::string& secret, std::string& error) {
  if (auto why = check_private_file(path); !why.empty()) {
    error = why;
    return false;
  }
  std::string text;
  if (!read_whole(path, text, error)) return false;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) {
    error = path + ": is empty";
    return false;
  }
  secret = std::move(text);
  return true;
}

}  // namespace agora::auth
