#include "agora/test/binaries.hpp"

#include <unistd.h>

#include <cstdlib>

#ifndef AGORA_BIN_DIR
#error "AGORA_BIN_DIR must be defined by the build"
#endif

namespace agora::test {

std::string binary_dir() {
  const char* env = std::getenv("AGORA_BIN_DIR");
  if (env != nullptr && *env != '\0') return env;
  return AGORA_BIN_DIR;
}

std::string binary_path(const std::string& name) { return binary_dir() + "/" + name; }

bool binary_exists(const std::string& name) { return access(binary_path(name).c_str(), X_OK) == 0; }

}  // namespace agora::test
