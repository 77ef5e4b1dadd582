#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace agora::observability {

/// An HTTP request as seen by a handler of `http_server`.
struct http_request {
  /// The request method, e.g. `GET`.
  std::string method;
  /// The URL-decoded path without the query, e.g. `/state`.
  std::string path;
  /// The raw query string after `?` (not decoded; may be empty), e.g. `a=1&b=2`.
  std::string query;
  /// The request body (at most `http_server::max_body_size` bytes).
  std::string body;
  /// The request's headers, names in lower case (the last one of a name
  /// repeated).
  std::map<std::string, std::string> headers;
  /// Who sent it, as the server's guard authenticated it ("": anonymous,
  /// or no guard); see `http_server::set_guard`.
  std::string principal;

  /// Returns the value of header `name` (lower case), or "" when absent.
  std::string header(const std::string& name) const;

  /// Returns the URL-decoded value of the first query parameter `name`, or
  /// `fallback` when it is absent. A parameter without `=` has the value "".
  std::string param(const std::string& name, const std::string& fallback = "") const;

  /// Returns true if the query has a parameter `name` (with or without value).
  bool has_param(const std::string& name) const;
};

/// An HTTP response returned by a handler of `http_server`. The server adds
/// `Content-Length` and `Connection: close`.
struct http_response {
  /// The HTTP status code.
  int status = 200;
  /// The `Content-Type` header.
  std::string content_type = "application/json";
  /// The response body.
  std::string body;
  /// The `Location` header (redirects), empty: none.
  std::string location;
  /// Further headers (name, value), e.g. `Content-Security-Policy`. A pair
  /// holding CR or LF is dropped, not sent.
  std::vector<std::pair<std::string, std::string>> headers;
  /// A body shared with a cache, sent instead of `body` when set (a large
  /// document rendered once is not copied for each request).
  std::shared_ptr<const std::string> shared_body;

  /// Returns a JSON response with `body` (which must already be JSON).
  static http_response json(std::string body, int status = 200);
  /// As above, with a body shared with its cache (`shared_body`).
  static http_response json(std::shared_ptr<const std::string> body, int status = 200);

  /// The body sent: `shared_body` when set, else `body`.
  const std::string& payload() const { return shared_body ? *shared_body : body; }

  /// Returns a JSON error `{"error": "<message>", "status": <status>}`, with
  /// `message` properly escaped.
  static http_response error(int status, const std::string& message);

  /// Returns a redirect to `location` (e.g. 307 to the leading master) with
  /// a JSON body `{"error": "<message>", "status": <status>, "location": ...}`.
  static http_response redirect(int status, const std::string& location,
                                const std::string& message);

  /// Returns a plain-text response (e.g. Prometheus exposition format).
  static http_response text(std::string body,
                            std::string content_type = "text/plain; version=0.0.4; charset=utf-8");
};

/// Returns `s` with `%XX` escapes decoded and, when `plus_is_space`, `+`
/// turned into a space (as in query strings). Malformed escapes are kept.
std::string url_decode(const std::string& s, bool plus_is_space = true);

}  // namespace agora::observability
