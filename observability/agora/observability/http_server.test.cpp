#include "agora/observability/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "agora/observability/metrics.hpp"

namespace agora::observability {
namespace {

// A minimal blocking HTTP client on a raw socket, so tests control exactly
// what goes over the wire.
struct raw_response {
  bool ok = false;  // A complete status line and headers were received.
  int status = 0;
  std::map<std::string, std::string> headers;  // Names in lower case.
  std::string body;
  std::string raw;
};

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // The server may close early (e.g. 413).
    sent += static_cast<std::size_t>(n);
  }
}

raw_response parse(std::string raw) {
  raw_response r;
  r.raw = raw;
  auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  auto head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  std::size_t line_end = head.find("\r\n");
  auto status_line = head.substr(0, line_end);
  if (status_line.compare(0, 5, "HTTP/") != 0) return r;
  r.status = std::atoi(status_line.c_str() + status_line.find(' ') + 1);
  while (line_end != std::string::npos) {
    auto start = line_end + 2;
    line_end = head.find("\r\n", start);
    auto line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[name] = value;
  }
  r.ok = true;
  return r;
}

// Reads `fd` until the server closes it, closes it and parses the answer.
raw_response read_answer(int fd) {
  std::string raw;
  char buf[65536];
  for (;;) {
    auto n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return parse(std::move(raw));
}

// Sends `request` verbatim and reads until the server closes.
raw_response send_raw(uint16_t port, const std::string& request) {
  int fd = connect_to(port);
  if (fd < 0) return {};
  send_all(fd, request);
  return read_answer(fd);
}

raw_response request(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return send_raw(port, req);
}

class http_server_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server = http_server::start("127.0.0.1", 0, error);
    ASSERT_NE(server, nullptr) << error;
  }

  std::unique_ptr<http_server> server;
};

TEST_F(http_server_test, port_zero_binds_a_real_port) {
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
  int fd = connect_to(server->port());
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
}

TEST_F(http_server_test, routes_get_to_handler_with_length_and_connection_close) {
  server->route("GET", "/state", [](const http_request& req) {
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.path, "/state");
    EXPECT_EQ(req.query, "");
    return http_response::json("{\"agents\": 3}");
  });
  auto r = request(server->port(), "GET", "/state");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"agents\": 3}");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
  EXPECT_EQ(r.headers["connection"], "close");
}

TEST_F(http_server_test, http_1_0_clients_are_served) {
  server->route("GET", "/health", [](const http_request&) { return http_response::text("ok\n"); });
  auto r = send_raw(server->port(), "GET /health HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
}

TEST_F(http_server_test, query_is_raw_and_params_are_decoded) {
  server->route("GET", "/search", [](const http_request& req) {
    return http_response::json("{\"path\": \"" + json_escape(req.path) + "\", \"query\": \"" +
                               json_escape(req.query) + "\", \"q\": \"" +
                               json_escape(req.param("q")) + "\", \"n\": \"" +
                               json_escape(req.param("n", "10")) + "\"}");
  });
  auto r = request(server->port(), "GET", "/search?q=hello%20big+world&x=%26");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"path\": \"/search\", \"query\": \"q=hello%20big+world&x=%26\", "
            "\"q\": \"hello big world\", \"n\": \"10\"}");
}

TEST_F(http_server_test, post_body_reaches_handler) {
  server->route("POST", "/echo", [](const http_request& req) {
    return http_response{201, "application/octet-stream", req.method + ":" + req.body, "", {}, {}};
  });
  std::string body(100000, 'x');
  body[0] = '{';
  auto r = request(server->port(), "POST", "/echo", body);
  ASSERT_TRUE(r.ok) << r.raw.substr(0, 200);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(r.body, "POST:" + body);
}

