#include "agora/scheduler/driver.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/auth/handshake.hpp"
#include "agora/discovery/master_follower.hpp"
#include "agora/protocol/errors.hpp"
#include "agora/protocol/transport.hpp"

namespace agora::scheduler {

using namespace protocol;

namespace {

using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using watchdog_atom = caf::atom_constant<caf::atom("dwatchdog")>;

}  // namespace

struct driver_state {
  driver_config cfg;
  std::shared_ptr<scheduler> sched;
  caf::actor master;
  std::string framework_id;
  bool connected = false;
  bool stopping = false;
  /// Bumped on each connection attempt, so stale replies are ignored.
  uint64_t attempt = 0;
  std::chrono::milliseconds backoff{0};
  /// The master's heartbeat interval (from `subscribed`) and the last beat.
  std::chrono::milliseconds heartbeat_interval{0};
  caf::actor_clock::time_point last_heartbeat;
  /// Follows the leading master (`master_url`); null otherwise.
  std::shared_ptr<discovery::master_follower> follower;
  /// Whether a leader is known (always with a fixed master).
  bool leader_known = false;
  /// The highest leader epoch seen (-1: none); older masters are not followed.
  int64_t leader_epoch = -1;
  /// Messages from the master stamped with an older epoch, dropped.
  uint64_t stale_epoch_messages = 0;
  /// Why the last connection attempt failed (printed when it changes).
  std::string last_connect_error;
  caf::stateful_actor<driver_state>* self = nullptr;
  static inline const char* name = "agora.scheduler_driver";

