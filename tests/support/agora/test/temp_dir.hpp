#pragma once

#include <string>

namespace agora::test {

/// A fresh directory (mkdtemp under `$TMPDIR` or /tmp), removed recursively
/// in the destructor unless the environment variable `AGORA_KEEP_TEST_DIRS`
/// is set (to anything but "" or "0"), in which case its path is printed to
/// stderr for a post-mortem.
class temp_dir {
 public:
  /// Creates `<tmp>/<prefix>-XXXXXX`; throws std::runtime_error on failure.
  explicit temp_dir(const std::string& prefix = "agora-test");
  ~temp_dir();

  temp_dir(temp_dir&& other) noexcept;
  temp_dir& operator=(temp_dir&& other) noexcept;
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Returns the directory's absolute path (empty after a move).
  const std::string& path() const { return path_; }

  /// Returns `path() + "/" + name` (nothing is created).
  std::string file(const std::string& name) const;

  /// Writes `content` to `file(name)`, creating parent directories; returns
  /// the path. Throws std::runtime_error on failure.
  std::string write(const std::string& name, const std::string& content) const;

  /// Returns true if directories are kept (see the class comment).
  static bool keep_requested();

 private:
  void remove();

  std::string path_;
};

/// Returns the contents of the file at `path`, or "" if it cannot be read.
std::string read_file(const std::string& path);

/// Writes `content` to `path` (truncating); returns false on failure.
bool write_file(const std::string& path, const std::string& content);

}  // namespace agora::test