TEST_F(http_server_test, request_headers_reach_the_handler_and_response_headers_are_sent_safely) {
  server->route("GET", "/h", [](const http_request& req) {
    http_response r = http_response::text(req.header("x-custom") + "|" + req.header("host") + "|" +
                                          req.header("absent"));
    r.headers = {{"Content-Security-Policy", "default-src 'self'"},
                 {"X-Injected", "a\r\nSet-Cookie: evil=1"},
                 {"Bad: Name", "v"},
                 {"X-Frame-Options", "DENY"}};
    return r;
  });
  auto r =
      send_raw(server->port(), "GET /h HTTP/1.1\r\nHost: example\r\nX-CUSTOM: Mixed Case\r\n\r\n");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.body, "Mixed Case|example|");
  EXPECT_EQ(r.headers["content-security-policy"], "default-src 'self'");
  EXPECT_EQ(r.headers["x-frame-options"], "DENY");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  // A header holding a line break is dropped whole, not split into two.
  EXPECT_EQ(r.headers.count("x-injected"), 0u) << r.raw;
  EXPECT_EQ(r.headers.count("set-cookie"), 0u) << r.raw;
  EXPECT_EQ(r.headers.count("bad"), 0u) << r.raw;
}

TEST_F(http_server_test, the_guard_runs_before_handlers_and_may_answer_instead) {
  int called = 0;
  server->route("GET", "/files/*", [&](const http_request& req) {
    ++called;
    return http_response::text("hello " + req.principal);
  });
  server->route("GET", "/open", [](const http_request&) { return http_response::text("open"); });
  std::vector<std::string> seen;
  std::mutex m;
  server->set_guard(
      [&](http_request& req, const std::string& route) -> std::optional<http_response> {
        {
          std::lock_guard<std::mutex> lock{m};
          seen.push_back(route);
        }
        if (route == "/open") return std::nullopt;
        if (req.header("authorization") != "Bearer t") {
          auto r = http_response::error(401, "authentication required");
          r.headers = {{"WWW-Authenticate", "Basic realm=\"agora\""}};
          return r;
        }
        req.principal = "ops";
        return std::nullopt;
      });
  auto denied = send_raw(server->port(), "GET /files/x HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(denied.ok) << denied.raw;
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.headers["www-authenticate"], "Basic realm=\"agora\"");
  EXPECT_EQ(called, 0);
  auto allowed = send_raw(server->port(),
                          "GET /files/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n\r\n");
  EXPECT_EQ(allowed.body, "hello ops");
  EXPECT_EQ(called, 1);
  EXPECT_EQ(send_raw(server->port(), "GET /open HTTP/1.1\r\nHost: h\r\n\r\n").body, "open");
  // Unmatched paths never reach the guard (404 as before).
  EXPECT_EQ(send_raw(server->port(), "GET /nothing HTTP/1.1\r\nHost: h\r\n\r\n").status, 404);
  std::lock_guard<std::mutex> lock{m};
  EXPECT_EQ(seen, (std::vector<std::string>{"/files/*", "/files/*", "/open"}));
}

TEST_F(http_server_test, chunked_request_body_is_decoded) {
  server->route("POST", "/echo",
                [](const http_request& req) { return http_response::text(req.body); });
  auto r = send_raw(server->port(),
                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
}

TEST_F(http_server_test, a_nul_in_the_path_is_a_400_not_a_shorter_path) {
  bool called = false;
  server->route("GET", "/health", [&](const http_request&) {
    called = true;
    return http_response::json("{}");
  });
  auto r = request(server->port(), "GET", "/health%00x");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("NUL"), std::string::npos) << r.body;
  EXPECT_FALSE(called);
  EXPECT_EQ(request(server->port(), "GET", "/health").status, 200);
}

TEST_F(http_server_test, an_ambiguous_body_length_is_a_400) {
  bool called = false;
  server->route("POST", "/echo", [&](const http_request& req) {
    called = true;
    return http_response::text(req.body);
  });
  auto twice = send_raw(server->port(),
                        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        "Content-Length: 11\r\n\r\nhello world");
  ASSERT_TRUE(twice.ok) << twice.raw;
  EXPECT_EQ(twice.status, 400);
  EXPECT_NE(twice.body.find("Content-Length"), std::string::npos) << twice.body;
  auto both = send_raw(server->port(),
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  if (both.ok) {
    EXPECT_EQ(both.status, 400);  // civetweb may refuse it first
  }
  EXPECT_FALSE(called);
}

TEST_F(http_server_test, unknown_path_is_a_404_json_error_naming_the_path) {
  server->route("GET", "/state", [](const http_request&) { return http_response::json("{}"); });
  auto r = request(server->port(), "GET", "/nope?x=1");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body, "{\"error\": \"no such path: /nope\", \"status\": 404}");
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
}

