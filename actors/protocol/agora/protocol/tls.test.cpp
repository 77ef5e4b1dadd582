#include "agora/protocol/tls.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include "agora/protocol/transport.hpp"
#include "agora/test/basp_probe.hpp"
#include "agora/test/temp_dir.hpp"
#include "agora/test/tls_files.hpp"
#include "agora/test/wait.hpp"

namespace agora::protocol {
namespace {

using namespace std::chrono_literals;

/// The certificates of every test here, made once (openssl takes ~0.1 s
/// for each).
const test::tls_files& files() {
  static test::temp_dir dir{"agora-tls-test"};
  static test::tls_files f = test::make_tls_files(dir.path());
  return f;
}

tls_options options(const test::tls_identity& id) { return {id.cert, id.key, id.ca}; }

// -- the flags ------------------------------------------------------------------------------

TEST(tls_options, none_given_is_plain_and_fine) {
  EXPECT_FALSE(tls_options{}.enabled());
  EXPECT_EQ(check_tls_options({}), "");
}

TEST(tls_options, a_good_identity_passes) {
  EXPECT_EQ(check_tls_options(options(files().node)), "");
}

TEST(tls_options, only_some_of_the_three_names_the_missing_flag) {
  auto id = files().node;
  auto e = check_tls_options({id.cert, "", id.ca});
  EXPECT_EQ(e.rfind("--tls-key: missing", 0), 0u) << e;
  e = check_tls_options({"", id.key, ""});
  EXPECT_EQ(e.rfind("--tls-cert: missing", 0), 0u) << e;
  e = check_tls_options({id.cert, id.key, ""});
  EXPECT_EQ(e.rfind("--tls-ca: missing", 0), 0u) << e;
}

TEST(tls_options, an_unreadable_file_names_its_flag_and_path) {
  auto id = files().node;
  auto e = check_tls_options({id.cert, "/nonexistent/node.key", id.ca});
  EXPECT_EQ(e, "--tls-key: cannot read '/nonexistent/node.key': No such file or directory");
  e = check_tls_options({id.cert, id.key, "/nonexistent/ca.pem"});
  EXPECT_EQ(e.rfind("--tls-ca: cannot read '/nonexistent/ca.pem'", 0), 0u) << e;
  // A key in the place of the certificate is no certificate.
  e = check_tls_options({id.key, id.key, id.ca});
  EXPECT_EQ(e.rfind("--tls-cert: '" + id.key + "' holds no PEM certificate", 0), 0u) << e;
}

TEST(tls_options, a_key_of_another_certificate_is_refused) {
  auto e = check_tls_options({files().node.cert, files().other_node.key, files().ca});
  EXPECT_EQ(e.rfind("--tls-key: '" + files().other_node.key + "' is not the key of", 0), 0u) << e;
}

TEST(tls_options, a_certificate_the_ca_did_not_sign_is_refused) {
  // Every peer would refuse it: said at start, not at each connection.
  auto e = check_tls_options(options(files().foreign));
  EXPECT_EQ(e.rfind("--tls-cert: '" + files().foreign.cert + "' does not verify against the CA", 0),
            0u)
      << e;
}

TEST(tls_options, an_encrypted_key_is_refused_without_a_prompt) {
  test::temp_dir dir;
  auto key = dir.write("enc.key",
                       "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE "
                       "KEY-----\n");
  auto e = check_tls_options({files().node.cert, key, files().ca});
  EXPECT_NE(e.find("--tls-key: '" + key + "' is encrypted"), std::string::npos) << e;
}

// -- actor connections over TLS -------------------------------------------------------------

caf::behavior echo() {
  return {[](const std::string& s) { return s; }};
}

/// An actor system on the transport, over TLS with `tls` (or plain).
struct node {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> actors;
  explicit node(const tls_options& tls, const transport_limits& limits = {}) {
    load_transport(cfg, tls, limits);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  ~node() {
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  caf::actor spawn_echo() { return actors.emplace_back(sys->spawn(echo)); }
  caf::expected<uint16_t> publish_echo() { return publish(*sys, spawn_echo(), 0, "127.0.0.1"); }
};

/// Sends `text` to `whom` and returns the reply, or "error: ..." .
std::string ask(caf::actor_system& sys, const caf::actor& whom, const std::string& text) {
  caf::scoped_actor self{sys};
  std::string out;
  self->request(whom, std::chrono::seconds{20}, text)
      .receive([&](const std::string& reply) { out = reply; },
               [&](caf::error& err) { out = "error: " + sys.render(err); });
  return out;
}

TEST(tls_transport, two_members_of_the_cluster_talk_including_chunked_large_messages) {
  transport_limits small_chunks;
  small_chunks.read_chunk_bytes = 4096;
  node server{options(files().node), small_chunks};
  node client{options(files().other_node), small_chunks};
  EXPECT_TRUE(tls_enabled(*server.sys));
  auto port = server.publish_echo();
  ASSERT_TRUE(port) << server.sys->render(port.error());
  auto remote = remote_actor(*client.sys, "127.0.0.1", *port);
  ASSERT_TRUE(remote)
      << explain_connect_error(*client.sys, "127.0.0.1", *port, remote.error()).message;
  // 1 MiB + 3 bytes: 257 chunks of 4 KiB on each side, over TLS records
  // of at most 16 KiB.
  std::string big(1024 * 1024 + 3, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  EXPECT_EQ(ask(*client.sys, *remote, big), big);
  EXPECT_EQ(ask(*client.sys, *remote, "small"), "small");
  EXPECT_EQ(tls_handshake_failures(*server.sys), 0u);
  EXPECT_EQ(tls_handshake_failures(*client.sys), 0u);
}

TEST(tls_transport, a_peer_with_a_certificate_of_another_ca_is_refused_and_told_why) {
  node server{options(files().node)};
  auto port = server.publish_echo();
  ASSERT_TRUE(port);
  {
    // Trusts the cluster's CA, shows a certificate of the foreign one.
    node intruder{options(files().foreign)};
    auto remote = remote_actor(*intruder.sys, "127.0.0.1", *port);
    ASSERT_FALSE(remote) << "connected with a foreign certificate";
    auto why = explain_connect_error(*intruder.sys, "127.0.0.1", *port, remote.error());
    EXPECT_TRUE(why.tls_refused) << why.message;
    EXPECT_EQ(why.message.rfind("TLS handshake failed: ", 0), 0u) << why.message;
  }
  EXPECT_TRUE(test::wait_until([&] { return tls_handshake_failures(*server.sys) >= 1; }, 10s));
  // The server serves on.
  node member{options(files().other_node)};
  auto remote = remote_actor(*member.sys, "127.0.0.1", *port);
  ASSERT_TRUE(remote);
  EXPECT_EQ(ask(*member.sys, *remote, "still here"), "still here");
}

TEST(tls_transport, a_member_refuses_a_server_whose_certificate_its_ca_did_not_sign) {
  // The other direction: the client verifies the server.
  tls_options foreign_server{files().foreign.cert, files().foreign.key, files().foreign_ca};
  node server{foreign_server};
  auto port = server.publish_echo();
  ASSERT_TRUE(port);
  node member{options(files().node)};
  auto remote = remote_actor(*member.sys, "127.0.0.1", *port);
  ASSERT_FALSE(remote);
  auto why = explain_connect_error(*member.sys, "127.0.0.1", *port, remote.error());
  EXPECT_TRUE(why.tls_refused) << why.message;
  EXPECT_NE(why.message.find("certificate verify failed"), std::string::npos) << why.message;
}

TEST(tls_transport, a_plain_peer_is_refused_and_a_tls_peer_refuses_a_plain_server) {
  transport_limits quick;
  quick.handshake_timeout = 500ms;
  node server{options(files().node), quick};
  auto port = server.publish_echo();
  ASSERT_TRUE(port);
  {
    // CAF's plain client speaks first: no TLS record, refused at once.
    node plain{tls_options{}};
    auto start = std::chrono::steady_clock::now();
    auto remote = remote_actor(*plain.sys, "127.0.0.1", *port);
    EXPECT_FALSE(remote) << "a plain client reached a TLS server";
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  }
  EXPECT_TRUE(test::wait_until([&] { return tls_handshake_failures(*server.sys) == 1; }, 5s));
  // Bytes that are no TLS record are refused at once, with no allocation
  // for the 4 GiB that they announce to a BASP reader.
  int fd = test::send_basp_header(*port, 0xFFFFFFF0u);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(test::peer_closes(fd, 5s));
  ::close(fd);
  EXPECT_TRUE(test::wait_until([&] { return tls_handshake_failures(*server.sys) == 2; }, 5s));
  // A peer that connects and says nothing is closed at the handshake
  // deadline (500 ms here).
  fd = test::connect_loopback(*port);
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(test::peer_closes(fd, 5s));
  ::close(fd);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
  EXPECT_TRUE(test::wait_until([&] { return tls_handshake_failures(*server.sys) == 3; }, 5s));

  node plain_server{tls_options{}};
  auto plain_port = plain_server.publish_echo();
  ASSERT_TRUE(plain_port);
  node member{options(files().node)};
  auto remote = remote_actor(*member.sys, "127.0.0.1", *plain_port);
  ASSERT_FALSE(remote) << "a TLS client reached a plain server";
  auto why = explain_connect_error(*member.sys, "127.0.0.1", *plain_port, remote.error());
  EXPECT_TRUE(why.tls_refused) << why.message;

  // The TLS server serves on.
  auto ok = remote_actor(*member.sys, "127.0.0.1", *port);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ask(*member.sys, *ok, "fine"), "fine");
}

TEST(tls_transport, the_size_guard_holds_on_tls_connections) {
  transport_limits limits;
  limits.message_bytes = 1024 * 1024;
  node server{options(files().node), limits};
  auto port = server.publish_echo();
  ASSERT_TRUE(port);
  node client{options(files().other_node)};
  auto remote = remote_actor(*client.sys, "127.0.0.1", *port);
  ASSERT_TRUE(remote);
  EXPECT_EQ(ask(*client.sys, *remote, "fits"), "fits");
  caf::scoped_actor self{*client.sys};
  self->monitor(*remote);
  self->send(*remote, std::string(2 * 1024 * 1024, 'x'));
  bool down = false;
  self->receive([&](const caf::down_msg& m) { down = m.source == remote->address(); },
                caf::after(std::chrono::seconds{10}) >> [] {});
  EXPECT_TRUE(down) << "the connection stayed open";
  EXPECT_EQ(refused_connections(*server.sys), 1u);
}

TEST(tls_transport, a_tls_process_opens_no_plain_listener_or_connection) {
  node n{options(files().node)};
  auto echo_actor = n.spawn_echo();
  auto plain = n.sys->middleman().publish(echo_actor, 0, "127.0.0.1", true);
  ASSERT_FALSE(plain) << "published without TLS on port " << *plain;
  EXPECT_NE(n.sys->render(plain.error()).find("speaks TLS"), std::string::npos)
      << n.sys->render(plain.error());
}

}  // namespace
}  // namespace agora::protocol
