#include "agora/test/temp_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace agora::test {

temp_dir::temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  std::string pattern = base + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr)
    throw std::runtime_error("temp_dir: mkdtemp(" + pattern + ") failed: " + std::strerror(errno));
  path_ = buf.data();
}

temp_dir::~temp_dir() { remove(); }

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

std::string temp_dir::file(const std::string& name) const { return path_ + "/" + name; }

std::string temp_dir::write(const std::string& name, const std::string& content) const {
  auto target = file(name);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(target).parent_path(), ec);
  if (!write_file(target, content)) throw std::runtime_error("temp_dir: cannot write " + target);
  return target;
}

bool temp_dir::keep_requested() {
  const char* keep = std::getenv("AGORA_KEEP_TEST_DIRS");
  return keep != nullptr && *keep != '\0' && std::string(keep) != "0";
}

void temp_dir::remove() {
  if (path_.empty()) return;
  if (keep_requested()) {
    std::cerr << "agora test: keeping " << path_ << " (AGORA_KEEP_TEST_DIRS is set)\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  path_.clear();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return false;
  out << content;
  out.close();
  return static_cast<bool>(out);
}

}  // namespace agora::test