TEST_F(http_server_test, wrong_method_is_a_405_json_error_with_allow) {
  server->route("GET", "/state", [](const http_request&) { return http_response::json("{}"); });
  server->route("PUT", "/state", [](const http_request&) { return http_response::json("{}"); });
  auto r = request(server->port(), "DELETE", "/state");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, PUT");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            "{\"error\": \"method DELETE not allowed for /state (allowed: GET, PUT)\", "
            "\"status\": 405}");
}

TEST_F(http_server_test, head_is_served_by_get_without_body) {
  server->route("GET", "/state",
                [](const http_request&) { return http_response::json("{\"a\":1}"); });
  auto r = request(server->port(), "HEAD", "/state");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "7");
  EXPECT_EQ(r.body, "");
}

TEST_F(http_server_test, prefix_routes_longest_wins_and_exact_beats_prefix) {
  auto reply = [](std::string tag) {
    return [tag](const http_request& req) { return http_response::text(tag + " " + req.path); };
  };
  server->route("GET", "*", reply("ui"));
  server->route("GET", "/files/*", reply("files"));
  server->route("GET", "/files/special/*", reply("special"));
  server->route("GET", "/files/exact", reply("exact"));
  server->route("POST", "/api", reply("api"));
  EXPECT_EQ(request(server->port(), "GET", "/files/a/b.txt").body, "files /files/a/b.txt");
  EXPECT_EQ(request(server->port(), "GET", "/files/").body, "files /files/");
  EXPECT_EQ(request(server->port(), "GET", "/files/special/x").body, "special /files/special/x");
  EXPECT_EQ(request(server->port(), "GET", "/files/exact").body, "exact /files/exact");
  EXPECT_EQ(request(server->port(), "GET", "/files").body, "ui /files");
  EXPECT_EQ(request(server->port(), "GET", "/index.html").body, "ui /index.html");
  // An exact route without the method falls back to a prefix route that has it.
  EXPECT_EQ(request(server->port(), "GET", "/api").body, "ui /api");
  EXPECT_EQ(request(server->port(), "POST", "/api").body, "api /api");
  // No candidate has DELETE: 405, allowing the union of the candidates' methods.
  auto r = request(server->port(), "DELETE", "/api");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST");
}

TEST_F(http_server_test, path_is_url_decoded) {
  server->route("GET", "/files/*",
                [](const http_request& req) { return http_response::text(req.path); });
  EXPECT_EQ(request(server->port(), "GET", "/files/a%20b").body, "/files/a b");
}

TEST_F(http_server_test, routes_added_later_replace_and_extend) {
  auto r = request(server->port(), "GET", "/late");
  EXPECT_EQ(r.status, 404);
  server->route("GET", "/late", [](const http_request&) { return http_response::text("v1"); });
  EXPECT_EQ(request(server->port(), "GET", "/late").body, "v1");
  server->route("GET", "/late", [](const http_request&) { return http_response::text("v2"); });
  EXPECT_EQ(request(server->port(), "GET", "/late").body, "v2");
}

TEST_F(http_server_test, throwing_handler_is_a_500_json_error_and_server_survives) {
  server->route("GET", "/boom", [](const http_request&) -> http_response {
    throw std::runtime_error("the \"allocator\" broke");
  });
  server->route("GET", "/int", [](const http_request&) -> http_response { throw 42; });
  server->route("GET", "/ok", [](const http_request&) { return http_response::json("{}"); });
  auto r = request(server->port(), "GET", "/boom");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            "{\"error\": \"internal error: the \\\"allocator\\\" broke\", \"status\": 500}");
  auto r2 = request(server->port(), "GET", "/int");
  EXPECT_EQ(r2.status, 500);
  EXPECT_EQ(r2.body, "{\"error\": \"internal error: unknown exception\", \"status\": 500}");
  EXPECT_EQ(request(server->port(), "GET", "/ok").status, 200);
}

TEST_F(http_server_test, invalid_status_from_handler_is_a_500) {
  server->route("GET", "/bad", [](const http_request&) { return http_response::json("{}", 7); });
  EXPECT_EQ(request(server->port(), "GET", "/bad").status, 500);
}

TEST_F(http_server_test, body_of_exactly_one_mib_is_accepted) {
  server->route("POST", "/size", [](const http_request& req) {
    return http_response::json(std::to_string(req.body.size()));
  });
  auto r = request(server->port(), "POST", "/size", std::string(http_server::max_body_size, 'a'));
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "1048576");
}

