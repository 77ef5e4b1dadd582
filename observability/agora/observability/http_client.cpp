#include "agora/observability/http_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "agora/observability/detail/tls.hpp"

namespace agora::observability {

namespace {

std::mutex https_mutex;
detail::ssl_context https_context;  // Guarded by `https_mutex`; null: plain HTTP.

detail::ssl_context current_https() {
  std::lock_guard<std::mutex> guard{https_mutex};
  return https_context;
}

using clock_type = std::chrono::steady_clock;

// Returns the milliseconds left until `deadline` (at least 0).
int millis_left(clock_type::time_point deadline) {
  // Rounded up, so a wait never ends before the deadline.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd` until `deadline`; returns false on timeout.
bool wait_fd(int fd, short events, clock_type::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, millis_left(deadline));
    if (rc > 0) return true;
    if (rc == 0) {
      if (clock_type::now() < deadline) continue;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

// Connects to `host:port` before `deadline`; returns the non-blocking socket
// or -1 with `error` set.
int connect_to(const std::string& host, uint16_t port, clock_type::time_point deadline,
               std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        error = "timed out connecting to " + host + ":" + service;
        ::close(fd);
        fd = -1;
        break;
      }
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc == 0) break;
    error = "cannot connect to " + host + ":" + service + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

/// The connection of one request: the socket, and its TLS session with
/// HTTPS. `send`/`recv` behave as the system calls, TLS's "try again" being
/// EAGAIN with `wait_for` saying which readiness to wait for.
struct channel {
  int fd = -1;
  SSL* ssl = nullptr;
  short wait_for = POLLIN;

  ~channel() {
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }

  ssize_t send(const char* buf, std::size_t len) {
    wait_for = POLLOUT;
    if (ssl == nullptr) return ::send(fd, buf, len, MSG_NOSIGNAL);
    ERR_clear_error();
    int n = SSL_write(ssl, buf, static_cast<int>(std::min<std::size_t>(len, 1 << 30)));
    return n > 0 ? n : tls_result(n);
  }

  ssize_t recv(char* buf, std::size_t len) {
    wait_for = POLLIN;
    if (ssl == nullptr) return ::recv(fd, buf, len, 0);
    ERR_clear_error();
    int n = SSL_read(ssl, buf, static_cast<int>(len));
    return n > 0 ? n : tls_result(n);
  }

  ssize_t tls_result(int ret) {
    switch (SSL_get_error(ssl, ret)) {
      case SSL_ERROR_WANT_READ:
        wait_for = POLLIN;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_WANT_WRITE:
        wait_for = POLLOUT;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
  }

  /// Runs the TLS handshake before `deadline`; false with `error` set.
  bool handshake(const std::string& where, clock_type::time_point deadline, std::string& error) {
    for (;;) {
      ERR_clear_error();
      int r = SSL_connect(ssl);
      if (r == 1) return true;
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          error = "timed out in the TLS handshake with " + where;
          return false;
        }
        continue;
      }
      auto reason = detail::ssl_reason();
      auto verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      error = "TLS handshake with " + where +
              " failed: " + (reason.empty() ? "the connection closed" : reason);
      return false;
    }
  }
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Decodes a chunked body; returns false if it is incomplete or malformed.
bool dechunk(const std::string& in, std::string& out) {
  std::size_t pos = 0;
  out.clear();
  for (;;) {
    auto line_end = in.find("\r\n", pos);
    if (line_end == std::string::npos) return false;
    char* end = nullptr;
    auto size_text = in.substr(pos, line_end - pos);
    unsigned long size = std::strtoul(size_text.c_str(), &end, 16);
    if (end == size_text.c_str()) return false;
    pos = line_end + 2;
    if (size == 0) return true;
    if (in.size() < pos + size + 2) return false;
    out.append(in, pos, size);
    pos += size + 2;
  }
}

// Parses the head of `raw` into `result`; returns the offset of the body or
// npos if the head is not complete.
std::size_t parse_head(const std::string& raw, http_result& result) {
  auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::string::npos;
  auto line_end = raw.find("\r\n");
  auto status_line = raw.substr(0, line_end);
  auto space = status_line.find(' ');
  if (status_line.compare(0, 5, "HTTP/") != 0 || space == std::string::npos) {
    result.error = "malformed status line: " + status_line;
    return std::string::npos;
  }
  result.status = std::atoi(status_line.c_str() + space + 1);
  result.headers.clear();
  std::size_t pos = line_end + 2;
  while (pos < end) {
    auto next = raw.find("\r\n", pos);
    auto line = raw.substr(pos, next - pos);
    pos = next + 2;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    result.headers[lower(line.substr(0, colon))] = value;
  }
  return end + 4;
}

}  // namespace

std::string use_https(const std::string& cert_file, const std::string& key_file,
                      const std::string& ca_file) {
  std::string error;
  auto ctx = detail::make_client_context(cert_file, key_file, ca_file, error);
  if (!ctx) return error;
  std::lock_guard<std::mutex> guard{https_mutex};
  https_context = std::move(ctx);
  return {};
}

void use_plain_http() {
  std::lock_guard<std::mutex> guard{https_mutex};
  https_context = nullptr;
}

bool https_enabled() { return current_https() != nullptr; }

http_result http_call(const std::string& method, const std::string& host, uint16_t port,
                      const std::string& path, const std::string& body,
                      std::chrono::milliseconds timeout, const std::string& content_type,
                      const std::map<std::string, std::string>& headers) {
  http_result result;
  auto deadline = clock_type::now() + timeout;
  channel ch;
  ch.fd = connect_to(host, port, deadline, result.error);
  if (ch.fd < 0) return result;
  if (auto tls = current_https()) {
    ch.ssl = SSL_new(tls.get());
    if (ch.ssl == nullptr || SSL_set_fd(ch.ssl, ch.fd) != 1) {
      result.error = "cannot start TLS: " + detail::ssl_reason();
      return result;
    }
    if (!ch.handshake(host + ":" + std::to_string(port), deadline, result.error)) return result;
  }

  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host + ":" +
                        std::to_string(port) + "\r\nConnection: close\r\nAccept: */*\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Type: " + content_type + "\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const auto& [name, value] : headers)
    if ((name + value).find_first_of("\r\n") == std::string::npos)
      request += name + ": " + value + "\r\n";
  request += "\r\n" + body;

  std::size_t sent = 0;
  while (sent < request.size()) {
    auto n = ch.send(request.data() + sent, request.size() - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_fd(ch.fd, ch.wait_for, deadline)) {
        result.error = "timed out sending the request";
        return result;
      }
    } else {
      // The server may answer early (e.g. 413) and close; read what it sent.
      break;
    }
  }

