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

namespace agora::observability {

namespace {

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

http_result http_call(const std::string& method, const std::string& host, uint16_t port,
                      const std::string& path, const std::string& body,
                      std::chrono::milliseconds timeout, const std::string& content_type,
                      const std::map<std::string, std::string>& headers) {
  http_result result;
  auto deadline = clock_type::now() + timeout;
  int fd = connect_to(host, port, deadline, result.error);
  if (fd < 0) return result;

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
    auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        result.error = "timed out sending the request";
        ::close(fd);
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
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      eof = true;
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!wait_fd(fd, POLLIN, deadline)) {
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
  ::close(fd);

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