TEST_F(http_server_test, declared_body_over_one_mib_is_a_413_without_calling_handler) {
  std::atomic<int> calls{0};
  server->route("POST", "/size", [&](const http_request&) {
    ++calls;
    return http_response::json("{}");
  });
  // Only the headers and a little of the declared 2 MiB body are sent.
  auto r = send_raw(server->port(),
                    "POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\nabc");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body, "{\"error\": \"request body larger than 1048576 bytes\", \"status\": 413}");
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(http_server_test, sent_body_over_one_mib_is_a_413) {
  server->route("POST", "/size", [](const http_request&) { return http_response::json("{}"); });
  auto r =
      request(server->port(), "POST", "/size", std::string(http_server::max_body_size + 1, 'a'));
  ASSERT_TRUE(r.ok) << r.raw.substr(0, 200);
  EXPECT_EQ(r.status, 413);
}

TEST_F(http_server_test, chunked_body_over_one_mib_is_a_413) {
  server->route("POST", "/size", [](const http_request&) { return http_response::json("{}"); });
  std::string chunk(64 * 1024, 'z');
  std::string req = "POST /size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 17; ++i) req += "10000\r\n" + chunk + "\r\n";  // 17 * 64 KiB > 1 MiB.
  req += "0\r\n\r\n";
  auto r = send_raw(server->port(), req);
  ASSERT_TRUE(r.ok) << r.raw.substr(0, 200);
  EXPECT_EQ(r.status, 413);
}

TEST_F(http_server_test, handlers_run_concurrently) {
  // Each `/rendezvous` request waits (bounded) until two are in flight at
  // once; with a single worker neither would ever see the other.
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  server->route("GET", "/rendezvous", [&](const http_request&) {
    std::unique_lock lock(m);
    ++arrived;
    cv.notify_all();
    bool met = cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived >= 2; });
    return http_response::json(met ? "true" : "false");
  });
  raw_response a, b;
  std::thread ta([&] { a = request(server->port(), "GET", "/rendezvous"); });
  std::thread tb([&] { b = request(server->port(), "GET", "/rendezvous"); });
  ta.join();
  tb.join();
  EXPECT_EQ(a.body, "true");
  EXPECT_EQ(b.body, "true");
}

TEST_F(http_server_test, many_concurrent_clients_get_their_own_answers) {
  server->route("GET", "/id",
                [](const http_request& req) { return http_response::text(req.param("i")); });
  constexpr int clients = 8;
  constexpr int per_client = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < per_client; ++i) {
        auto id = std::to_string(c * 1000 + i);
        auto r = request(server->port(), "GET", "/id?i=" + id);
        if (r.ok && r.status == 200 && r.body == id) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), clients * per_client);
}

TEST_F(http_server_test, serve_metrics_exposes_a_registry) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family =
      prometheus::BuildCounter().Name("agora_requests_total").Help("Requests.").Register(*registry);
  auto& counter = family.Add({});
  serve_metrics(*server, registry);
  counter.Increment(5);
  auto r = request(server->port(), "GET", "/metrics");
  ASSERT_TRUE(r.ok) << r.raw;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("agora_requests_total 5"), std::string::npos) << r.body;
}

/// Returns the value of the series `name{labels}` in `families` (a
/// counter's value, or a histogram's sample count), or -1 if absent.
double series(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      return f.type == prometheus::MetricType::Histogram
                 ? static_cast<double>(m.histogram.sample_count)
                 : m.counter.value;
    }
  }
  return -1;
}

