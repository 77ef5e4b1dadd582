// Fuzz target: HTTP request handling of Agora's daemons.
//
// Input: the raw bytes a client sends. They go to a real `http_server`
// (civetweb underneath, as in agora-master and agora-agent) on loopback,
// whose routes cover what the server does before and around a handler:
// request-line and header parsing, the refusal of NULs and ambiguous body
// lengths, URL decoding, exact and prefix routes, 404/405/HEAD, body limits,
// query parameters, a throwing handler, and the agent's `/files/read`
// (`read_sandbox_file` on a scratch work directory, with the agent's
// parameter handling). The input is also given to `url_decode` and to the
// query-parameter parser directly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "agora/agent/sandbox_files.hpp"
#include "agora/observability/http_server.hpp"
#include "agora/observability/json.hpp"

namespace {

using agora::observability::http_request;
using agora::observability::http_response;
using agora::observability::http_server;
using agora::observability::json_quote;

http_response echo(const http_request& req) {
  return http_response::json("{\"method\":" + json_quote(req.method) + ",\"path\":" +
                             json_quote(req.path) + ",\"a\":" + json_quote(req.param("a", "none")) +
                             ",\"b\":" + (req.has_param("b") ? "true" : "false") +
                             ",\"body_bytes\":" + std::to_string(req.body.size()) + "}");
}

// The agent's `/files/read` handler (agents/agora/agent/agent_actor.cpp).
http_response files_read(const std::string& work_dir, const http_request& req) {
  int64_t offset = 0;
  int64_t length = -1;
  try {
    offset = std::stoll(req.param("offset", "0"));
    length = std::stoll(req.param("length", "-1"));
  } catch (const std::exception&) {
    return http_response::error(400, "'offset' and 'length' must be integers");
  }
  auto c = agora::agent::read_sandbox_file(work_dir, req.param("path"), offset, length);
  if (c.status != 200) return http_response::error(c.status, c.error);
  return http_response::json("{\"data\":" + json_quote(c.data) +
                             ",\"offset\":" + std::to_string(c.offset) + "}");
}

// A scratch work directory with one task sandbox and its `stdout`, removed
// at exit.
struct scratch_work_dir {
  std::string path;
  scratch_work_dir() {
    char pattern[] = "/tmp/agora-http-fuzz-XXXXXX";
    if (mkdtemp(pattern) == nullptr) std::abort();
    path = pattern;
    std::string sandbox = path + "/frameworks/fw-1/tasks/t-1";
    std::filesystem::create_directories(sandbox);
    std::ofstream(sandbox + "/stdout") << "hello from a task\n";
  }
  ~scratch_work_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

http_server& server() {
  static std::unique_ptr<http_server> s = [] {
    std::string error;
    auto started = http_server::start("127.0.0.1", 0, error, 2);
    if (!started) {
      std::fprintf(stderr, "http fuzz: %s\n", error.c_str());
      std::abort();
    }
    static scratch_work_dir scratch;
    auto work_dir = scratch.path;
    started->route("GET", "/health",
                   [](const http_request&) { return http_response::json("{\"status\":\"ok\"}"); });
    started->route("GET", "/echo", echo);
    started->route("POST", "/echo", echo);
    started->route("GET", "/prefix/*", echo);
    started->route("PUT", "/prefix/deeper/*", echo);
    started->route("GET", "/throw", [](const http_request&) -> http_response {
      throw std::runtime_error("handler failed");
    });
    started->route("GET", "/redirect", [](const http_request& req) {
      return http_response::redirect(307, "http://127.0.0.1:1" + req.path, "not the leader");
    });
    started->route("GET", "/files/read",
                   [work_dir](const http_request& req) { return files_read(work_dir, req); });
    return started;
  }();
  return *s;
}

// Sends `bytes` to the server, closes the sending side and reads the
// response until the server closes the connection.
void exchange(const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server().port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("http fuzz: connect");
    std::abort();
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // The server may close early (e.g. after a 413).
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char buf[4096];
  while (recv(fd, buf, sizeof(buf), 0) > 0) {
  }
  close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)agora::observability::url_decode(bytes);
  (void)agora::observability::url_decode(bytes, false);
  http_request req;
  req.query = bytes;
  (void)req.param("a");
  (void)req.has_param("b");
  exchange(bytes);
  return 0;
}
