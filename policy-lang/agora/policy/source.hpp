#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agora::policy {

/// A half-open byte range `[begin, end)` in one source file.
struct source_range {
  uint32_t begin = 0;
  uint32_t end = 0;
};

/// A 1-based line and column (columns count bytes).
struct source_location {
  uint32_t line = 1;
  uint32_t column = 1;
};

/// The text of one policy or schema file with its name, and the mapping from
/// byte offsets to lines and columns used by diagnostics.
class source_file {
 public:
  /// Creates a file from its display name (used in diagnostics) and text.
  source_file(std::string name, std::string text);

  /// Reads `path` from disk. Returns nullopt and sets `error` if it cannot be
  /// read or is not a regular file (a FIFO, a device or a folder is refused
  /// without blocking). Files larger than `max_bytes` are read only up to
  /// `max_bytes + 1` bytes, so the parser can report them as too large
  /// without holding them.
  static std::optional<source_file> load(const std::string& path, std::string& error,
                                         size_t max_bytes = 64u << 20);

  /// Returns the display name.
  const std::string& name() const { return name_; }
  /// Returns the whole text.
  const std::string& text() const { return text_; }
  /// Returns the line and column of byte `offset` (clamped to the text).
  source_location location(uint32_t offset) const;
  /// Returns the text of 1-based `line`, without its line terminator.
  std::string_view line_text(uint32_t line) const;
  /// Returns the number of lines.
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }
  /// Returns the text covered by `range` (clamped).
  std::string_view slice(source_range range) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

}  // namespace agora::policy
