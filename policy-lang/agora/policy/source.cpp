#include "agora/policy/source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

namespace agora::policy {

source_file::source_file(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
}

std::optional<source_file> source_file::load(const std::string& path, std::string& error,
                                             size_t max_bytes) {
  // Non-blocking, so opening a FIFO with no writer returns at once; then
  // only a regular file is read (not a FIFO, a device such as /dev/stdin or
  // /dev/zero, or a folder).
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open '" + path + "'";
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = "'" + path + "' is not a regular file";
    return std::nullopt;
  }
  std::string text;
  char buffer[65536];
  while (text.size() <= max_bytes) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      error = "cannot read '" + path + "'";
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > max_bytes + 1) text.resize(max_bytes + 1);
  return source_file(path, std::move(text));
}

source_location source_file::location(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  auto line = static_cast<uint32_t>(std::distance(line_starts_.begin(), it));
  return {line, offset - line_starts_[line - 1] + 1};
}

std::string_view source_file::line_text(uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return {};
  uint32_t begin = line_starts_[line - 1];
  uint32_t end =
      line < line_starts_.size() ? line_starts_[line] - 1 : static_cast<uint32_t>(text_.size());
  std::string_view view(text_);
  auto result = view.substr(begin, end - begin);
  if (!result.empty() && result.back() == '\r') result.remove_suffix(1);
  return result;
}

std::string_view source_file::slice(source_range range) const {
  auto size = static_cast<uint32_t>(text_.size());
  uint32_t b = std::min(range.begin, size);
  uint32_t e = std::min(std::max(range.end, b), size);
  return std::string_view(text_).substr(b, e - b);
}

}  // namespace agora::policy
