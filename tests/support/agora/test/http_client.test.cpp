#include "agora/test/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "agora/observability/http_server.hpp"
#include "agora/test/ports.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;
namespace obs = agora::observability;

class http_client_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server = obs::http_server::start("127.0.0.1", 0, error);
    ASSERT_NE(server, nullptr) << error;
    server->route("GET", "/state", [](const obs::http_request& req) {
      return obs::http_response::json("{\"who\": \"" + obs::json_escape(req.param("who", "all")) +
                                      "\"}");
    });
    server->route("POST", "/echo", [](const obs::http_request& req) {
      return obs::http_response{202, "text/plain", "got " + req.body, "", {}, {}};
    });
  }

  std::unique_ptr<obs::http_server> server;
};

TEST_F(http_client_test, get_returns_status_body_and_headers) {
  auto r = http_get("127.0.0.1", server->port(), "/state?who=me%20too");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"who\": \"me too\"}");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(r.error.empty());
}

TEST_F(http_client_test, post_sends_the_body) {
  auto r = http_post("127.0.0.1", server->port(), "/echo", "{\"x\": 1}");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "got {\"x\": 1}");
}

TEST_F(http_client_test, large_bodies_both_ways) {
  std::string big(300000, 'q');
  auto r = http_post("127.0.0.1", server->port(), "/echo", big);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "got " + big);
}

TEST_F(http_client_test, error_statuses_are_complete_responses) {
  auto r = http_get("127.0.0.1", server->port(), "/missing");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\": \"no such path: /missing\", \"status\": 404}");
  auto r2 = http_post("127.0.0.1", server->port(), "/state", "");
  EXPECT_TRUE(r2.ok);
  EXPECT_EQ(r2.status, 405);
}

TEST_F(http_client_test, head_has_no_body) {
  auto r = http_request("HEAD", "127.0.0.1", server->port(), "/state");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(http_client_test, host_names_resolve) {
  auto r = http_get("localhost", server->port(), "/state");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
}

TEST(http_client, connection_refused_is_not_ok_and_says_why) {
  auto port = free_port();  // Nothing listens there.
  auto r = http_get("127.0.0.1", port, "/state", 2s);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("Connection refused"), std::string::npos) << r.error;
}

// A listening socket that never accepts: connects succeed (backlog), but no
// response ever comes.
struct silent_listener {
  silent_listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd, 8);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~silent_listener() { close(fd); }
  int fd = -1;
  uint16_t port = 0;
};

TEST(http_client, silent_server_times_out_within_the_bound) {
  silent_listener listener;
  auto t0 = std::chrono::steady_clock::now();
  auto r = http_get("127.0.0.1", listener.port, "/state", 300ms);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
}

// Serves one connection with a canned `response`, then closes.
void serve_once(int listen_fd, std::string response) {
  int c = accept(listen_fd, nullptr, nullptr);
  if (c < 0) return;
  char buf[4096];
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos) {
    auto n = recv(c, buf, sizeof(buf), 0);
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  send(c, response.data(), response.size(), MSG_NOSIGNAL);
  close(c);
}

TEST(http_client, decodes_chunked_responses) {
  silent_listener listener;
  std::thread server(serve_once, listener.fd,
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n");
  auto r = http_get("127.0.0.1", listener.port, "/", 5s);
  server.join();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "Wikipedia in \r\n\r\nchunks.");
}

TEST(http_client, reads_until_close_without_content_length) {
  silent_listener listener;
  std::thread server(serve_once, listener.fd, "HTTP/1.0 200 OK\r\n\r\nall of it");
  auto r = http_get("127.0.0.1", listener.port, "/", 5s);
  server.join();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "all of it");
}

TEST(http_client, truncated_body_is_not_ok) {
  silent_listener listener;
  std::thread server(serve_once, listener.fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  auto r = http_get("127.0.0.1", listener.port, "/", 5s);
  server.join();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error, "incomplete body");
}

}  // namespace
}  // namespace agora::test