TEST_F(http_server_test, requests_are_counted_by_route_method_and_status) {
  server->route("GET", "/state", [](const http_request&) { return http_response::json("{}"); });
  server->route("GET", "/files/*", [](const http_request&) { return http_response::json("{}"); });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(request(server->port(), "GET", "/state").status, 200);
  EXPECT_EQ(request(server->port(), "POST", "/state").status, 405);
  // Prefix routes are one series, whatever the path; unknown paths another.
  EXPECT_EQ(request(server->port(), "GET", "/files/a").status, 200);
  EXPECT_EQ(request(server->port(), "GET", "/files/b/c").status, 200);
  EXPECT_EQ(request(server->port(), "GET", "/nope-1").status, 404);
  EXPECT_EQ(request(server->port(), "GET", "/nope-2").status, 404);
  auto m = server->collect_metrics();
  const char* total = "agora_http_requests_total";
  EXPECT_EQ(series(m, total, {{"handler", "/state"}, {"method", "GET"}, {"code", "200"}}), 3);
  EXPECT_EQ(series(m, total, {{"handler", "/state"}, {"method", "POST"}, {"code", "405"}}), 1);
  EXPECT_EQ(series(m, total, {{"handler", "/files/*"}, {"method", "GET"}, {"code", "200"}}), 2);
  EXPECT_EQ(series(m, total, {{"handler", "unmatched"}, {"method", "GET"}, {"code", "404"}}), 2);
  EXPECT_EQ(series(m, "agora_http_request_duration_seconds", {{"handler", "/state"}}), 4);
  EXPECT_EQ(series(m, "agora_http_request_duration_seconds", {{"handler", "/files/*"}}), 2);
}

TEST_F(http_server_test, works_with_curl) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  server->route("POST", "/echo", [](const http_request& req) {
    return http_response::json("{\"len\": " + std::to_string(req.body.size()) + ", \"q\": \"" +
                               json_escape(req.param("q")) + "\"}");
  });
  server->route("POST", "/big", [](const http_request&) { return http_response::json("{}"); });
  // A 5000-byte body makes curl send `Expect: 100-continue`.
  std::string cmd =
      "head -c 5000 /dev/zero | /usr/bin/curl -sS --max-time 20 -o - -w ' %{http_code}' "
      "--data-binary @- 'http://127.0.0.1:" +
      std::to_string(server->port()) + "/echo?q=a%20b' 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (auto n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    pclose(p);
  }
  EXPECT_EQ(out, "{\"len\": 5000, \"q\": \"a b\"} 200");
  cmd =
      "head -c 2000000 /dev/zero | /usr/bin/curl -sS --max-time 20 -o - -w ' %{http_code}' "
      "--data-binary @- 'http://127.0.0.1:" +
      std::to_string(server->port()) + "/big' 2>&1";
  out.clear();
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (auto n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    pclose(p);
  }
  EXPECT_EQ(out, "{\"error\": \"request body larger than 1048576 bytes\", \"status\": 413} 413");
}

TEST(http_server, binding_a_port_in_use_fails_naming_the_address) {
  std::string error;
  auto first = http_server::start("127.0.0.1", 0, error);
  ASSERT_NE(first, nullptr) << error;
  // civetweb must print nothing to stdout on the failed bind: capture fd 1.
  std::fflush(stdout);
  int saved = dup(1);
  FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  dup2(fileno(capture), 1);
  auto second = http_server::start("127.0.0.1", first->port(), error);
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  std::fseek(capture, 0, SEEK_END);
  long printed = std::ftell(capture);
  std::fclose(capture);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(error, "cannot listen on 127.0.0.1:" + std::to_string(first->port()) +
                       ": Address already in use");
  EXPECT_EQ(printed, 0);
}

TEST(http_server, unresolvable_host_fails_with_a_clear_error) {
  std::string error;
  auto server = http_server::start("no-such-host.invalid", 0, error);
  EXPECT_EQ(server, nullptr);
  EXPECT_NE(error.find("no-such-host.invalid:0"), std::string::npos) << error;
}

TEST(http_server, ipv6_either_works_or_fails_clearly) {
  // Debian's civetweb 1.15 is built without IPv6 support.
  std::string error;
  auto server = http_server::start("::1", 0, error);
  if (server) {
    EXPECT_EQ(server->address(), "[::1]:" + std::to_string(server->port()));
  } else {
    EXPECT_EQ(error,
              "cannot listen on [::1]:0: IPv6 addresses are not supported by this civetweb build");
  }
}

TEST(http_server, host_names_are_resolved) {
  std::string error;
  auto server = http_server::start("localhost", 0, error);
  ASSERT_NE(server, nullptr) << error;
  server->route("GET", "/x", [](const http_request&) { return http_response::text("y"); });
  EXPECT_EQ(request(server->port(), "GET", "/x").body, "y");
}

