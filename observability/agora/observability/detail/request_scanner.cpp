#include "agora/observability/detail/request_scanner.hpp"

#include <algorithm>
#include <cctype>

namespace agora::observability::detail {

namespace {

// The longest chunk-size or trailer line accepted before giving up framing.
constexpr std::size_t max_line = 4096;

// Room for the encoding of a chunked body (sizes, extensions, line ends,
// trailers) on top of its decoded size: a body whose encoding exceeds the
// body limit by more than this is refused rather than buffered.
constexpr std::size_t max_chunk_overhead = 64 * 1024;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// Returns the line of `data` starting at `from` without its `\n` (and `\r`)
// and sets `next` past it; returns false when no `\n` has arrived yet.
bool line_at(const std::string& data, std::size_t from, std::string& line, std::size_t& next) {
  auto end = data.find('\n', from);
  if (end == std::string::npos) return false;
  line = data.substr(from, end - from);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  next = end + 1;
  return true;
}

// Parses a decimal `Content-Length` value; false when it is not one.
bool parse_length(const std::string& value, std::size_t& out) {
  if (value.empty() || value.size() > 18) return false;
  out = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::size_t>(c - '0');
  }
  return true;
}

}  // namespace

request_scanner::request_scanner(std::size_t max_head, std::size_t max_body)
    : max_head_(max_head), max_body_(max_body) {}

request_state request_scanner::scan(const std::string& data) {
  if (last_ != request_state::incomplete) return last_;
  if (phase_ == phase::head) last_ = scan_head(data);
  if (last_ != request_state::incomplete) return last_;
  switch (phase_) {
    case phase::fixed_body:
      if (data.size() >= body_end_) last_ = request_state::complete;
      break;
    case phase::until_eof:
      if (data.size() > head_size_ + max_body_) last_ = request_state::too_large;
      break;
    case phase::chunk_size:
    case phase::chunk_data:
    case phase::chunk_end:
    case phase::trailer:
      last_ = scan_chunks(data);
      break;
    case phase::done:
      last_ = request_state::complete;
      break;
    case phase::head:
      break;
  }
  return last_;
}

request_state request_scanner::scan_head(const std::string& data) {
  // Look for the empty line that ends the head, resuming where the last
  // scan stopped. A line may end in `\r\n` or a bare `\n`, as civetweb
  // accepts both.
  for (; pos_ < data.size(); ++pos_) {
    auto c = static_cast<unsigned char>(data[pos_]);
    if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
      return request_state::pass_through;  // Not a text head: the server refuses it at once.
    if (c != '\n' || pos_ == 0) continue;
    if (data[pos_ - 1] == '\n' || (pos_ >= 2 && data[pos_ - 1] == '\r' && data[pos_ - 2] == '\n')) {
      head_size_ = pos_ + 1;
      break;
    }
  }
  if (head_size_ == 0) {
    // Too long a head is the server's to refuse, as before.
    return pos_ >= max_head_ ? request_state::pass_through : request_state::incomplete;
  }
  if (head_size_ > max_head_) return request_state::pass_through;

  std::string line;
  std::size_t next = 0;
  line_at(data, 0, line, next);
  std::string method = line.substr(0, line.find(' '));
  int lengths = 0, encodings = 0, expects = 0;
  std::string length_value, encoding_value, expect_value;
  while (next < head_size_ && line_at(data, next, line, next) && !line.empty()) {
    // A folded continuation line or a line without a name: unusual enough
    // that only the server should judge it.
    if (line[0] == ' ' || line[0] == '\t') return request_state::pass_through;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return request_state::pass_through;
    std::string name = lower(line.substr(0, colon));
    if (name.find_first_of(" \t") != std::string::npos) return request_state::pass_through;
    std::string value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      ++lengths;
      length_value = value;
    } else if (name == "transfer-encoding") {
      ++encodings;
      encoding_value = lower(value);
    } else if (name == "expect") {
      ++expects;
      expect_value = lower(value);
    }
  }
  // Ambiguous lengths are refused by the server (400) before it reads any
  // body, so there is nothing to wait for.
  if (lengths > 1 || encodings > 1 || (lengths > 0 && encodings > 0))
    return request_state::pass_through;
  if (expects > 1 || (expects == 1 && expect_value != "100-continue"))
    return request_state::pass_through;
  if (encodings == 1) {
    if (encoding_value != "chunked") return request_state::pass_through;
    phase_ = phase::chunk_size;
    pos_ = head_size_;
    expects_continue_ = expects == 1;
    return request_state::incomplete;
  }
  if (lengths == 1) {
    std::size_t length = 0;
    if (!parse_length(length_value, length)) return request_state::pass_through;
    // The server answers 413 to a declared length over the limit without
    // reading the body.
    if (length > max_body_) return request_state::pass_through;
    phase_ = phase::fixed_body;
    body_end_ = head_size_ + length;
    expects_continue_ = expects == 1 && length > 0;
    return request_state::incomplete;
  }
  std::string m = lower(method);
  if (m == "post" || m == "put") {
    phase_ = phase::until_eof;
    expects_continue_ = expects == 1;
    return request_state::incomplete;
  }
  phase_ = phase::done;
  return request_state::complete;
}

request_state request_scanner::scan_chunks(const std::string& data) {
  if (data.size() > head_size_ + max_body_ + max_chunk_overhead) return request_state::too_large;
  std::string line;
  std::size_t next = 0;
  while (pos_ < data.size()) {
    switch (phase_) {
      case phase::chunk_size: {
        if (!line_at(data, pos_, line, next))
          return data.size() - pos_ > max_line ? request_state::pass_through
                                               : request_state::incomplete;
        // `SIZE[;extensions]` in hex.
        std::string digits = trim(line.substr(0, line.find(';')));
        if (digits.empty() || digits.size() > 8 ||
            digits.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          return request_state::pass_through;
        std::size_t size = std::stoul(digits, nullptr, 16);
        pos_ = next;
        if (size == 0) {
          phase_ = phase::trailer;
          break;
        }
        decoded_ += size;
        if (decoded_ > max_body_) return request_state::too_large;
        chunk_left_ = size;
        phase_ = phase::chunk_data;
        break;
      }
      case phase::chunk_data: {
        std::size_t n = std::min(chunk_left_, data.size() - pos_);
        pos_ += n;
        chunk_left_ -= n;
        if (chunk_left_ == 0) phase_ = phase::chunk_end;
        break;
      }
      case phase::chunk_end:
        // The chunk's data is followed by a line end.
        if (!line_at(data, pos_, line, next))
          return data.size() - pos_ > 2 ? request_state::pass_through : request_state::incomplete;
        if (!line.empty()) return request_state::pass_through;
        pos_ = next;
        phase_ = phase::chunk_size;
        break;
      case phase::trailer:
        // Trailer fields until an empty line.
        if (!line_at(data, pos_, line, next))
          return data.size() - pos_ > max_line ? request_state::pass_through
                                               : request_state::incomplete;
        pos_ = next;
        if (line.empty()) {
          phase_ = phase::done;
          return request_state::complete;
        }
        break;
      default:
        return request_state::pass_through;
    }
  }
  return request_state::incomplete;
}

}  // namespace agora::observability::detail