  template <class T>
  void to_master(T msg) {
    if (connected && master) self->send(master, std::move(msg));
  }
};

using driver_ptr = caf::stateful_actor<driver_state>*;

const std::string& driver::framework_id() const { return st_->framework_id; }
bool driver::connected() const { return st_->connected; }

void driver::accept(const std::vector<std::string>& offer_ids, std::vector<task_info> tasks,
                    filters f) {
  st_->to_master(protocol::accept{st_->framework_id, offer_ids, std::move(tasks), f});
}

void driver::decline(const std::vector<std::string>& offer_ids, filters f) {
  st_->to_master(protocol::decline{st_->framework_id, offer_ids, f});
}

void driver::kill(const std::string& task_id) {
  st_->to_master(kill_task{st_->framework_id, task_id, ""});
}

void driver::revive() { st_->to_master(protocol::revive{st_->framework_id, {}}); }
void driver::suppress() { st_->to_master(protocol::suppress{st_->framework_id, {}}); }

void driver::acknowledge(const task_status& s) {
  if (s.uuid.empty()) return;
  st_->to_master(protocol::acknowledge{st_->framework_id, s.agent_id, s.task_id, s.uuid});
}

void driver::reconcile(std::vector<std::string> task_ids) {
  st_->to_master(protocol::reconcile{st_->framework_id, std::move(task_ids)});
}

void driver::teardown() {
  // Deferred to a message, so it takes effect after the current callback
  // (and the acknowledgement that follows it).
  st_->stopping = true;
  st_->self->send(st_->self, protocol::teardown{st_->framework_id});
}

namespace {

/// Tears the framework down at the master, then quits.
void do_teardown(driver_state& st) {
  auto* self = st.self;
  st.stopping = true;
  if (!st.connected || !st.master) {
    self->quit();
    return;
  }
  // A request, so the driver stops only once the master has the message.
  self->request(st.master, std::chrono::seconds{5}, protocol::teardown{st.framework_id})
      .then([self] { self->quit(); }, [self](const caf::error&) { self->quit(); });
}

}  // namespace

void driver::stop() {
  st_->stopping = true;
  st_->self->quit();
}

namespace {

void schedule_reconnect(driver_ptr self) {
  auto& st = self->state;
  if (st.stopping) return;
  st.backoff =
      st.backoff.count() == 0 ? st.cfg.backoff_min : std::min(st.backoff * 2, st.cfg.backoff_max);
  self->delayed_send(self, st.backoff, reconnect_atom::value, ++st.attempt);
}

/// Returns true if the current message comes from the master's process (the
/// master or its proxy of this framework), stamped with leader epoch `epoch`
/// no older than the leader followed: a master that lost leadership, or any
/// other peer, is not listened to.
bool from_master(driver_ptr self, int64_t epoch) {
  auto& st = self->state;
  const auto& sender = self->current_sender();
  if (!st.master || !sender || sender->node() != st.master.node()) return false;
  if (!protocol::from_epoch(epoch, st.leader_epoch)) {
    ++st.stale_epoch_messages;
    return false;
  }
  return true;
}

/// Treats the master as gone: tells the scheduler and reconnects.
void lose_master(driver_ptr self, const std::string& why) {
  auto& st = self->state;
  std::cerr << "agora-scheduler: lost the master: " << why << "\n";
  if (st.master) self->demonitor(st.master);
  st.master = nullptr;
  bool was_connected = st.connected;
  st.connected = false;
  ++st.attempt;
  if (was_connected) {
    driver d{&st};
    st.sched->disconnected(d);
  }
  schedule_reconnect(self);
}

/// How often the driver checks for heartbeats (every interval, >= 50 ms).
std::chrono::milliseconds watchdog_period(const driver_state& st) {
  return std::max(st.heartbeat_interval, std::chrono::milliseconds{50});
}

/// Returns true if error `e` from the master means that trying again cannot
/// help: the request is malformed, refused, or the credentials are wrong.
bool fatal_error(const caf::error& e) {
  if (e.category() != errc_category) return false;
  auto code = static_cast<errc>(e.code());
  return code == errc::invalid_argument || code == errc::not_allowed ||
         code == errc::unauthenticated;
}

/// Reports a fatal error to the scheduler and stops the driver.
void fail(driver_ptr self, const std::string& message) {
  auto& st = self->state;
  driver d{&st};
  st.sched->error(d, message, true);
  st.stopping = true;
  self->quit();
}

void send_subscribe(driver_ptr self, caf::actor master, uint64_t attempt);

/// Subscribes to `master`, authenticating first when the driver has a
/// secret: `auth_start`, then the proof of the master's nonce.
void subscribe_to(driver_ptr self, caf::actor master) {
  auto& st = self->state;
  st.master = master;
  self->monitor(master);
  auto attempt = st.attempt;
  if (st.cfg.secret.empty()) {
    send_subscribe(self, master, attempt);
    return;
  }
  auto principal = st.cfg.framework.principal;
  auto on_error = [self, attempt](caf::error& e) {
    auto& st = self->state;
    if (attempt != st.attempt || st.stopping) return;
    if (fatal_error(e)) {
      fail(self, "authentication failed: " + self->system().render(e));
      return;
    }
    if (st.master) self->demonitor(st.master);
    st.master = nullptr;
    schedule_reconnect(self);
  };
  auth::authenticate(
      self, master, st.cfg.request_timeout, principal, st.cfg.secret, "framework",
      [self, master, attempt] {
        if (attempt != self->state.attempt || self->state.stopping) return;
        send_subscribe(self, master, attempt);
      },
      on_error);
}

void send_subscribe(driver_ptr self, caf::actor master, uint64_t attempt) {
  auto& st = self->state;
  framework_info info = st.cfg.framework;
  info.id = st.framework_id;
  self->request(master, st.cfg.request_timeout, subscribe{info})
      .then(
          [self, attempt](subscribed& s) {
            auto& st = self->state;
            if (attempt != st.attempt || st.stopping) return;
            if (s.epoch >= 0 && s.epoch < st.leader_epoch) {
              // A master that no longer leads answered: follow the leader.
              lose_master(self, "subscribed by a master of an older epoch");
              return;
            }
            st.leader_epoch = std::max(st.leader_epoch, s.epoch);
            st.framework_id = s.framework_id;
            st.connected = true;
            st.backoff = std::chrono::milliseconds{0};
            st.heartbeat_interval = std::chrono::milliseconds{s.heartbeat_interval_ms};
            st.last_heartbeat = self->clock().now();
            if (st.heartbeat_interval.count() > 0 && st.cfg.max_missed_heartbeats > 0)
              self->delayed_send(self, watchdog_period(st), watchdog_atom::value, attempt);
            driver d{&st};
            st.sched->subscribed(d, s.framework_id);
          },
          [self, attempt](caf::error& e) {
            auto& st = self->state;
            if (attempt != st.attempt || st.stopping) return;
            if (fatal_error(e)) {
              fail(self, self->system().render(e));
              return;
            }
            if (st.master) self->demonitor(st.master);
            st.master = nullptr;
            schedule_reconnect(self);
          });
}

void connect(driver_ptr self) {
  auto& st = self->state;
  if (st.stopping) return;
  if (st.follower && !st.leader_known) return;  // waiting for a leader
  if (st.cfg.master) {
    subscribe_to(self, st.cfg.master);
    return;
  }
  auto mm = protocol::connector(self->system());
  auto attempt = st.attempt;
  self->request(mm, std::chrono::seconds{10}, caf::connect_atom::value, st.cfg.master_host,
                st.cfg.master_port)
      .then(
          [self, attempt](const caf::node_id&, caf::strong_actor_ptr& ptr,
                          const std::set<std::string>&) {
            if (attempt != self->state.attempt) return;
            if (!ptr) {
              schedule_reconnect(self);
              return;
            }
            self->state.last_connect_error.clear();
            subscribe_to(self, caf::actor_cast<caf::actor>(ptr));
          },
          [self, attempt](const caf::error& err) {
            auto& st = self->state;
            if (attempt != st.attempt) return;
            auto why = protocol::explain_connect_error(self->system(), st.cfg.master_host,
                                                       st.cfg.master_port, err);
            auto text = "cannot connect to the master " + st.cfg.master_host + ":" +
                        std::to_string(st.cfg.master_port) + ": " + why.message;
            if (why.tls_refused) {
              // One side does not accept the other's certificate (or the
              // master does not speak TLS): every retry with the same
              // files would fail the same way.
              driver d{&st};
              st.sched->error(d, text, true);
              st.stopping = true;
              self->quit();
              return;
            }
            if (text != st.last_connect_error) {
              std::cerr << "agora-scheduler: " << text << " (retrying)\n";
              st.last_connect_error = text;
            }
            schedule_reconnect(self);
          });
}

caf::behavior driver_behavior(driver_ptr self, driver_config cfg,
                              std::shared_ptr<scheduler> sched) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.sched = std::move(sched);
  st.self = self;
  st.framework_id = st.cfg.framework.id;
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.master || dm.source != st.master.address()) return;
    self->state.master = nullptr;
    lose_master(self, "connection closed");
  });
  if (!st.cfg.master && !st.cfg.master_url.empty()) {
    std::string error;
    st.follower = discovery::master_follower::start(st.cfg.master_url, self, error);
    if (!st.follower) {
      std::cerr << "agora-scheduler: cannot follow the master " << st.cfg.master_url << ": "
                << error << "\n";
      st.stopping = true;
      self->quit();
      return {};
    }
  } else {
    connect(self);
  }
  return {
      [self](discovery::master_changed& m) {
        auto& st = self->state;
        if (self->current_sender() || st.stopping) return;  // from our follower only
        st.leader_known = m.known;
        if (!m.known) return;
        st.leader_epoch = std::max(st.leader_epoch, m.leader.epoch);
        if (st.master && st.cfg.master_host == m.leader.actor_host &&
            st.cfg.master_port == m.leader.actor_port)
          return;
        st.cfg.master_host = m.leader.actor_host;
        st.cfg.master_port = m.leader.actor_port;
        // A new leader: no reason to wait the backoff grown against the old.
        st.backoff = std::chrono::milliseconds{0};
        if (st.master || st.connected) {
          lose_master(self, "the leading master changed");
          return;  // reconnects after the backoff
        }
        ++st.attempt;
        connect(self);
      },
      [self](reconnect_atom, uint64_t attempt) {
        if (attempt == self->state.attempt) connect(self);
      },
      [self](offers_msg& m) {
        if (!from_master(self, m.epoch)) return;
        driver d{&self->state};
        self->state.sched->offers(d, m.offers);
      },
      [self](rescind_offer& m) {
        if (!from_master(self, m.epoch)) return;
        driver d{&self->state};
        self->state.sched->rescinded(d, m.offer_id);
      },
      [self](status_update& m) {
        if (!from_master(self, m.epoch)) return;
        auto& st = self->state;
        driver d{&st};
        st.sched->update(d, m.status);
        if (st.cfg.auto_acknowledge) d.acknowledge(m.status);
      },
      [self](framework_error& m) {
        if (!from_master(self, m.epoch)) return;
        driver d{&self->state};
        self->state.sched->error(d, m.message, m.fatal);
        if (m.fatal) d.stop();
      },
      [self](heartbeat& m) {
        // Relayed by the master's proxy of this framework.
        if (self->state.connected && from_master(self, m.epoch))
          self->state.last_heartbeat = self->clock().now();
      },
      [self](watchdog_atom, uint64_t attempt) {
        auto& st = self->state;
        if (attempt != st.attempt || !st.connected || st.stopping) return;
        auto silence = self->clock().now() - st.last_heartbeat;
        if (silence < st.heartbeat_interval * st.cfg.max_missed_heartbeats) {
          self->delayed_send(self, watchdog_period(st), watchdog_atom::value, attempt);
          return;
        }
        lose_master(
            self, "no heartbeat for " +
                      std::to_string(
                          std::chrono::duration_cast<std::chrono::milliseconds>(silence).count()) +
                      "ms");
      },
      // Commands from a user actor (see the actor-based `spawn_driver`).
      [self](protocol::accept& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](protocol::decline& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](kill_task& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](protocol::revive& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](protocol::suppress& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](protocol::acknowledge& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](protocol::reconcile& m) {
        m.framework_id = self->state.framework_id;
        self->state.to_master(std::move(m));
      },
      [self](protocol::teardown&) { do_teardown(self->state); },
  };
}