// Opens a connection to 127.0.0.1:`port` from the loopback address `source`
// (Linux routes all of 127.0.0.0/8 to the loopback interface, so tests can
// play clients on distinct addresses); returns -1 on failure.
int connect_from(const std::string& source, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  if (inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `GET /health` on a fresh connection from 127.0.0.1 and reads the
// answer, giving up after `limit`; returns the response and how long it took.
std::pair<raw_response, std::chrono::milliseconds> timed_health(uint16_t port,
                                                                std::chrono::milliseconds limit) {
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  };
  int fd = connect_to(port);
  if (fd < 0) return {raw_response{}, elapsed()};
  timeval tv{static_cast<time_t>(limit.count() / 1000),
             static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw;
  char buf[4096];
  while (elapsed() < limit) {
    auto n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return {parse(std::move(raw)), elapsed()};
}

// Clients that each trickle a request head, one byte every 200 ms, from
// their own loopback address (127.0.0.2, 127.0.0.3, ...), until stopped.
// The head is longer than the bytes they get to send, so it never ends.
class slow_clients {
 public:
  slow_clients(uint16_t port, int count) {
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this, port, i] { trickle(port, "127.0.0." + std::to_string(i + 2)); });
    }
  }

  ~slow_clients() { stop(); }

  /// Waits (at most 10 s) until every client has sent at least `bytes`
  /// bytes; returns false on timeout or when a client failed.
  bool wait_until_each_sent(int bytes) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      if (failed_ > 0) return true;
      for (int n : sent_)
        if (n < bytes) return false;
      return true;
    }) && failed_ == 0;
  }

  /// Stops and joins the clients; returns how many could not connect or saw
  /// their connection closed while trickling.
  int stop() {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    return failed_;
  }

 private:
  void trickle(uint16_t port, const std::string& source) {
    std::size_t index;
    {
      std::lock_guard lock(m_);
      index = sent_.size();
      sent_.push_back(0);
    }
    // 200+ bytes: 40 s of trickling, far beyond any run of the test.
    const std::string head =
        "GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + std::string(160, 's') + "\r\n";
    int fd = connect_from(source, port);
    std::unique_lock lock(m_);
    for (std::size_t i = 0; fd >= 0 && !stopping_ && i < head.size(); ++i) {
      lock.unlock();
      bool ok = ::send(fd, head.data() + i, 1, MSG_NOSIGNAL) == 1;
      lock.lock();
      if (!ok) break;
      ++sent_[index];
      cv_.notify_all();
      // The trickle itself: the pause between bytes is the behaviour under
      // test, cut short when the test stops.
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_; });
    }
    if (!stopping_) ++failed_;
    cv_.notify_all();
    lock.unlock();
    if (fd >= 0) close(fd);
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::vector<int> sent_;
  int failed_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// 30 clients trickle request heads from 30 addresses for about 3 s; in that
// time `/health` from a fresh client answers 200 within 1 s, 15 times in a
// row. Before the front, 2 (agent) or 4 (master) trickling clients held
// every civetweb worker and no probe was answered.
void health_answers_while_30_clients_trickle(int threads) {
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, threads);
  ASSERT_NE(server, nullptr) << error;
  server->route("GET", "/health",
                [](const http_request&) { return http_response::json("{\"status\":\"ok\"}"); });
  slow_clients slow(server->port(), 30);
  // 15 probes, each once every slow client has sent one more byte (at
  // 200 ms a byte, the probes span about 3 s of held connections).
  for (int round = 1; round <= 15; ++round) {
    ASSERT_TRUE(slow.wait_until_each_sent(round)) << "the slow clients could not trickle";
    auto [r, took] = timed_health(server->port(), std::chrono::milliseconds(1000));
    EXPECT_TRUE(r.ok) << "round " << round << ": no answer within " << took.count() << " ms";
    EXPECT_EQ(r.status, 200) << "round " << round;
    EXPECT_LT(took.count(), 1000) << "round " << round;
  }
  // The slow clients were held, not refused, while `/health` answered.
  EXPECT_EQ(slow.stop(), 0);
}

