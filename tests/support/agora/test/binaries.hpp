#pragma once

#include <string>

namespace agora::test {

/// Returns the directory holding the built binaries: the environment
/// variable `AGORA_BIN_DIR` when set, else the build's `bin/` directory
/// (CMake's `CMAKE_RUNTIME_OUTPUT_DIRECTORY`, compiled in).
std::string binary_dir();

/// Returns the path of the built binary `name` (e.g. `agora-master`) in
/// `binary_dir()`; the file may not exist (see `binary_exists`).
std::string binary_path(const std::string& name);

/// Returns true if `binary_path(name)` is an executable file.
bool binary_exists(const std::string& name);

}  // namespace agora::test
