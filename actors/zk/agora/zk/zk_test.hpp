#pragma once

// Helpers for agora::zk's own tests (not part of the library): a shared
// standalone server, unique roots, sessions and thread-safe recorders of
// callbacks.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agora/test/wait.hpp"
#include "agora/test/zookeeper_server.hpp"
#include "agora/zk/leader_election.hpp"
#include "agora/zk/session.hpp"

namespace agora::zk::testing {

using namespace std::chrono_literals;

/// The reason tests skip without ZooKeeper.
inline const char* no_zookeeper =
    "ZooKeeper is not installed (needs java and /usr/share/java/zookeeper*.jar)";

/// Returns a standalone server shared by the tests of this process, started
/// at the first call; nullptr (with `error`) when it does not start.
inline agora::test::zookeeper_server* shared_server(std::string* error) {
  static std::unique_ptr<agora::test::zookeeper_server> server;
  static std::string start_error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    server = std::make_unique<agora::test::zookeeper_server>();
    if (!server->start(60s, &start_error)) server.reset();
  }
  if (error != nullptr) *error = start_error;
  return server.get();
}

/// Returns a root znode unique to the running test, e.g.
/// `/agora-test/zk_session.create_get_set_remove-1`.
inline std::string unique_root() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "/agora-test/" + std::string(info->test_suite_name()) + "." + info->name() + "-" +
         std::to_string(++counter);
}

/// Opens a session to `connect` and waits until it is connected (fails the
/// test otherwise: check with ASSERT_TRUE on the result).
inline std::unique_ptr<session> connect(const std::string& connect,
                                        std::chrono::milliseconds session_timeout = 10s,
                                        state_callback on_state = {},
                                        std::chrono::milliseconds operation_timeout = 0ms) {
  session_options options;
  options.connect_string = connect;
  options.session_timeout = session_timeout;
  options.operation_timeout = operation_timeout;
  options.on_state = std::move(on_state);
  auto opened = session::open(std::move(options));
  EXPECT_TRUE(opened.ok()) << to_string(opened.err());
  if (!opened) return nullptr;
  auto s = std::move(opened).value();
  auto connected = s->wait_connected(30s);
  EXPECT_TRUE(connected.ok()) << to_string(connected.err());
  if (!connected) return nullptr;
  return s;
}

/// Records the values a callback is called with, from any thread.
template <class T>
class recorder {
 public:
  /// Appends `value`.
  void add(const T& value) {
    std::lock_guard lock(mutex_);
    items_.push_back(value);
  }

  /// Returns a callback appending to this recorder (which must outlive it).
  std::function<void(const T&)> callback() {
    return [this](const T& value) { add(value); };
  }

  /// Returns everything recorded so far.
  std::vector<T> items() const {
    std::lock_guard lock(mutex_);
    return items_;
  }

  /// Returns the number of values recorded.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

  /// Returns the last value, nullopt before the first.
  std::optional<T> last() const {
    std::lock_guard lock(mutex_);
    if (items_.empty()) return std::nullopt;
    return items_.back();
  }

  /// Waits up to `timeout` until the last value satisfies `pred`.
  bool wait_last(const std::function<bool(const T&)>& pred,
                 std::chrono::milliseconds timeout = 10s) const {
    return agora::test::wait_until(
        [&] {
          auto value = last();
          return value && pred(*value);
        },
        timeout, 5ms);
  }

  /// Waits up to `timeout` until some value satisfies `pred`.
  bool wait_any(const std::function<bool(const T&)>& pred,
                std::chrono::milliseconds timeout = 10s) const {
    return agora::test::wait_until(
        [&] {
          for (const auto& value : items())
            if (pred(value)) return true;
          return false;
        },
        timeout, 5ms);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> items_;
};

/// A contender with its own session. Members are destroyed in reverse:
/// the election (which reports to `views`) before the session.
struct contender {
  std::unique_ptr<session> s;
  recorder<election_view> views;
  std::unique_ptr<leader_election> election;
  std::string data;

  /// Returns this contender's member name once joined.
  std::string self() const { return election->view().self; }

  /// Waits until the last view says it leads.
  bool wait_leading(std::chrono::milliseconds timeout = 10s) const {
    return views.wait_last([](const election_view& v) { return v.leading; }, timeout);
  }
};

/// Starts a contender on a new session and waits until it is a member.
inline std::unique_ptr<contender> join(const std::string& servers, const std::string& root,
                                       const std::string& data,
                                       std::chrono::milliseconds session_timeout = 10s) {
  auto c = std::make_unique<contender>();
  c->data = data;
  c->s = connect(servers, session_timeout);
  if (!c->s) return nullptr;
  auto started = leader_election::start(*c->s, {root, data, c->views.callback()});
  EXPECT_TRUE(started.ok()) << to_string(started.err());
  if (!started) return nullptr;
  c->election = std::move(started).value();
  bool joined =
      c->views.wait_last([](const election_view& v) { return !v.self.empty() && v.leader; });
  EXPECT_TRUE(joined) << "contender " << data << " did not join";
  return joined ? std::move(c) : nullptr;
}

}  // namespace agora::zk::testing

/// Skips the test without ZooKeeper and fails it when the shared server does
/// not start; binds `zk_server` to the shared server.
#define AGORA_ZK_SHARED_SERVER(zk_server)                    \
  if (!agora::test::zookeeper_server::available())           \
    GTEST_SKIP() << agora::zk::testing::no_zookeeper;        \
  std::string zk_server##_error;                             \
  agora::test::zookeeper_server* zk_server =                 \
      agora::zk::testing::shared_server(&zk_server##_error); \
  ASSERT_NE(zk_server, nullptr) << zk_server##_error