// A large body shared with a cache (as `/state`'s) reaches clients whole
// and in order, through the front's pieces, also when the clients read
// nothing at first: the front takes each response whole and frees the
// worker, so more such clients than workers still leave the server
// answering.
TEST(http_server, large_shared_bodies_arrive_whole_while_their_clients_do_not_read) {
  std::string error;
  // Declared before the server, which outlives them otherwise.
  std::mutex mutex;
  std::condition_variable changed;
  int served = 0;
  auto server = http_server::start("127.0.0.1", 0, error, 2);
  ASSERT_NE(server, nullptr) << error;
  // Not periodic in any piece size: a piece lost, doubled or reordered
  // shows.
  auto body = std::make_shared<std::string>(24u << 20, '\0');
  for (std::size_t i = 0; i < body->size(); ++i)
    (*body)[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  std::shared_ptr<const std::string> shared = body;
  server->route("GET", "/big", [&](const http_request&) {
    {
      std::lock_guard lock(mutex);
      ++served;
    }
    changed.notify_all();
    return http_response::json(shared);
  });
  server->route("GET", "/health", [](const http_request&) { return http_response::text("ok\n"); });

  // Three clients (the server has two workers) ask and do not read yet.
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) {
    int fd = connect_to(server->port());
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    idle.push_back(fd);
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return served == 3; }))
        << "handlers run: " << served;
  }
  auto health = request(server->port(), "GET", "/health");
  ASSERT_TRUE(health.ok) << health.raw;
  EXPECT_EQ(health.body, "ok\n");

  for (int fd : idle) {
    auto r = read_answer(fd);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.headers["content-length"], std::to_string(body->size()));
    EXPECT_TRUE(r.body == *body) << "a body of " << r.body.size() << " bytes differs";
  }
  // A client that reads at once.
  auto fast = request(server->port(), "GET", "/big");
  ASSERT_TRUE(fast.ok);
  EXPECT_TRUE(fast.body == *body) << "a body of " << fast.body.size() << " bytes differs";
}

TEST(http_server, health_answers_within_a_second_while_30_slow_clients_hold_2_threads) {
  health_answers_while_30_clients_trickle(2);  // The agent's configuration.
}

TEST(http_server, health_answers_within_a_second_while_30_slow_clients_hold_4_threads) {
  health_answers_while_30_clients_trickle(4);  // The master's configuration.
}

// Trickles `request` one byte every 200 ms on `fd` until the server answers
// or closes (or 5 s pass); returns what it answered, how long that took
// and how many bytes were sent by then.
struct trickle_result {
  raw_response response;
  bool closed = false;  // The server closed (or reset) the connection.
  std::chrono::milliseconds took{0};
  std::size_t sent = 0;
};

trickle_result trickle_until_cut(int fd, const std::string& request) {
  trickle_result result;
  auto start = std::chrono::steady_clock::now();
  std::string raw;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    if (result.sent < request.size() &&
        ::send(fd, request.data() + result.sent, 1, MSG_NOSIGNAL) == 1)
      ++result.sent;
    // Waiting for the server's answer is also the pause between bytes.
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    auto n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    result.closed = true;
    break;
  }
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  result.response = parse(std::move(raw));
  return result;
}

TEST(http_server, a_client_trickling_its_head_is_cut_off_after_the_request_timeout) {
  http_server::options opts;
  opts.threads = 2;
  opts.request_timeout = std::chrono::milliseconds(1000);
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, opts);
  ASSERT_NE(server, nullptr) << error;
  server->route("GET", "/health", [](const http_request&) { return http_response::json("{}"); });
  int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  // A head far longer than the 5 s of bytes the client gets to send.
  auto r = trickle_until_cut(fd, "GET /health HTTP/1.1\r\nX-Slow: " + std::string(100, 'a'));
  close(fd);
  EXPECT_TRUE(r.closed) << "still connected after " << r.took.count() << " ms";
  ASSERT_TRUE(r.response.ok) << r.response.raw;
  EXPECT_EQ(r.response.status, 408);
  EXPECT_EQ(r.response.body,
            "{\"error\": \"request not received within 1000 ms\", \"status\": 408}");
  // Cut off after the 1 s bound (a byte every 200 ms: about 5 bytes sent),
  // although the client never stopped sending.
  EXPECT_GE(r.took.count(), 900);
  EXPECT_LT(r.took.count(), 2500);
  EXPECT_GE(r.sent, 4u);
  EXPECT_EQ(request(server->port(), "GET", "/health").status, 200);
}

