#pragma once

// A real cluster for integration tests: an `agora-master` process and
// `agora-agent` processes on 127.0.0.1 with free ports, plus an in-test
// framework (a CAF actor system in the test process, connected to the master
// over TCP like any remote framework).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/protocol/messages.hpp"
#include "agora/scheduler/driver.hpp"
#include "agora/test/support.hpp"

namespace agora::test {

using namespace std::chrono_literals;

/// Fails the current test if master process `master` found its incremental
/// `/state` different from one rendered from scratch (it aborts then, with
/// `AGORA_VERIFY_STATE_VIEW=1`, which CTest sets for every test).
inline void expect_state_view_verified(const child_process& master) {
  auto err = master.stderr_text();
  auto at = err.find("the incremental /state differs");
  if (at != std::string::npos)
    ADD_FAILURE() << "the master's incremental /state went wrong:\n" << err.substr(at, 1200);
}

/// One agent process.
struct agent_process {
  std::unique_ptr<child_process> proc;
  std::string work_dir;
  uint16_t http_port = 0;
  std::string resources;
  std::vector<std::string> args;  ///< Its flags, to start it again.
};

class cluster {
 public:
  /// Starts a master with fast health checking; extra flags are appended.
  explicit cluster(std::vector<std::string> master_flags = {});
  ~cluster();

  /// Starts an agent; `resources`/`attributes` in flag syntax. Waits until
  /// the master lists it.
  agent_process& add_agent(const std::string& resources = "cpus:2;mem:1GiB;disk:1GiB",
                           const std::string& attributes = "rack:r1",
                           const std::vector<std::string>& extra_flags = {});

  /// Kills the master (SIGKILL) and starts a new one on the same ports.
  void restart_master();

  /// Stops agent `index` with `sig` (SIGKILL: a crash; SIGTERM: a clean
  /// stop that leaves its tasks running) and waits for its exit, leaving
  /// its tasks and work directory as they are. Returns false if it did not
  /// exit within 10 s.
  bool stop_agent(size_t index, int sig);

  /// Starts agent `index` again with its flags plus `extra` (after
  /// `stop_agent`). Returns false if the process did not start.
  bool start_agent(size_t index, const std::vector<std::string>& extra = {});

  /// Sends this `Authorization` header with the fixture's own `/state`
  /// reads (a master with `--authenticate-http`).
  void set_http_authorization(std::string header) { http_authorization_ = std::move(header); }

  /// Returns the parsed `/state` of the master.
  rapidjson::Document state() const;

  /// Waits until `pred(state)` holds or `timeout` passes.
  bool wait_state(const std::function<bool(const rapidjson::Document&)>& pred,
                  std::chrono::milliseconds timeout = 10s) const;

  std::string master_address() const { return "127.0.0.1:" + std::to_string(actor_port_); }
  uint16_t http_port() const { return http_port_; }
  uint16_t actor_port() const { return actor_port_; }
  std::vector<agent_process>& agents() { return agents_; }
  const std::string& root() const { return dir_.path(); }
  child_process& master() { return *master_; }

 private:
  temp_dir dir_;
  void start_master();

  std::vector<std::string> master_flags_;
  std::string http_authorization_;
  std::unique_ptr<child_process> master_;
  std::vector<agent_process> agents_;
  uint16_t http_port_ = 0;
  uint16_t actor_port_ = 0;
};

/// A framework living in the test process: a scheduler driver that forwards
/// everything to a blocking actor the test reads from with bounded waits.
/// `master_address` is `HOST:PORT` or `zk://...` (follow the leader).
class test_framework {
 public:
  /// `auto_acknowledge` false: updates are acknowledged only by `acknowledge`.
  /// `secret`: authenticate as `info.principal` with it before subscribing.
  test_framework(caf::actor_system& sys, const std::string& master_address,
                 protocol::framework_info info, bool auto_acknowledge = true,
                 const std::string& secret = "");
  ~test_framework();

  /// Waits for the subscription; returns the framework id (empty on timeout).
  std::string wait_subscribed(std::chrono::milliseconds timeout = 10s);
  /// Waits for at least one offer (returns those received so far).
  std::vector<protocol::offer> wait_offers(std::chrono::milliseconds timeout = 10s);
  /// Waits for a status of `task_id` in `state`; returns it if seen.
  std::optional<protocol::task_status> wait_status(const std::string& task_id,
                                                   protocol::task_state state,
                                                   std::chrono::milliseconds timeout = 10s);
  /// Processes the messages that arrive within `duration`.
  void pump(std::chrono::milliseconds duration);
  /// Sends a command (accept, decline, kill_task, ...) to the driver.
  template <class T>
  void send(T msg) {
    self_->send(driver_, std::move(msg));
  }
  /// Acknowledges an update (without `auto_acknowledge`).
  void acknowledge(const protocol::task_status& s) {
    send(protocol::acknowledge{"", s.agent_id, s.task_id, s.uuid});
  }

  /// Stops the driver (like a framework process dying).
  void stop_driver();
  /// All statuses received so far.
  const std::vector<protocol::task_status>& statuses() const { return statuses_; }
  /// Offers received and not yet used by the test.
  std::vector<protocol::offer>& pending_offers() { return offers_; }

 private:
  /// Receives one message (or times out); returns false on timeout.
  bool receive_one(std::chrono::milliseconds timeout);

  caf::scoped_actor self_;
  caf::actor driver_;
  std::string framework_id_;
  std::vector<protocol::offer> offers_;
  std::vector<protocol::task_status> statuses_;
};

/// An actor system for test frameworks (protocol announced, middleman loaded).
class framework_system {
 public:
  framework_system();
  caf::actor_system& sys() { return *sys_; }

 private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
};

/// Authenticates `self` to `master` as `principal` with `secret` in `role`
/// (`framework` or `agent`), as a raw peer would; returns "" or the error.
std::string authenticate(caf::scoped_actor& self, caf::actor_system& sys, const caf::actor& master,
                         const std::string& principal, const std::string& secret,
                         const std::string& role = "framework");

/// Returns a task that runs `command` with the given resources.
protocol::task_info make_task(const std::string& id, const std::string& command, double cpus = 0.1,
                              int64_t mem = 32 << 20);

/// Finds `<agent work dir>/**/tasks/<task_id>` (the task's sandbox); empty if none.
std::string find_sandbox(const std::string& work_dir, const std::string& task_id);

/// What `agora ARGS...` did: its exit status (-1 on timeout) and output.
struct cli_run {
  int status = -1;
  std::string out, err;
};

/// Runs `agora ARGS...` to completion (at most 30 s).
cli_run agora_cli(std::vector<std::string> args);

}  // namespace agora::test
