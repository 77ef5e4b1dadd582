#pragma once

// Test-only helpers shared by the tool's tests: run `agora policy ...` in
// process and capture its output, and a temporary folder.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agora/policy/tool.hpp"

namespace agora::policy::testing_support {

/// What one `agora policy ...` run printed, and its exit status.
struct run_result {
  int code;
  std::string out;
  std::string err;
};

/// Runs `agora policy ARGS...` in this process.
inline run_result run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = run_policy_tool(args, out, err);
  return {code, out.str(), err.str()};
}

/// A temporary folder removed at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    char buffer[] = "/tmp/agora-policy-test-XXXXXX";
    path = mkdtemp(buffer);
  }
  ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// Writes `text` to `name` in the folder; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

}  // namespace agora::policy::testing_support