TEST(http_server, a_client_trickling_its_body_is_cut_off_after_the_request_timeout) {
  // civetweb bounds a body only per read: before the front, this client
  // held a worker for as long as it kept sending.
  http_server::options opts;
  opts.threads = 2;
  opts.request_timeout = std::chrono::milliseconds(1000);
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, opts);
  ASSERT_NE(server, nullptr) << error;
  std::atomic<int> calls{0};
  server->route("POST", "/echo", [&](const http_request& req) {
    ++calls;
    return http_response::text(req.body);
  });
  int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
  send_all(fd, head);
  auto r = trickle_until_cut(fd, std::string(100, 'b'));
  close(fd);
  EXPECT_TRUE(r.closed);
  ASSERT_TRUE(r.response.ok) << r.response.raw;
  EXPECT_EQ(r.response.status, 408);
  EXPECT_GE(r.took.count(), 800);
  EXPECT_LT(r.took.count(), 2500);
  EXPECT_EQ(calls.load(), 0);  // No handler saw a partial body.
}

TEST(http_server, connections_beyond_the_per_client_limit_are_refused_at_once) {
  http_server::options opts;
  opts.threads = 2;
  opts.max_connections_per_client = 4;
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, opts);
  ASSERT_NE(server, nullptr) << error;
  server->route("GET", "/health", [](const http_request&) { return http_response::json("{}"); });
  // Four idle connections from 127.0.0.1 reach the limit (they are
  // accepted in order, before any later connection).
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(connect_to(server->port()));
    ASSERT_GE(held.back(), 0);
  }
  // A fifth from the same address gets 429 (or at least a closed
  // connection) well within a second, without sending anything.
  auto start = std::chrono::steady_clock::now();
  int fifth = connect_to(server->port());
  ASSERT_GE(fifth, 0);
  timeval tv{1, 0};
  setsockopt(fifth, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fifth, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  bool timed_out = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  close(fifth);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  EXPECT_FALSE(timed_out) << "the fifth connection was held";
  EXPECT_LT(took.count(), 1000);
  auto refused = parse(raw);
  if (refused.ok) {
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.body,
              "{\"error\": \"too many connections from 127.0.0.1\", \"status\": 429}");
  }
  // Other clients are still served, at once.
  int other = connect_from("127.0.0.2", server->port());
  ASSERT_GE(other, 0);
  send_all(other, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  raw.clear();
  while ((n = recv(other, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  close(other);
  EXPECT_EQ(parse(raw).status, 200) << raw;
  // Once one of the four closes, 127.0.0.1 is served again (the front
  // notices the close asynchronously: retry, bounded).
  close(held.back());
  held.pop_back();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline)
    status = request(server->port(), "GET", "/health").status;
  EXPECT_EQ(status, 200);
  for (int fd : held) close(fd);
  EXPECT_EQ(series(server->collect_metrics(), "agora_http_refused_total", {{"code", "429"}}), 1);
}

TEST(http_server, a_client_is_not_locked_out_by_slow_connections_from_its_own_address) {
  // Connections at the per-client limit that are still sending their
  // request after a second are the trickling kind: a new connection from
  // the same address (a NAT, a local health check) evicts the oldest
  // instead of being refused.
  http_server::options opts;
  opts.threads = 2;
  opts.max_connections_per_client = 4;
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, opts);
  ASSERT_NE(server, nullptr) << error;
  server->route("GET", "/health", [](const http_request&) { return http_response::json("{}"); });
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(connect_to(server->port()));
    ASSERT_GE(held.back(), 0);
    send_all(held.back(), "GET /health HTTP/1.1\r\n");  // and never the rest
  }
  // Bounded retries until the held ones are old enough to give way.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline)
    status = request(server->port(), "GET", "/health").status;
  EXPECT_EQ(status, 200);
  // The evicted connection is closed.
  int closed = 0;
  for (int fd : held) {
    char c;
    timeval tv{0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, &c, 1, 0);
    closed += n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  EXPECT_GE(closed, 1);
  for (int fd : held) close(fd);
}

TEST(http_server, stops_in_destructor_and_frees_the_port) {
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, 2);
  ASSERT_NE(server, nullptr) << error;
  uint16_t port = server->port();
  server.reset();
  EXPECT_LT(connect_to(port), 0);  // Nothing listens any more.
  auto again = http_server::start("127.0.0.1", port, error, 2);
  EXPECT_NE(again, nullptr) << error;
}

}  // namespace
}  // namespace agora::observability
