#pragma once

#include <cstddef>
#include <string>

namespace agora::observability::detail {

/// What `request_scanner::scan` found in the bytes of a request so far.
enum class request_state {
  /// The head or body is still incomplete: wait for more bytes.
  incomplete,
  /// The head and the whole body have arrived.
  complete,
  /// Framing this scanner does not judge (no blank line within the head
  /// limit, a control character, an ambiguous or unknown body length, an
  /// unusual `Expect`, a declared body over the limit): hand the bytes over
  /// as they are and let the HTTP server refuse them as it always did.
  pass_through,
  /// A chunked body decodes to more than the body limit (or its encoding
  /// is absurdly larger than that): answer 413 without reading on.
  too_large,
};

/// Finds where an HTTP/1.x request ends (or that it ends with the
/// connection: a POST or PUT without a length stays `incomplete` until the
/// client shuts its side down), so that a front can hold a
/// connection until its request is complete and hand nothing incomplete to
/// the server's worker threads (whose reads only time out per read).
///
/// The scanner only frames the request: the head ends at the first empty
/// line, the body is `Content-Length` bytes or a chunked body up to its
/// last chunk and trailer. It never decides what the request means, and
/// whenever it is unsure it answers `pass_through`, so the server behind it
/// keeps the last word on what is malformed.
class request_scanner {
 public:
  /// A scanner for heads of at most `max_head` bytes and bodies of at most
  /// `max_body` bytes.
  request_scanner(std::size_t max_head, std::size_t max_body);

  /// Returns the state of the request whose bytes so far are `data`. Each
  /// call must pass the bytes of the previous call plus any new ones; the
  /// scan resumes where the previous one stopped.
  request_state scan(const std::string& data);

  /// Returns the size of the head including its empty line; 0 until seen.
  std::size_t head_size() const { return head_size_; }

  /// Returns true when the head asks `Expect: 100-continue` and a body is
  /// due, i.e. the client may wait for `100 Continue` before sending it.
  bool expects_continue() const { return expects_continue_; }

 private:
  enum class phase {
    head,
    fixed_body,
    // A POST or PUT with neither `Content-Length` nor `Transfer-Encoding`:
    // the body ends when the client shuts its side down.
    until_eof,
    chunk_size,
    chunk_data,
    chunk_end,
    trailer,
    done
  };

  request_state scan_head(const std::string& data);
  request_state scan_chunks(const std::string& data);

  std::size_t max_head_;
  std::size_t max_body_;
  phase phase_ = phase::head;
  std::size_t pos_ = 0;  // The next byte to examine.
  std::size_t head_size_ = 0;
  std::size_t body_end_ = 0;    // With `Content-Length`: where the request ends.
  std::size_t chunk_left_ = 0;  // Bytes of the current chunk still to come.
  std::size_t decoded_ = 0;     // Body bytes in the chunks seen so far.
  bool expects_continue_ = false;
  request_state last_ = request_state::incomplete;
};

}  // namespace agora::observability::detail