  std::string raw;
  std::size_t body_start = std::string::npos;
  char buf[16384];
  bool eof = false;
  for (;;) {
    auto n = ch.recv(buf, sizeof(buf));
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      eof = true;
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!wait_fd(ch.fd, ch.wait_for, deadline)) {
        result.error = "timed out waiting for the response";
        break;
      }
      continue;
    } else {
      if (!raw.empty())
        eof = true;  // A reset after the response: use what came.
      else
        result.error = std::string("receive failed: ") + std::strerror(errno);
      break;
    }
    // Stop early once a response with Content-Length is complete.
    if (body_start == std::string::npos) body_start = parse_head(raw, result);
    if (body_start != std::string::npos && method == "HEAD") break;
    if (body_start != std::string::npos) {
      auto it = result.headers.find("content-length");
      if (it != result.headers.end() &&
          raw.size() - body_start >= std::strtoull(it->second.c_str(), nullptr, 10))
        break;
    }
  }
  if (body_start == std::string::npos) body_start = parse_head(raw, result);
  if (body_start == std::string::npos) {
    if (result.error.empty())
      result.error = raw.empty() ? "no response" : "incomplete response head";
    result.status = 0;
    return result;
  }
  std::string payload = raw.substr(body_start);
  if (method == "HEAD") {
    // No body follows a HEAD response, whatever Content-Length says.
  } else if (lower(result.headers["transfer-encoding"]).find("chunked") != std::string::npos) {
    if (!dechunk(payload, result.body)) {
      result.error = "incomplete chunked body";
      return result;
    }
  } else if (auto it = result.headers.find("content-length"); it != result.headers.end()) {
    auto length = std::strtoull(it->second.c_str(), nullptr, 10);
    if (payload.size() < length) {
      if (result.error.empty()) result.error = "incomplete body";
      result.body = payload;
      return result;
    }
    result.body = payload.substr(0, length);
  } else {
    if (!eof) return result;  // Timed out before the server closed.
    result.body = payload;
  }
  result.ok = true;
  result.error.clear();
  return result;
}

http_result http_get(const std::string& host, uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout) {
  return http_call("GET", host, port, path, "", timeout);
}

http_result http_post(const std::string& host, uint16_t port, const std::string& path,
                      const std::string& body, std::chrono::milliseconds timeout,
                      const std::string& content_type) {
  return http_call("POST", host, port, path, body, timeout, content_type);
}

}  // namespace agora::observability
