// A secured cluster: agora-master, agora-agent and `agora` with `--tls-*`,
// their certificates made by the `openssl` command when the test runs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

/// Certificates for one test: a CA with two members, a foreign CA with
/// one. While they exist, this process's HTTP client (the fixture's checks
/// of `/health` and `/state`) speaks HTTPS to the cluster as a member.
struct certificates {
  temp_dir dir{"agora-tls"};
  tls_files files = make_tls_files(dir.path());
  certificates() {
    auto error = observability::use_https(files.other_node.cert, files.other_node.key, files.ca);
    if (!error.empty()) throw std::runtime_error(error);
  }
  ~certificates() { observability::use_plain_http(); }
};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// Runs `agora execute` of `command` against `c` with `extra` flags.
cli_run execute(const cluster& c, const std::string& command,
                const std::vector<std::string>& extra) {
  return agora_cli(
      with({"execute", "--master=" + c.master_address(), "--command=" + command, "--timeout=25s"},
           extra));
}

/// Connects to 127.0.0.1:`port`, sends `bytes` and returns true if the peer
/// closes the connection within 5 s.
bool closes_after_sending(uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    return false;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[512];
  ssize_t n = 0;
  // Whatever the server answers (a TLS alert) is read and dropped.
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
  }
  ::close(fd);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST(tls, a_cluster_with_tls_runs_a_task_end_to_end) {
  certificates certs;
  cluster c{certs.files.node.flags()};
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1", certs.files.other_node.flags());
  auto r = execute(c, "echo hello-over-tls", certs.files.other_node.flags());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("TASK_FINISHED"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(c.master().stderr_text().find("refused"), std::string::npos)
      << c.master().stderr_text();
}

TEST(tls, a_peer_whose_certificate_the_ca_did_not_sign_is_refused) {
  certificates certs;
  cluster c{certs.files.node.flags()};
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1", certs.files.node.flags());

  // A framework of another cluster (its own CA and certificate): it
  // refuses the master's certificate, and the master its own. It stops at
  // once, saying why, instead of retrying.
  const auto& f = certs.files;
  auto r = execute(
      c, "echo never",
      {"--tls-cert=" + f.foreign.cert, "--tls-key=" + f.foreign.key, "--tls-ca=" + f.foreign_ca});
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.status, 124) << "it waited for its timeout: " << r.err;
  EXPECT_NE(r.err.find("cannot connect to the master " + c.master_address() +
                       ": TLS handshake failed: certificate verify failed"),
            std::string::npos)
      << r.err;

  // A client that trusts the cluster's CA but shows the foreign
  // certificate (`openssl s_client`, as `agora` checks its own files): the
  // master verifies client certificates and refuses it, and one without
  // any certificate.
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"-cert", f.foreign.cert, "-key", f.foreign.key}, {}}) {
    child_process client;
    ASSERT_TRUE(client.start("openssl", with({"s_client", "-connect", c.master_address(), "-CAfile",
                                              f.ca, "-verify_return_error"},
                                             extra)));
    EXPECT_TRUE(client.wait_exit(10s).has_value()) << "openssl s_client stayed connected";
  }
  EXPECT_TRUE(wait_until(
      [&] {
        auto err = c.master().stderr_text();
        return err.find("certificate verify failed") != std::string::npos &&
               err.find("peer did not return a certificate") != std::string::npos;
      },
      10s))
      << c.master().stderr_text();

  // The master keeps working for the cluster's members.
  r = execute(c, "echo still-serving", certs.files.other_node.flags());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST(tls, plain_tcp_to_a_tls_port_is_refused) {
  certificates certs;
  cluster c{certs.files.node.flags()};
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1", certs.files.node.flags());

  // Bytes that are no TLS record: the connection is closed at once.
  EXPECT_TRUE(closes_after_sending(c.actor_port(), "GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(wait_until(
      [&] {
        return c.master().stderr_text().find("refused the actor connection from 127.0.0.1") !=
               std::string::npos;
      },
      5s))
      << c.master().stderr_text();

  // A plain framework (no --tls-*): CAF's plain protocol speaks first, no
  // TLS record, so the master refuses it at once; the framework says why
  // and retries until its timeout.
  auto r = agora_cli(
      {"execute", "--master=" + c.master_address(), "--command=echo never", "--timeout=3s"});
  EXPECT_EQ(r.status, 124) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot connect to the master " + c.master_address()), std::string::npos)
      << r.err;
  EXPECT_NE(c.master().stderr_text().find("wrong version number"), std::string::npos)
      << c.master().stderr_text();

  // A peer that connects and stays silent is closed at the handshake
  // deadline (10 s), not held open.
  int fd = connect_loopback(c.actor_port());
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(peer_closes(fd, 20s));
  ::close(fd);
  EXPECT_NE(c.master().stderr_text().find("no TLS handshake within 10000 ms"), std::string::npos)
      << c.master().stderr_text();

  // The master keeps working.
  r = execute(c, "echo still-serving", certs.files.other_node.flags());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

/// Returns the word after `prefix` in `text` ("" if none).
std::string word_after(const std::string& text, const std::string& prefix) {
  auto at = text.find(prefix);
  if (at == std::string::npos) return {};
  at += prefix.size();
  return text.substr(at, text.find_first_of(" \n", at) - at);
}

/// Runs `curl ARGS` (stdout and stderr).
std::string curl(const std::string& args) {
  std::string out;
  if (FILE* p = popen(("/usr/bin/curl -sS --max-time 10 " + args + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (auto n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    pclose(p);
  }
  return out;
}

TEST(tls, the_http_endpoints_speak_https_and_the_master_reaches_agents_over_it) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  certificates certs;
  const auto& f = certs.files;
  cluster c{f.node.flags()};
  auto& agent = c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1", f.other_node.flags());

  auto master_url = "https://127.0.0.1:" + std::to_string(c.http_port());
  auto agent_url = "https://127.0.0.1:" + std::to_string(agent.http_port);
  EXPECT_NE(curl("--cacert " + f.ca + " " + master_url + "/health").find("\"status\""),
            std::string::npos);
  EXPECT_NE(curl("--cacert " + f.ca + " " + agent_url + "/health").find("\"status\""),
            std::string::npos);
  // Plain HTTP on those ports is refused; so is HTTPS whose client does
  // not trust the cluster's CA.
  EXPECT_NE(curl("http://127.0.0.1:" + std::to_string(c.http_port()) + "/health")
                .find("this port speaks HTTPS"),
            std::string::npos);
  EXPECT_EQ(curl(master_url + "/health").find("\"status\""), std::string::npos);
  // `agora policy` reads the master over HTTPS with --tls-*.
  auto policy =
      agora_cli(with({"policy", "status", "--master=127.0.0.1:" + std::to_string(c.http_port())},
                     f.other_node.flags()));
  EXPECT_EQ(policy.status, 0) << policy.out << policy.err;

  // A task's output, read through the master, which fetches it from the
  // agent over HTTPS.
  auto r = execute(c, "echo hello-https", f.other_node.flags());
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  auto fid = word_after(r.out, "subscribed as framework ");
  auto tid = word_after(r.out, "launching task ");
  auto aid = word_after(r.out, " on agent ");
  ASSERT_FALSE(fid.empty() || tid.empty() || aid.empty()) << r.out;
  auto read = curl("--cacert " + f.ca + " '" + master_url + "/agents/" + aid +
                   "/files/read?path=frameworks/" + fid + "/tasks/" + tid + "/stdout'");
  EXPECT_EQ(read, "{\"data\":\"hello-https\\n\",\"offset\":0}") << read;
}

/// Runs `binary` with `args` to its end (at most 10 s).
cli_run run(const std::string& binary, const std::vector<std::string>& args) {
  child_process p;
  cli_run r;
  if (!p.start(binary_path(binary), args)) return r;
  auto code = p.wait_exit(10s);
  r.status = code ? *code : -1;
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

TEST(tls, bad_tls_flags_exit_2_naming_the_flag) {
  certificates certs;
  const auto& n = certs.files.node;
  struct bad_case {
    std::string binary;
    std::vector<std::string> args;
    std::string expected;
  };
  std::vector<bad_case> cases = {
      {"agora-master", {"--tls-cert=" + n.cert}, "agora-master: error: --tls-key: missing"},
      {"agora-master",
       {"--tls-cert=" + n.cert, "--tls-key=" + n.key, "--tls-ca=/nonexistent/ca.pem"},
       "agora-master: error: --tls-ca: cannot read '/nonexistent/ca.pem'"},
      {"agora-agent",
       {"--master=127.0.0.1:1", "--tls-cert=" + n.cert, "--tls-key=" + certs.files.other_node.key,
        "--tls-ca=" + n.ca},
       "agora-agent: error: --tls-key: '" + certs.files.other_node.key + "' is not the key of"},
      {"agora-agent",
       {"--master=127.0.0.1:1", "--tls-key=" + n.key, "--tls-ca=" + n.ca},
       "agora-agent: error: --tls-cert: missing"},
      {"agora",
       {"execute", "--master=127.0.0.1:1", "--command=true", "--tls-cert=/nonexistent/c.pem",
        "--tls-key=" + n.key, "--tls-ca=" + n.ca},
       "agora execute: error: --tls-cert: cannot read '/nonexistent/c.pem'"},
      {"agora",
       {"execute", "--master=127.0.0.1:1", "--command=true", "--tls-cert=" + n.key,
        "--tls-key=" + n.key, "--tls-ca=" + n.ca},
       "agora execute: error: --tls-cert: '" + n.key + "' holds no PEM certificate"},
      {"agora", {"demo", "--tls-ca=" + n.ca}, "agora demo: error: --tls-cert: missing"},
      {"agora", {"load", "--tls-ca=" + n.ca}, "agora load: error: --tls-cert: missing"},
      {"agora",
       {"fleet", "--master=127.0.0.1:1", "--tls-cert=" + certs.files.foreign.cert,
        "--tls-key=" + certs.files.foreign.key, "--tls-ca=" + n.ca},
       "agora fleet: error: --tls-cert: '" + certs.files.foreign.cert +
           "' does not verify against the CA"},
      {"agora", {"local", "--tls-key=" + n.key}, "agora local: error: --tls-cert: missing"},
      {"agora",
       {"policy", "status", "--master=127.0.0.1:1", "--tls-cert=" + n.cert, "--tls-ca=" + n.ca},
       "agora policy status: error: --tls-key: missing"},
  };
  for (const auto& k : cases) {
    auto r = run(k.binary, k.args);
    EXPECT_EQ(r.status, 2) << k.binary << ": " << r.err;
    EXPECT_EQ(r.err.rfind(k.expected, 0), 0u) << k.binary << ": " << r.err;
  }
}

}  // namespace
}  // namespace agora::test