/// Adapts the callback interface to a user actor.
class actor_forwarder final : public scheduler {
 public:
  explicit actor_forwarder(caf::actor user) : user_(std::move(user)) {}
  void subscribed(driver& d, const std::string& id) override {
    send(d, protocol::subscribed{id, 0, -1});
  }
  void offers(driver& d, const std::vector<offer>& xs) override { send(d, offers_msg{xs}); }
  void rescinded(driver& d, const std::string& id) override { send(d, rescind_offer{id}); }
  void update(driver& d, const task_status& s) override { send(d, status_update{s}); }
  void disconnected(driver& d) override { send(d, disconnected_msg{}); }
  void error(driver& d, const std::string& message, bool fatal) override {
    send(d, framework_error{message, fatal});
  }

 private:
  template <class T>
  void send(driver&, T msg) {
    caf::anon_send(user_, std::move(msg));
  }
  caf::actor user_;
};

}  // namespace

caf::actor spawn_driver(caf::actor_system& sys, driver_config cfg,
                        std::shared_ptr<scheduler> sched) {
  // As Mesos' scheduler driver: tasks run as the user running the
  // framework unless it names another (agents with `--switch-user`).
  if (cfg.framework.user.empty()) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
      cfg.framework.user = pw.pw_name;
  }
  return sys.spawn([cfg = std::move(cfg), sched](driver_ptr self) mutable {
    return driver_behavior(self, std::move(cfg), std::move(sched));
  });
}

caf::actor spawn_driver(caf::actor_system& sys, driver_config cfg, caf::actor user) {
  // Updates are acknowledged by the driver after the user actor got them.
  return spawn_driver(sys, std::move(cfg), std::make_shared<actor_forwarder>(std::move(user)));
}

}  // namespace agora::scheduler
