#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/protocol/messages.hpp"

namespace agora::scheduler {

/// How a framework reaches the master and who it is.
struct driver_config {
  /// The master's actor endpoint (`agora-master --actor-port`).
  std::string master_host = "127.0.0.1";
  uint16_t master_port = 5055;
  /// `zk://HOST:PORT[,...]/PATH`: follow the leading master through
  /// ZooKeeper instead (re-subscribing with the framework's id on every
  /// change). Empty: `master_host:master_port`.
  std::string master_url;
  /// An in-process master (as in `agora local`); when set, host and port are
  /// not used.
  caf::actor master;
  /// Name, roles, principal, user, failover timeout and capabilities. Leave
  /// `id` empty for a new framework; set it to re-attach to an existing
  /// one. An empty `user` becomes the user running the driver (the one
  /// agents with `--switch-user` run the tasks as).
  protocol::framework_info framework;
  /// The secret of `framework.principal`: when set, the driver authenticates
  /// to every master it connects to before subscribing (challenge-response;
  /// the secret never leaves this process).
  std::string secret;
  /// Reconnection backoff: doubles from `backoff_min` up to `backoff_max`.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  /// Timeout of a single subscribe request.
  std::chrono::milliseconds request_timeout{5000};
  /// Acknowledge each status update after `scheduler::update` returns.
  bool auto_acknowledge = true;
  /// The master is presumed lost (and the driver reconnects) after this many
  /// heartbeat intervals without a heartbeat; 0 disables the check.
  int64_t max_missed_heartbeats = 5;
};

class driver;

/// The callback interface of a framework. Every callback runs inside the
/// driver actor, one at a time, and must not block; call `driver` methods to
/// act. Override what you need.
class scheduler {
 public:
  virtual ~scheduler() = default;
  /// The master accepted the subscription (also after each reconnection).
  virtual void subscribed(driver&, const std::string& /*framework_id*/) {}
  /// New offers.
  virtual void offers(driver&, const std::vector<protocol::offer>&) {}
  /// An offer is no longer valid.
  virtual void rescinded(driver&, const std::string& /*offer_id*/) {}
  /// A task changed state.
  virtual void update(driver&, const protocol::task_status&) {}
  /// The connection to the master dropped; the driver reconnects by itself.
  virtual void disconnected(driver&) {}
  /// The master refused the framework; when `fatal`, the driver has stopped.
  virtual void error(driver&, const std::string& /*message*/, bool /*fatal*/) {}
};

struct driver_state;

/// The handle a `scheduler` acts through. Valid only inside callbacks.
class driver {
 public:
  explicit driver(driver_state* st) : st_(st) {}
  /// Returns the id the master gave the framework (empty before subscribing).
  const std::string& framework_id() const;
  /// Returns true while subscribed to a master.
  bool connected() const;
  /// Launches `tasks` on the resources of `offer_ids` (all on one agent);
  /// unused resources are declined with `f`.
  void accept(const std::vector<std::string>& offer_ids, std::vector<protocol::task_info> tasks,
              protocol::filters f = protocol::filters{0});
  /// Declines offers; the master will not re-offer them for `f.refuse_ms`.
  void decline(const std::vector<std::string>& offer_ids,
               protocol::filters f = protocol::filters{});
  /// Kills a task.
  void kill(const std::string& task_id);
  /// Clears decline filters and resumes offers.
  void revive();
  /// Stops offers until `revive`.
  void suppress();
  /// Acknowledges a status update (needed only without `auto_acknowledge`).
  void acknowledge(const protocol::task_status& status);
  /// Asks for the latest state of tasks (all of the framework's when empty).
  void reconcile(std::vector<std::string> task_ids = {});
  /// Tears the framework down at the master (its tasks are killed), then
  /// stops the driver.
  void teardown();
  /// Stops the driver; the master keeps the framework's tasks for its
  /// failover timeout.
  void stop();

 private:
  driver_state* st_;
};

/// Spawns a driver running the callback scheduler `sched`.
caf::actor spawn_driver(caf::actor_system& sys, driver_config cfg,
                        std::shared_ptr<scheduler> sched);

/// Message a user actor receives when its driver lost the master.
struct disconnected_msg {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, disconnected_msg&) {
  return f(caf::meta::type_name("disconnected_msg"));
}

/// Spawns a driver for a framework written as a CAF actor. `user` receives
/// `protocol::subscribed`, `protocol::offers_msg`, `protocol::rescind_offer`,
/// `protocol::status_update`, `protocol::framework_error` and
/// `disconnected_msg`; it sends the driver `protocol::accept`, `decline`,
/// `kill_task`, `revive`, `suppress`, `acknowledge`, `reconcile` and
/// `teardown` with an empty framework id, which the driver fills in.
caf::actor spawn_driver(caf::actor_system& sys, driver_config cfg, caf::actor user);

}  // namespace agora::scheduler
