// HTTPS: the HTTP server's front terminating TLS, and the HTTP client
// speaking it, with certificates made by the `openssl` command.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "agora/observability/http_client.hpp"
#include "agora/observability/http_server.hpp"
#include "agora/test/basp_probe.hpp"
#include "agora/test/temp_dir.hpp"
#include "agora/test/tls_files.hpp"

namespace agora::observability {
namespace {

using namespace std::chrono_literals;

const test::tls_files& files() {
  static test::temp_dir dir{"agora-https-test"};
  static test::tls_files f = test::make_tls_files(dir.path());
  return f;
}

/// A server on a free port, HTTPS with `id` (plain without), answering
/// `GET /hello` and echoing `POST /echo`; the client is plain HTTP
/// until a test says otherwise.
struct https_fixture : ::testing::Test {
  std::unique_ptr<http_server> server;

  void start(const test::tls_identity* id,
             std::chrono::milliseconds request_timeout = std::chrono::seconds{10}) {
    http_server::options opts;
    opts.threads = 2;
    opts.request_timeout = request_timeout;
    if (id != nullptr) {
      opts.tls_cert_file = id->cert;
      opts.tls_key_file = id->key;
    }
    std::string error;
    server = http_server::start("127.0.0.1", 0, error, opts);
    ASSERT_TRUE(server) << error;
    server->route("GET", "/hello",
                  [](const http_request&) { return http_response::json("{\"hello\":true}"); });
    server->route("POST", "/echo", [](const http_request& req) {
      http_response r;
      r.content_type = "application/octet-stream";
      r.body = req.body;
      return r;
    });
  }

  void SetUp() override { use_plain_http(); }
  void TearDown() override { use_plain_http(); }
};

/// Runs `command` in a shell; returns its output (stdout and stderr).
std::string shell(const std::string& command) {
  std::string out;
  if (FILE* p = popen((command + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (auto n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    pclose(p);
  }
  return out;
}

TEST_F(https_fixture, a_client_of_the_cluster_gets_and_posts_over_https) {
  start(&files().node);
  const auto& id = files().other_node;
  ASSERT_EQ(use_https(id.cert, id.key, id.ca), "");
  EXPECT_TRUE(https_enabled());
  auto r = http_get("127.0.0.1", server->port(), "/hello");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"hello\":true}");
  // 900 KB each way: many TLS records, partial writes and reads beyond
  // one read budget, through the front and back.
  std::string big(900 * 1000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  r = http_post("127.0.0.1", server->port(), "/echo", big, 20s, "application/octet-stream");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == big) << "the echo differs, " << r.body.size() << " bytes";
}

TEST_F(https_fixture, curl_with_the_ca_is_served_and_without_it_refuses_the_server) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  start(&files().node);
  auto url = "https://127.0.0.1:" + std::to_string(server->port()) + "/hello";
  EXPECT_EQ(shell("/usr/bin/curl -sS --max-time 10 -w ' %{http_code}' --cacert " + files().ca +
                  " " + url),
            "{\"hello\":true} 200");
  // The system's CAs do not know the cluster's.
  auto out = shell("/usr/bin/curl -sS --max-time 10 " + url);
  EXPECT_NE(out.find("certificate"), std::string::npos) << out;
}

TEST_F(https_fixture, plain_http_on_the_https_port_is_refused_with_a_400) {
  start(&files().node);
  auto r = http_get("127.0.0.1", server->port(), "/hello");
  EXPECT_EQ(r.status, 400) << r.error << r.body;
  EXPECT_NE(r.body.find("this port speaks HTTPS"), std::string::npos) << r.body;
  // Bytes that are not even HTTP: closed, nothing served.
  int fd = test::send_basp_header(server->port(), 100);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(test::peer_closes(fd, 5s));
  ::close(fd);
}

TEST_F(https_fixture, the_client_refuses_a_server_of_another_ca) {
  test::tls_identity foreign{files().foreign.cert, files().foreign.key, files().foreign_ca};
  start(&foreign);
  const auto& id = files().node;
  ASSERT_EQ(use_https(id.cert, id.key, id.ca), "");
  auto r = http_get("127.0.0.1", server->port(), "/hello");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("TLS handshake with 127.0.0.1:" + std::to_string(server->port()) +
                         " failed: certificate verify failed"),
            std::string::npos)
      << r.error;
}

TEST_F(https_fixture, an_https_client_does_not_talk_to_a_plain_server) {
  start(nullptr);
  const auto& id = files().node;
  ASSERT_EQ(use_https(id.cert, id.key, id.ca), "");
  auto r = http_get("127.0.0.1", server->port(), "/hello");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("TLS handshake with"), std::string::npos) << r.error;
}

TEST_F(https_fixture, a_silent_connection_is_closed_at_the_request_timeout) {
  start(&files().node, 300ms);
  int fd = test::connect_loopback(server->port());
  ASSERT_GE(fd, 0);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(test::peer_closes(fd, 5s));
  ::close(fd);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 250ms);
}

TEST(https, bad_files_fail_the_start_naming_the_file) {
  http_server::options opts;
  opts.tls_cert_file = "/nonexistent/node.pem";
  opts.tls_key_file = files().node.key;
  std::string error;
  auto server = http_server::start("127.0.0.1", 0, error, opts);
  EXPECT_FALSE(server);
  EXPECT_NE(error.find("cannot load the certificate '/nonexistent/node.pem'"), std::string::npos)
      << error;
  EXPECT_NE(use_https(files().node.cert, files().node.key, "/nonexistent/ca.pem"), "");
  EXPECT_FALSE(https_enabled());
}

}  // namespace
}  // namespace agora::observability
